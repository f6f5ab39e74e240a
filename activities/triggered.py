"""The activity behind CampaignTriggerWorkflow: a batch of events that matched one
event-triggered campaign, sent as one campaign page whose members are the endpoints that
reported them.

Each event is its own trigger: its own targeting record (Limits count it), its own idempotency
key (`campaign-{app}-{campaign}/{trigger}/{endpoint}`, the trigger a hash of endpoint and event),
and one row in `trigger_outcomes`: claimed (PENDING, owned by the workflow that got it first),
then its outcome — SENT, a filter's metric, or MAXIMUM_DELAY_EXCEEDED when the message could not
go out within the allowed delay. A trigger handed over twice at once is acted on by its owner
only, and only an outcome recorded for the first time is counted in the campaign's
ExecutionMetrics, so neither a second hand-over nor a retry after a crash sends or counts twice.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.campaigns import (
    MAX_ATTEMPTS,
    SEND_CONCURRENCY,
    SETUP_SECONDS,
    SUB_BATCH,
    CampaignActivities,
    _instant,
    _PagePlan,
    activity_id,
    allocation_of,
    targets,
)
from rules.settings import effective_hook
from store import apps as apps_store
from store import campaigns as campaigns_store
from store import endpoints as endpoints_store
from store import outbox, segment_sql
from workflows.campaign import SEND_TRIGGERED, RunRef, TriggerBatch, TriggeredEvent
from workflows.shared import SUCCESSFUL, DeliveryBatch, DeliveryResult

EXPIRED = "MAXIMUM_DELAY_EXCEEDED"


def trigger_key(event: TriggeredEvent) -> str:
    return hashlib.sha256(f"{event.endpoint_id}/{event.event_id}".encode()).hexdigest()[:32]


@dataclass
class _Setup:
    found: dict[str, Any]
    segment: Any
    treatments: list[Any]
    app: dict[str, Any]


class TriggeredSends:
    def __init__(self, campaigns: CampaignActivities) -> None:
        self._c = campaigns
        # What every event of a campaign needs (definition, segment, treatments, project), kept
        # briefly: under a stream of events the same few campaigns are read again and again.
        self._setups: dict[tuple[str, str], tuple[float, _Setup | None]] = {}

    async def _setup(self, conn: Any, app_id: str, campaign_id: str) -> _Setup | None:
        cached = self._setups.get((app_id, campaign_id))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await campaigns_store.definition(conn, app_id, campaign_id)
        setup: _Setup | None = None
        if found is not None and found["state"] not in ("DELETED", "COMPLETED"):
            definition = found["definition"]
            segment = await segment_sql.load_definition(
                conn, app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            app = await apps_store.get(conn, app_id)
            treatments = await self._c._treatments(conn, app_id, definition, app.get("settings") or {})
            setup = _Setup(found, segment, treatments, app)
        self._setups[(app_id, campaign_id)] = (time.monotonic() + SETUP_SECONDS, setup)
        return setup

    @activity.defn(name=SEND_TRIGGERED)
    async def send_triggered(self, batch: TriggerBatch) -> dict[str, int]:
        """How many triggers of the batch ended how (SENT, or why not)."""
        now = datetime.now(UTC)
        max_delay = timedelta(seconds=batch.max_delay_seconds)
        outcomes: dict[str, tuple[TriggeredEvent, str]] = {}
        fresh: list[TriggeredEvent] = []
        # The same event twice in one batch (a retried PutEvents): one trigger. And a trigger
        # that another workflow claimed first (handed over twice at once) is left to it.
        events = list({trigger_key(e): e for e in batch.events}.values())
        owner = activity.info().workflow_id or ""
        async with self._c._engine.begin() as conn:
            mine = await outbox.claim_triggers(
                conn, batch.app_id, batch.campaign_id, owner, [(trigger_key(e), e.endpoint_id) for e in events]
            )
        events = [e for e in events if trigger_key(e) in mine]
        for event in events:
            if batch.expire or now - _instant(event.event_time) > max_delay:
                outcomes[trigger_key(event)] = (event, EXPIRED)
            else:
                fresh.append(event)
        engine = self._c._engine
        plans: list[tuple[TriggeredEvent, _PagePlan]] = []
        run: RunRef | None = None
        setup: _Setup | None = None
        members: set[str] = set()
        rows: dict[str, Any] = {}
        history: dict[str, tuple[int, int]] = {}
        if fresh:
            async with engine.connect() as conn:
                setup = await self._setup(conn, batch.app_id, batch.campaign_id)
                if setup is None or setup.found["definition"].get("IsPaused"):
                    reason = "CAMPAIGN_GONE" if setup is None else "PAUSED"
                    outcomes.update((trigger_key(e), (e, reason)) for e in fresh)
                    fresh = []
                else:
                    ids = sorted({e.endpoint_id for e in fresh})
                    members = await segment_sql.members(conn, batch.app_id, setup.segment, ids, now=now)
                    rows = {r["id"]: r for r in await endpoints_store.get_many(conn, batch.app_id, ids)}
                    run = RunRef(batch.app_id, batch.campaign_id, 0, setup.found["version"], fresh[0].event_time)
                    history = await self._c._history(conn, run, ids)
            allocation = allocation_of(setup.found["definition"]) if setup is not None else None
            for event in fresh:
                if run is None or setup is None or event.endpoint_id not in members or event.endpoint_id not in rows:
                    outcomes[trigger_key(event)] = (event, "FILTERED_OUT_BY_SEGMENT")
                    continue
                key = trigger_key(event)
                event_run = RunRef(batch.app_id, batch.campaign_id, 0, setup.found["version"], event.event_time)
                settings = setup.app.get("settings") or {}
                plan = _PagePlan(
                    event_run, setup.found["definition"], settings, setup.treatments, history, now, key, allocation
                )
                plan.place(dict(rows[event.endpoint_id]))
                if plan.targeted:
                    # A second event of the same endpoint in this batch sees the first one's
                    # targeting (Daily and Total limits).
                    life, day = history.get(event.endpoint_id, (0, 0))
                    history[event.endpoint_id] = (life + 1, day + 1)
                plans.append((event, plan))
        if setup is not None and plans:
            # The campaign's FILTER hook judges the batch's endpoints in one call per treatment.
            settings = setup.app.get("settings") or {}
            hook = effective_hook(setup.found["definition"].get("Hook"), settings.get("CampaignHook"))
            if hook is not None and hook[1] == "FILTER":
                last_attempt = activity.info().attempt >= MAX_ATTEMPTS
                await self._c._filter_through_hook(hook[0], [p for _, p in plans], setup.treatments, last_attempt)
        results = await self._send(plans)
        for event, plan in plans:
            key = trigger_key(event)
            sent = results.get(key)
            if sent is not None:
                outcome = "SENT" if sent.delivery_status == SUCCESSFUL else sent.delivery_status
            else:
                reasons = [k for c in plan.by_treatment.values() for k in c.metrics if k != "ENDPOINT_PRODUCED"]
                outcome = reasons[0] if reasons else "NOT_SENT"
            outcomes[key] = (event, outcome)
        await self._count(batch, setup, plans, outcomes, results)
        return dict(Counter(outcome for _, outcome in outcomes.values()))

    async def _send(self, plans: list[tuple[TriggeredEvent, _PagePlan]]) -> dict[str, DeliveryResult]:
        """Every plan's messages in sub-batches per (treatment, channel) through the one delivery
        path; the results by trigger key."""
        merged: dict[tuple[str, str], DeliveryBatch] = {}
        owner: dict[str, str] = {}  # idempotency key -> trigger key
        for event, plan in plans:
            for treatment, b in plan.batches:
                into = merged.get((treatment, b.channel))
                if into is None:
                    merged[(treatment, b.channel)] = into = DeliveryBatch(**{**b.__dict__, "recipients": []})
                into.recipients.extend(b.recipients)
                owner.update((r.key, trigger_key(event)) for r in b.recipients)
        # Spread over the sends in flight a page may have, so the last event of a batch does not
        # wait for all the others on one connection.
        size = min(SUB_BATCH, max(10, -(-sum(len(b.recipients) for b in merged.values()) // SEND_CONCURRENCY)))
        batches = [
            (treatment, DeliveryBatch(**{**b.__dict__, "recipients": b.recipients[i : i + size]}))
            for (treatment, _), b in merged.items()
            for i in range(0, len(b.recipients), size)
        ]
        if not batches:
            return {}
        done, transient = await self._c._send(batches, activity.info().attempt >= MAX_ATTEMPTS)
        if transient:
            raise ApplicationError(f"transient provider error: {transient[0].message}", type="TransientDeliveryError")
        return {owner[r.key]: r for _, r in done}

    async def _count(
        self,
        batch: TriggerBatch,
        setup: _Setup | None,
        plans: list[tuple[TriggeredEvent, _PagePlan]],
        outcomes: dict[str, tuple[TriggeredEvent, str]],
        results: dict[str, DeliveryResult],
    ) -> None:
        """Targeting, outcomes and the campaign's counts in one transaction, each trigger once."""
        async with self._c._engine.begin() as conn:
            if setup is None:
                found = await campaigns_store.definition(conn, batch.app_id, batch.campaign_id)
                if found is None:
                    return  # the campaign is gone: nothing to count against
                definition, version = found["definition"], found["version"]
            else:
                definition, version = setup.found["definition"], setup.found["version"]
            first = await outbox.finish_triggers(
                conn,
                batch.app_id,
                batch.campaign_id,
                activity.info().workflow_id or "",
                [(key, outcome) for key, (_, outcome) in outcomes.items()],
            )
            if not first:
                return
            start = RunRef(batch.app_id, batch.campaign_id, 0, version, next(iter(outcomes.values()))[0].event_time)
            await self._c.start_event_activities(conn, start, definition)
            targeted = [row for event, plan in plans if trigger_key(event) in first for row in plan.targeted]
            if targeted:
                await conn.execute(insert(targets).values(targeted).on_conflict_do_nothing())
            totals: dict[str, tuple[int, int, Counter[str]]] = {}
            for event, plan in plans:
                key = trigger_key(event)
                if key not in first:
                    continue
                sent = results.get(key)
                for treatment, counts in plan.by_treatment.items():
                    total, ok, metrics = totals.setdefault(treatment, (0, 0, Counter()))
                    metrics.update(counts.metrics)
                    success = int(sent is not None and sent.delivery_status == SUCCESSFUL)
                    if sent is not None and sent.delivery_status != SUCCESSFUL:
                        metrics[sent.delivery_status] += 1
                    totals[treatment] = (total + counts.total, ok + success, metrics)
            # Triggers that never reached a plan (expired, paused, out of the segment) count
            # against the default treatment: they were never assigned one.
            planned = {trigger_key(e) for e, _ in plans}
            unplanned = Counter(
                outcome for key, (_, outcome) in outcomes.items() if key in first and key not in planned
            )
            if unplanned:
                total, ok, metrics = totals.setdefault("0", (0, 0, Counter()))
                metrics.update(unplanned)
            for treatment, (total, ok, metrics) in totals.items():
                await outbox.add_event_counts(
                    conn,
                    batch.app_id,
                    batch.campaign_id,
                    activity_id(batch.campaign_id, 0, treatment),
                    total=total,
                    successful=ok,
                    metrics=dict(metrics),
                )
