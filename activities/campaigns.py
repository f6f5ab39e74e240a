"""The campaign workflow's activities: planning runs, and sending a run page by page.

A page is up to `PAGE_SIZE` segment members, read as they are at that moment. Each member is
either filtered out with an execution metric (holdout, opted out, inactive, no content for its
channel, a limit reached, MaximumDuration passed), targeted but held back by quiet time, or
targeted and sent. Targeting is recorded (`campaign_targets`) before sending, since Pinpoint's
Total and Daily limits count targeting. Sends go through the one delivery mechanism
(channels/deliverer.py) in parallel sub-batches, each message under the idempotency key
`campaign-{app}-{campaign}/{run}/{endpoint}`: a page retried after a crash skips what went out.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from channels.custom import CustomChannel, HookFailed
from channels.deliverer import Deliverer, TransientDeliveryError, beat
from channels.webhook import event_endpoint
from rules import limits as limit_rules
from rules import quiet_time, schedules, treatments
from rules.campaigns import own_schedules
from rules.endpoints import endpoint_response
from rules.messages import Template, campaign_content, template_ref
from rules.segments import parse_instant
from rules.settings import effective_hook
from store import apps as apps_store
from store import campaigns as campaigns_store
from store import channels as channels_store
from store import segment_sql
from store import templates as templates_store
from store.tables import Campaign, CampaignActivity, CampaignTarget
from wire.codec import iso
from workflows.campaign import (
    FINISH_RUN,
    LOCAL_WAVES,
    PLAN_RUN,
    SEND_PAGE,
    START_RUN,
    CampaignInput,
    FinishRequest,
    PageRequest,
    PageResult,
    RunPlan,
    RunRef,
    TreatmentCounts,
    Wave,
)
from workflows.shared import SUCCESSFUL, DeliveryBatch, DeliveryResult, Recipient

campaigns = Campaign.__table__  # type: ignore[attr-defined]
activities_table = CampaignActivity.__table__  # type: ignore[attr-defined]
targets = CampaignTarget.__table__  # type: ignore[attr-defined]

PAGE_SIZE = 1000
SUB_BATCH = 100
SEND_CONCURRENCY = 8
MAX_ATTEMPTS = 5
PLANNING_GRACE = timedelta(seconds=60)
SETUP_SECONDS = 1.0  # an event-triggered campaign's change takes effect within this
RECURRING = frozenset({"HOURLY", "DAILY", "WEEKLY", "MONTHLY"})


def activity_id(campaign_id: str, run_number: int, treatment_id: str) -> str:
    """The Id of one run of one treatment (ActivityResponse.Id), the same on every retry."""
    return hashlib.sha256(f"{campaign_id}/{run_number}/{treatment_id}".encode()).hexdigest()[:32]


def treatment_ids(definition: dict[str, Any]) -> list[str]:
    return ["0"] + [t["Id"] for t in definition.get("AdditionalTreatments") or []]


def group_treatments(definition: dict[str, Any], group: str | None) -> list[str]:
    """The treatments one schedule group sends: a treatment with its own Schedule alone, or
    (group None) the default treatment and every treatment on the campaign's Schedule."""
    own = own_schedules(definition)
    if group is not None:
        return [group] if group in own else []
    return [t for t in treatment_ids(definition) if t not in own]


def group_schedule(definition: dict[str, Any], group: str | None) -> dict[str, Any] | None:
    if group is None:
        return definition.get("Schedule") or {}
    own = own_schedules(definition).get(group)
    return None if own is None else {**(definition.get("Schedule") or {}), **own}


def _instant(value: str) -> datetime:
    """An ISO instant; one without an offset is UTC, as the campaign API reads it."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass
class _Treatment:
    """One treatment's sending setup for a run: its message, templates and channel content."""

    id: str
    config: dict[str, Any]
    templates: dict[str, Any]
    custom_uri: str | None
    custom_types: frozenset[str] | None
    contents: dict[str, dict[str, Any] | None]


class CampaignActivities:
    def __init__(self, engine: AsyncEngine, deliverer: Deliverer, hooks: CustomChannel | None = None) -> None:
        self._engine = engine
        self._deliverer = deliverer
        self._hooks = hooks  # calls CampaignHooks (web URLs and Lambda functions)

    # -- planning -----------------------------------------------------------------------------
    @activity.defn(name=PLAN_RUN)
    async def plan_run(self, request: CampaignInput) -> RunPlan:
        """The next run (or none), and the State that says so."""
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, request.app_id, request.campaign_id)
            if found is None:
                return RunPlan("done")
            definition = found["definition"]
            group_own = group_schedule(definition, request.treatment)
            if group_own is None:  # the treatment no longer has a schedule of its own
                return RunPlan("done")
            schedule = group_own
            frequency = schedule.get("Frequency", "ONCE")
            if frequency not in RECURRING and frequency != "ONCE":
                return RunPlan("done")  # EVENT campaigns are driven by PutEvents
            at = await self._next_run_time(conn, request, schedule, frequency)
            if at is None:
                running = await conn.scalar(
                    select(func.count()).where(
                        activities_table.c.app_id == request.app_id,
                        activities_table.c.campaign_id == request.campaign_id,
                        activities_table.c.state == "RUNNING",
                    )
                )
                # A local-time run still rolling, or another schedule group with runs ahead,
                # completes the campaign later.
                if not running and not self._groups_ahead(definition, request):
                    await campaigns_store.set_state(conn, request.app_id, request.campaign_id, "COMPLETED")
                return RunPlan("done")
            state = "SCHEDULED" if request.run_number == 0 else "PENDING_NEXT_RUN"
            if found["state"] not in ("DELETED", "INVALID"):
                await campaigns_store.set_state(conn, request.app_id, request.campaign_id, state)
            return RunPlan(
                "run",
                at.isoformat(),
                found["version"],
                bool(definition.get("IsPaused")),
                bool(schedule.get("IsLocalTime")),
                definition.get("Priority"),
            )

    @staticmethod
    def _groups_ahead(definition: dict[str, Any], request: CampaignInput) -> bool:
        now = _instant(request.now) if request.now else datetime.now(UTC)
        groups: list[str | None] = [None, *own_schedules(definition)]
        for group in groups:
            schedule = group_schedule(definition, group)
            if group == request.treatment or not schedule or schedule.get("StartTime") == "IMMEDIATE":
                continue
            if schedule.get("Frequency", "ONCE") in (*RECURRING, "ONCE") and schedules.next_run(schedule, after=now):
                return True
        return False

    async def _next_run_time(
        self, conn: Any, request: CampaignInput, schedule: dict[str, Any], frequency: str
    ) -> datetime | None:
        created = await conn.scalar(
            select(campaigns.c.created_at).where(
                campaigns.c.app_id == request.app_id, campaigns.c.id == request.campaign_id
            )
        )
        schedule = schedules.resolve_start(schedule, created=(created or datetime.now(UTC)).astimezone(UTC))
        if request.last_run_at:
            after = _instant(request.last_run_at)
        else:
            start = parse_instant(schedule["StartTime"])
            assert start is not None  # the API refuses any other StartTime
            after = start - timedelta(microseconds=1)
        run = schedules.next_run(schedule, after=after)
        if run is None or request.now is None or (request.last_run_at is None and request.run_number == 0):
            return run
        # Occurrences already past when planning (the schedule was changed, or a run outlasted
        # the interval) are not sent after the fact. A run planned earlier and delayed by a
        # worker outage is not affected: its timer fires late and it runs.
        earliest = _instant(request.now) - PLANNING_GRACE
        for _ in range(100_000):
            if run is None or run >= earliest:
                break
            run = schedules.next_run(schedule, after=run)
        return run

    # -- a run ----------------------------------------------------------------------------------
    @activity.defn(name=START_RUN)
    async def start_run(self, run: RunRef) -> None:
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:
                return
            rows = [
                {
                    "app_id": run.app_id,
                    "campaign_id": run.campaign_id,
                    "id": activity_id(run.campaign_id, run.run_number, t),
                    "run_number": run.run_number,
                    "treatment_id": t,
                    "campaign_version": run.version,
                    "scheduled_start": _instant(run.scheduled_start),
                    "started_at": datetime.now(UTC),
                    "state": "RUNNING",
                }
                for t in group_treatments(found["definition"], run.treatment)
            ]
            if rows:
                await conn.execute(insert(activities_table).values(rows).on_conflict_do_nothing())
            await campaigns_store.set_state(conn, run.app_id, run.campaign_id, "EXECUTING")

    @activity.defn(name=LOCAL_WAVES)
    async def local_waves(self, run: RunRef) -> list[Wave]:
        """A local-time run's waves: the segment's time zones grouped by when their clocks reach
        the run's wall clock (in Schedule.Timezone). Endpoints without a valid zone are in no
        wave: Pinpoint does not message them."""
        async with self._engine.connect() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:
                return []
            definition = found["definition"]
            segment = await segment_sql.load_definition(
                conn, run.app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            zones = await segment_sql.time_zones(conn, run.app_id, segment, now=_instant(run.scheduled_start))
        wall = schedules.run_wall_clock(definition.get("Schedule") or {}, _instant(run.scheduled_start))
        return [Wave(at.isoformat(), names) for at, names in schedules.timezone_waves(wall, zones)]

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, request: FinishRequest) -> None:
        run = request.run
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            ids = group_treatments(found["definition"], run.treatment) if found else list(request.counts)
            for t in ids:
                counts = request.counts.get(t, TreatmentCounts())
                await conn.execute(
                    update(activities_table)
                    .where(
                        activities_table.c.app_id == run.app_id,
                        activities_table.c.campaign_id == run.campaign_id,
                        activities_table.c.id == activity_id(run.campaign_id, run.run_number, t),
                    )
                    .values(
                        state="COMPLETED",
                        result="SUCCESS",
                        ended_at=func.now(),
                        total_endpoint_count=counts.total,
                        successful_endpoint_count=counts.successful,
                        execution_metrics={k: str(v) for k, v in counts.metrics.items()},
                        timezones_total_count=request.timezones,
                        timezones_completed_count=request.timezones,
                    )
                )
            if found is not None:
                schedule = group_schedule(found["definition"], run.treatment) or {}
                more = schedule.get("Frequency", "ONCE") in RECURRING and (
                    schedules.next_run(schedule, after=_instant(run.scheduled_start)) is not None
                )
                await campaigns_store.set_state(
                    conn, run.app_id, run.campaign_id, "PENDING_NEXT_RUN" if more else "COMPLETED"
                )

    async def start_event_activities(self, conn: Any, run: RunRef, definition: dict[str, Any]) -> None:
        """An event-triggered campaign reports its sends as one running activity per treatment."""
        rows = [
            {
                "app_id": run.app_id,
                "campaign_id": run.campaign_id,
                "id": activity_id(run.campaign_id, 0, t),
                "run_number": 0,
                "treatment_id": t,
                "campaign_version": run.version,
                "scheduled_start": _instant(run.scheduled_start),
                "started_at": datetime.now(UTC),
                "state": "RUNNING",
            }
            for t in treatment_ids(definition)
        ]
        await conn.execute(insert(activities_table).values(rows).on_conflict_do_nothing())

    @activity.defn(name=SEND_PAGE)
    async def send_page(self, request: PageRequest) -> PageResult:
        run = request.run
        last_attempt = activity.info().attempt >= MAX_ATTEMPTS
        started = time.monotonic()
        async with self._engine.connect() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:  # deleted while running: stop here
                return PageResult(None)
            definition = found["definition"]
            app = await apps_store.get(conn, run.app_id)
            segment = await segment_sql.load_definition(
                conn, run.app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            rows = await segment_sql.resolve_rows(
                conn,
                run.app_id,
                segment,
                after=request.after,
                limit=PAGE_SIZE,
                now=_instant(request.now),
                zones=request.zones,
            )
            setups = await self._treatments(conn, run.app_id, definition, app.get("settings") or {})
            history = await self._history(conn, run, [r["id"] for r in rows])
        plan = _PagePlan(run, definition, app.get("settings") or {}, setups, history, _instant(request.now))
        for row in rows:
            plan.place(dict(row))
        hook = effective_hook(definition.get("Hook"), (app.get("settings") or {}).get("CampaignHook"))
        if hook is not None and hook[1] == "FILTER":
            await self._filter_through_hook(hook[0], [plan], setups, last_attempt)
        async with self._engine.begin() as conn:
            if plan.targeted:
                await conn.execute(insert(targets).values(plan.targeted).on_conflict_do_nothing())
        results, transient = await self._send(plan.batches, last_attempt)
        if transient:
            raise ApplicationError(
                f"{len(transient)} messages hit a transient provider error: {transient[0].message}",
                type="TransientDeliveryError",
            )
        for treatment, result in results:
            if result.delivery_status == SUCCESSFUL:
                plan.counts(treatment).successful += 1
            else:
                # Every targeted message that did not go out is counted by its outcome, so the
                # run's ExecutionMetrics account for all of TotalEndpointCount: UNKNOWN_FAILURE
                # is a message a killed worker was handing over (it may or may not have arrived).
                plan.count_failure(treatment, result.delivery_status)
        await _pace(plan.sent, limit_rules_mps(definition, app.get("settings") or {}), started)
        next_after = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
        return PageResult(next_after, plan.by_treatment)

    async def _filter_through_hook(
        self, target: str, plans: list[_PagePlan], setups: list[_Treatment], last_attempt: bool
    ) -> None:
        """CampaignHook in FILTER mode: the hook (a Lambda function or a web URL) gets each
        treatment's recipients of the page (or of a batch of event triggers) as Pinpoint sent
        them to a Lambda, and answers the endpoints to send to (it may change their data, which
        the message then renders)."""
        if self._hooks is None or not plans:
            return
        run = plans[0].run
        functions = await self._deliverer.channel_config(run.app_id, "CUSTOM")  # the project's AWS keys
        configs = {s.id: s.config for s in setups}
        members: dict[str, list[tuple[_PagePlan, Recipient]]] = {}
        for plan in plans:
            for treatment, recipients in plan.recipients_by_treatment().items():
                members.setdefault(treatment, []).extend((plan, r) for r in recipients)
        for treatment, pairs in members.items():
            body = {
                "MessageConfiguration": configs.get(treatment, {}),
                "ApplicationId": run.app_id,
                "CampaignId": run.campaign_id,
                "TreatmentId": treatment,
                "ActivityId": activity_id(run.campaign_id, run.run_number, treatment),
                "ScheduledTime": run.scheduled_start,
                "Endpoints": {r.endpoint_id: event_endpoint(r.endpoint.get("ChannelType") or "", r) for _, r in pairs},
            }
            answer: dict[str, Any] = {}
            metric = "HOOK_FAILURE"  # nothing is sent to endpoints the hook could not judge, as in Pinpoint
            try:
                answer, metric = await self._hooks.call_hook(target, body, functions), "FILTERED_BY_HOOK"
            except HookFailed as e:
                activity.logger.warning("campaign hook failed: %s", e)
            except TransientDeliveryError as e:
                if not last_attempt:
                    raise ApplicationError(str(e), type="TransientDeliveryError") from None
            for plan in {id(p): p for p, _ in pairs}.values():
                plan.keep(treatment, answer, metric)

    async def _treatments(
        self, conn: Any, app_id: str, definition: dict[str, Any], app_settings: dict[str, Any]
    ) -> list[_Treatment]:
        custom = definition.get("CustomDeliveryConfiguration")
        hook = effective_hook(definition.get("Hook"), app_settings.get("CampaignHook"))
        if hook is not None and hook[1] == "DELIVERY":
            # The hook delivers instead of the channels (Pinpoint's DELIVERY mode, the custom
            # channel's ancestor): every endpoint goes to it as to a custom channel.
            custom = {"DeliveryUri": hook[0], "Hook": True}
        out = []
        for t in [{**definition, "Id": "0"}, *(definition.get("AdditionalTreatments") or [])]:
            own_custom = custom if custom and custom.get("Hook") else t.get("CustomDeliveryConfiguration") or custom
            out.append(
                _Treatment(
                    id=t["Id"],
                    config=t.get("MessageConfiguration") or {},
                    templates=t.get("TemplateConfiguration") or {},
                    custom_uri=(own_custom or {}).get("DeliveryUri"),
                    custom_types=frozenset(own_custom["EndpointTypes"])
                    if own_custom and own_custom.get("EndpointTypes")
                    else None,
                    contents={},
                )
            )
        channels = {row["channel_type"]: row for row in await channels_store.all_of(conn, app_id) if row["enabled"]}
        for setup in out:
            for channel in ("EMAIL", "SMS", "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "CUSTOM"):
                if channel != "CUSTOM" and channel not in channels:
                    setup.contents[channel] = None
                    continue
                template = None
                ref = template_ref(setup.templates, channel)
                if ref is not None:
                    found = await templates_store.resolve(conn, *ref)
                    if found is not None:
                        template = Template(found["name"], found["content"], found["default_substitutions"])
                content = campaign_content(setup.config, channel, template, setup.custom_uri)
                if content is not None and channel == "CUSTOM" and custom and custom.get("Hook"):
                    content["message_configuration"] = setup.config
                if content is not None and channel == "EMAIL":
                    content["from"] = content.get("from") or channels["EMAIL"]["settings"].get("FromAddress")
                setup.contents[channel] = content
        return out

    async def _history(self, conn: Any, run: RunRef, endpoint_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(targeted over the campaign's life, targeted in the last 24 h) per endpoint, this run
        excluded (a retried page must not count its own first attempt)."""
        if not endpoint_ids:
            return {}
        this_run = [activity_id(run.campaign_id, run.run_number, t) for t in ("0", "1", "2", "3", "4")]
        # The run's own time, not the clock: runs exactly 24 h apart do not count each other.
        day_ago = _instant(run.scheduled_start) - timedelta(days=1)
        result = await conn.execute(
            select(
                targets.c.endpoint_id,
                func.count(),
                func.count().filter(targets.c.targeted_at > day_ago),
            )
            .where(
                targets.c.app_id == run.app_id,
                targets.c.campaign_id == run.campaign_id,
                targets.c.endpoint_id.in_(list(endpoint_ids)),
                targets.c.activity_id.not_in(this_run),
            )
            .group_by(targets.c.endpoint_id)
        )
        return {r[0]: (r[1], r[2]) for r in result}

    async def _send(
        self, batches: list[tuple[str, DeliveryBatch]], last_attempt: bool
    ) -> tuple[list[tuple[str, DeliveryResult]], list[TransientDeliveryError]]:
        gate = asyncio.Semaphore(SEND_CONCURRENCY)
        results: list[tuple[str, DeliveryResult]] = []
        transient: list[TransientDeliveryError] = []

        async def one(treatment: str, batch: DeliveryBatch) -> None:
            async with gate:
                done, failed = await self._deliverer.deliver(batch, last_attempt=last_attempt)
                results.extend((treatment, r) for r in done)
                transient.extend(failed)
                beat()

        await asyncio.gather(*(one(t, b) for t, b in batches))
        return results, transient


def limit_rules_mps(definition: dict[str, Any], app_settings: dict[str, Any]) -> int | None:
    mps = (definition.get("Limits") or {}).get("MessagesPerSecond") or (app_settings.get("Limits") or {}).get(
        "MessagesPerSecond"
    )
    return int(mps) if mps else None


async def _pace(sent: int, messages_per_second: int | None, started: float) -> None:
    """MessagesPerSecond, best effort as in Pinpoint: a page takes at least sent / rate."""
    if not messages_per_second or not sent:
        return
    remaining = sent / messages_per_second - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


def allocation_of(definition: dict[str, Any]) -> Any:
    """Which cohorts go to the holdout and to each treatment."""
    return treatments.allocate(
        int(definition.get("HoldoutPercent") or 0),
        [(t["Id"], int(t["SizePercent"])) for t in definition.get("AdditionalTreatments") or []],
    )


class _PagePlan:
    """Where each member of a page goes: a metric, quiet time, or a batch."""

    def __init__(
        self,
        run: RunRef,
        definition: dict[str, Any],
        app_settings: dict[str, Any],
        setups: list[_Treatment],
        history: dict[str, tuple[int, int]],
        now: datetime,
        trigger: str | None = None,
        allocation: Any = None,  # treatments.allocate's answer, when the caller made it already
    ) -> None:
        self.run = run
        # An event-triggered send: its own targeting record and idempotency key per event.
        self.trigger = trigger
        tag = run.run_number if run.treatment is None else f"t{run.treatment}-{run.run_number}"
        self.key_prefix = f"campaign-{run.app_id}-{run.campaign_id}/{trigger or tag}"
        # The treatments this run sends (a treatment on a schedule of its own runs apart).
        self.group = set(treatment_ids(definition)) if trigger else set(group_treatments(definition, run.treatment))
        self.definition = definition
        self.setups = {s.id: s for s in setups}
        schedule = definition.get("Schedule") or {}
        self.quiet = schedule.get("QuietTime") or app_settings.get("QuietTime")
        self.limits = definition.get("Limits") or {}
        self.app_limits = app_settings.get("Limits") or {}
        self.history = history
        self.allocation = allocation or allocation_of(definition)
        self.now = now
        self.expired = not limit_rules.within_maximum_duration(self.limits, _instant(run.scheduled_start), self.now)
        self.by_treatment: dict[str, TreatmentCounts] = {}
        self.targeted: list[dict[str, Any]] = []
        self.sent = 0
        self._groups: dict[tuple[str, str], list[Recipient]] = {}

    def counts(self, treatment: str) -> TreatmentCounts:
        return self.by_treatment.setdefault(treatment, TreatmentCounts())

    def _metric(self, treatment: str, name: str) -> None:
        c = self.counts(treatment)
        c.metrics[name] = c.metrics.get(name, 0) + 1

    def count_failure(self, treatment: str, delivery_status: str) -> None:
        """A targeted message that was not delivered, under its DeliveryStatus as the key."""
        self._metric(treatment, delivery_status)

    def place(self, row: dict[str, Any]) -> None:
        treatment = treatments.treatment_for(int(row["cohort_id"]), self.allocation)
        if (treatment or "0") not in self.group:
            return  # another schedule group's endpoint
        key = treatment or "0"
        self._metric(key, "ENDPOINT_PRODUCED")
        if treatment is None:
            self._metric(key, "TREATMENT_HOLDOUT")
            return
        setup = self.setups[treatment]
        channel = row["channel_type"] or ""
        if setup.custom_uri and (setup.custom_types is None or channel in setup.custom_types):
            channel = "CUSTOM"
        reason = self._filtered(row, setup, channel)
        if reason is not None:
            self._metric(treatment, reason)
            return
        life, day = self.history.get(row["id"], (0, 0))
        if not limit_rules.may_target(self.limits, self.app_limits, sent_today=day, total_targeted=life):
            self._metric(treatment, "ENDPOINT_LIMIT_EXCEEDED")
            return
        aid = self._aid(treatment)
        self.targeted.append(
            {
                "app_id": self.run.app_id,
                "campaign_id": self.run.campaign_id,
                "endpoint_id": row["id"],
                "activity_id": aid,
                "targeted_at": _instant(self.run.scheduled_start),
            }
        )
        self.counts(treatment).total += 1
        timezone = (row["demographic"] or {}).get("Timezone")
        if quiet_time.in_quiet_time(self.quiet, timezone, self.now):
            self._metric(treatment, "QUIET_TIME")  # targeted, counted, not sent (no queueing)
            return
        self.sent += 1
        self._groups.setdefault((treatment, channel), []).append(
            Recipient(
                key=f"{self.key_prefix}/{row['id']}",
                address=row["address"],
                endpoint_id=row["id"],
                endpoint=endpoint_response(row, iso),
            )
        )

    def _filtered(self, row: dict[str, Any], setup: _Treatment, channel: str) -> str | None:
        if row["opt_out"] == "ALL":
            return "ENDPOINT_OPT_OUT"
        if row["endpoint_status"] != "ACTIVE":
            return "ENDPOINT_INACTIVE"
        if not row["channel_type"]:
            return "ENDPOINT_MISSING_CHANNEL"
        if not row["address"]:
            return "ENDPOINT_MISSING_ADDRESS"
        if setup.contents.get(channel) is None:
            return "ENDPOINT_CHANNEL_MISMATCH"
        if self.expired:
            return "MAXIMUM_DURATION_EXCEEDED"
        return None

    def recipients_by_treatment(self) -> dict[str, list[Recipient]]:
        out: dict[str, list[Recipient]] = {}
        for (treatment, _), recipients in self._groups.items():
            out.setdefault(treatment, []).extend(recipients)
        return out

    def keep(self, treatment: str, allowed: dict[str, Any], metric: str) -> None:
        """Keep only `allowed` recipients of `treatment` (their endpoint data overlaid by what
        the hook answered); the others are neither targeted nor sent."""
        dropped: set[str] = set()
        for (t, channel), recipients in list(self._groups.items()):
            if t != treatment:
                continue
            kept = []
            for r in recipients:
                data = allowed.get(r.endpoint_id or "")
                if isinstance(data, dict):
                    kept.append(replace(r, endpoint={**r.endpoint, **data}))
                else:
                    dropped.add(r.endpoint_id or "")
                    self._metric(treatment, metric)
            self._groups[(t, channel)] = kept
        counts = self.counts(treatment)
        counts.total -= len(dropped)
        self.sent -= len(dropped)
        self.targeted = [
            row
            for row in self.targeted
            if not (row["endpoint_id"] in dropped and row["activity_id"] == self._aid(treatment))
        ]

    def _aid(self, treatment: str) -> str:
        return self.trigger or activity_id(self.run.campaign_id, self.run.run_number, treatment)

    @property
    def batches(self) -> list[tuple[str, DeliveryBatch]]:
        out = []
        for (treatment, channel), recipients in self._groups.items():
            content = self.setups[treatment].contents[channel]
            assert content is not None
            attributes = {
                "campaign_id": self.run.campaign_id,
                "treatment_id": treatment,
                "campaign_activity_id": activity_id(self.run.campaign_id, self.run.run_number, treatment),
            }
            for i in range(0, len(recipients), SUB_BATCH):
                batch = DeliveryBatch(
                    app_id=self.run.app_id,
                    channel=channel,
                    source="campaign",
                    source_id=self.run.campaign_id,
                    content=content,
                    recipients=recipients[i : i + SUB_BATCH],
                    max_attempts=MAX_ATTEMPTS,
                    attributes=attributes,
                )
                out.append((treatment, batch))
        return out
