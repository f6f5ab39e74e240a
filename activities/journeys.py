"""The journey workflows' activities: planning entry, admitting a segment page, telling
participants of state changes, and the one step each participant takes per journey activity.

A step reads the journey and the participant's endpoints as they are at that moment (PINPOINT.md
§4.5: conditions use the latest data), does the activity's work, writes one `journey_steps` row
(what execution metrics and test-run traces read) and answers where to go next. Sends go through
the one delivery mechanism under the key `{participant workflow id}/{activity}/{endpoint}`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from channels.deliverer import Deliverer
from engine.journeys import ensure_search_attributes, participant_start_options
from rules import journey_timing as timing
from rules.endpoints import endpoint_response
from rules.engagement import PUSH_CHANNELS, channel_family
from rules.event_filters import matches
from rules.journey_graph import activity_type
from rules.journeys import MAX_LIFETIME
from rules.messages import Template, campaign_content
from rules.participants import Admission, participant_workflow_id
from rules.segments import parse_instant
from rules.timezones import estimate_timezone
from store import apps as apps_store
from store import channels as channels_store
from store import endpoints as endpoints_store
from store import journey_participants as participants
from store import journeys as journeys_store
from store import segment_sql
from store import templates as templates_store
from wire.codec import iso
from workflows.journey import (
    ACTIVE,
    CANCELLED,
    DELETED,
    JOURNEY_ADMIT_PAGE,
    JOURNEY_BROADCAST,
    JOURNEY_FINISH_RUN,
    JOURNEY_PLAN,
    JOURNEY_PURGE,
    PARTICIPANT_ENTER,
    PARTICIPANT_LEAVE,
    PARTICIPANT_STEP,
    PAUSED,
    STATE,
    AdmitPage,
    Broadcast,
    JourneyInput,
    JourneyParticipantWorkflow,
    JourneyPlan,
    Leave,
    PageResult,
    ParticipantInput,
    RunRef,
    StepRequest,
    StepResult,
)
from workflows.shared import SUCCESSFUL, DeliveryBatch, Recipient

PAGE_SIZE = 500
START_CONCURRENCY = 32
SIGNAL_CONCURRENCY = 32
MAX_ATTEMPTS = 5
RECENT_SECONDS = 1.0
TEMPLATE_TYPES = {"EMAIL": "EMAIL", "SMS": "SMS", "PUSH": "PUSH"}
# The channel each message activity sends on, by the endpoint's ChannelType.
_FITS: dict[str, Callable[[str], bool]] = {
    "EMAIL": lambda c: c == "EMAIL",
    "SMS": lambda c: c == "SMS",
    "PUSH": lambda c: c in PUSH_CHANNELS,
}


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_instant(str(value))
    assert parsed is not None, value
    return parsed.astimezone(UTC)


def entry_window(journey: dict[str, Any]) -> tuple[datetime, datetime]:
    """When participants may enter: Schedule.StartTime (publishing when absent) to EndTime (at
    most 540 days on, the longest a journey runs)."""
    schedule = journey["definition"].get("Schedule") or {}
    published = journey["published_at"] or journey["updated_at"]
    start = _instant(schedule["StartTime"]) if schedule.get("StartTime") else _instant(published)
    end = _instant(schedule["EndTime"]) if schedule.get("EndTime") else start + MAX_LIFETIME
    return start, min(end, start + MAX_LIFETIME)


def _earliest_local(definition: dict[str, Any], start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """LocalTime journeys: the start's wall clock is reached first at UTC+14 and the end's last
    at UTC-12; each participant's own window is applied when it is admitted."""
    if not definition.get("LocalTime"):
        return start, end
    return start - timedelta(hours=14), end + timedelta(hours=12)


class JourneyActivities:
    def __init__(
        self, engine: AsyncEngine, deliverer: Deliverer, client: Callable[[], Awaitable[Client]], task_queue: str
    ) -> None:
        self._engine = engine
        self._deliverer = deliverer
        self._client = client
        self._task_queue = task_queue
        self._pacers: dict[str, _Pacer] = {}
        self._recent: dict[tuple[str, ...], tuple[float, Any]] = {}

    # -- the journey ----------------------------------------------------------------------------
    @activity.defn(name=JOURNEY_PLAN)
    async def plan(self, request: JourneyInput) -> JourneyPlan:
        now = _instant(request.now) if request.now else datetime.now(UTC)
        async with self._engine.begin() as conn:
            journey = await journeys_store.find(conn, request.app_id, request.journey_id)
            if journey is None:
                return JourneyPlan("stop", DELETED)
            state, at = journey["state"], journey["updated_at"].isoformat()
            definition = journey["definition"]
            if state == DELETED:
                return JourneyPlan("stop", state, tell=DELETED, purge=True, state_at=at)
            if state == CANCELLED:
                await participants.end_runs(conn, request.app_id, request.journey_id, "CANCELLED")
                return JourneyPlan("stop", state, tell=None if request.told == CANCELLED else CANCELLED, state_at=at)
            if state == PAUSED:
                return JourneyPlan("hold", state, tell=None if request.told == PAUSED else PAUSED, state_at=at)
            if state != ACTIVE:
                return JourneyPlan("stop", state)  # a draft, or closed: nothing to admit
            tell = ACTIVE if request.told == PAUSED else None
            start, end = _earliest_local(definition, *entry_window(journey))
            if now >= end:
                await journeys_store.set_state(conn, request.app_id, request.journey_id, "CLOSED")
                return JourneyPlan("stop", "CLOSED", tell=tell, state_at=at)
            condition = definition.get("StartCondition") or {}
            if condition.get("EventStartCondition"):
                # PutEvents admits; the journey's one run lasts its whole window.
                await participants.ensure_run(conn, request.app_id, request.journey_id, 0, "RUNNING")
                return JourneyPlan("watch", state, at=end.isoformat(), tell=tell, state_at=at)
            due = self._next_cycle(request, definition, start, now)
            if due is None or due >= end:
                if request.run_number > 0 and not definition.get("RefreshFrequency"):
                    # Taken once at start and never refreshed: entry has ended.
                    await journeys_store.set_state(conn, request.app_id, request.journey_id, "CLOSED")
                    return JourneyPlan("stop", "CLOSED", tell=tell, state_at=at)
                return JourneyPlan("watch", state, at=end.isoformat(), tell=tell, state_at=at)
            await participants.ensure_run(conn, request.app_id, request.journey_id, request.run_number, "SCHEDULED")
            return JourneyPlan("cycle", state, at=due.isoformat(), tell=tell, state_at=at)

    @staticmethod
    def _next_cycle(
        request: JourneyInput, definition: dict[str, Any], start: datetime, now: datetime
    ) -> datetime | None:
        if request.run_number == 0:
            return start
        if request.segment_changed and definition.get("RefreshOnSegmentUpdate"):
            return now
        refresh = definition.get("RefreshFrequency")
        if not refresh or request.last_cycle_at is None:
            return None
        return _instant(request.last_cycle_at) + timing.parse_duration(refresh)

    @activity.defn(name=JOURNEY_ADMIT_PAGE)
    async def admit_page(self, request: AdmitPage) -> PageResult:
        run = request.run
        now = _instant(run.now)
        async with self._engine.begin() as conn:
            journey = await journeys_store.find(conn, run.app_id, run.journey_id)
            if journey is None or journey["state"] != ACTIVE:
                return PageResult(None)
            definition = journey["definition"]
            rid = await participants.ensure_run(conn, run.app_id, run.journey_id, run.run_number, "RUNNING")
            await participants.set_run_status(conn, run.app_id, run.journey_id, rid, "RUNNING")
            segment_id = definition["StartCondition"]["SegmentStartCondition"]["SegmentId"]
            segment = await segment_sql.load_definition(conn, run.app_id, segment_id)
            rows = await segment_sql.resolve_rows(
                conn, run.app_id, segment, after=request.after, limit=PAGE_SIZE, now=now
            )
            metrics: dict[str, int] = {}
            candidates: dict[str, ParticipantInput] = {}
            for row in rows:
                who = self._candidate(journey, dict(row), rid, run.run_number, now, metrics, candidates)
                if who is not None:
                    candidates[who.participant] = who
            admitted, refused = await participants.admit_many(
                conn,
                app_id=run.app_id,
                journey_id=run.journey_id,
                definition=definition,
                members={p: who.kind for p, who in candidates.items()},
                entry_key=f"run-{run.run_number}",
                rid=rid,
                now=now,
            )
            for reason, n in refused.items():
                metrics[reason] = metrics.get(reason, 0) + n
            await participants.count(conn, run.app_id, run.journey_id, rid, metrics)
            starts = [candidates[p] for p in admitted]
        await self._start_all(starts)
        return PageResult(rows[-1]["id"] if len(rows) == PAGE_SIZE else None, len(starts))

    @staticmethod
    def _candidate(
        journey: dict[str, Any],
        row: dict[str, Any],
        rid: str,
        run_number: int,
        now: datetime,
        metrics: dict[str, int],
        seen: dict[str, ParticipantInput],
    ) -> ParticipantInput | None:
        """A segment member as a participant to admit, or None with the metric saying why not."""

        def metric(name: str) -> None:
            metrics[name] = metrics.get(name, 0) + 1

        definition = journey["definition"]
        metric("ENDPOINT_PRODUCED")
        if row["opt_out"] == "ALL":
            metric("ENDPOINT_OPT_OUT")
            return None
        if row["endpoint_status"] != "ACTIVE":
            metric("ENDPOINT_INACTIVE")
            return None
        # A segment with user ids makes the user the participant: its endpoints move together.
        kind, participant = ("USER", row["user_id"]) if row["user_id"] else ("ENDPOINT", row["id"])
        if kind == "USER":
            metric("ENDPOINTS_FROM_USER")
            if participant in seen:
                metric("DUPLICATE_USER")
                return None
        not_before: datetime | None = None
        if definition.get("LocalTime"):
            zone = _zone(row, definition)
            if zone is None:
                metric("ENDPOINT_MISSING_TIMEZONE")
                return None
            local_start, local_end = timing.local_window(definition.get("Schedule") or {}, zone)
            if local_end is not None and now >= local_end:
                metric("ENDED")
                return None
            if local_start is not None and local_start > now:
                not_before = local_start
        return ParticipantInput(
            journey["app_id"],
            journey["id"],
            participant,
            f"run-{run_number}",
            kind,
            run_id=rid,
            start_activity=definition.get("StartActivity"),
            not_before=not_before.isoformat() if not_before else None,
        )

    async def _start_all(self, starts: list[ParticipantInput]) -> None:
        if not starts:
            return
        client = await self._client()
        searchable = await ensure_search_attributes(client)
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def one(who: ParticipantInput) -> None:
            async with gate:
                try:
                    await client.start_workflow(
                        JourneyParticipantWorkflow.run,
                        who,
                        **participant_start_options(who, self._task_queue, searchable=searchable),
                    )
                except WorkflowAlreadyStartedError:
                    pass  # a page retried after a crash: this one started the first time
            activity.heartbeat()

        await asyncio.gather(*(one(w) for w in starts))

    @activity.defn(name=JOURNEY_FINISH_RUN)
    async def finish_run(self, run: RunRef) -> None:
        async with self._engine.begin() as conn:
            rid = participants.run_id(run.journey_id, run.run_number)
            await participants.set_run_status(conn, run.app_id, run.journey_id, rid, "COMPLETED")

    @activity.defn(name=JOURNEY_BROADCAST)
    async def broadcast(self, request: Broadcast) -> None:
        """Signal every participant still inside; a retry goes on after the last page done."""
        details = activity.info().heartbeat_details
        after: tuple[str, str] | None = tuple(details[0]) if details else None
        client = await self._client()
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

        async def tell(workflow_id: str) -> None:
            async with gate:
                try:
                    await client.get_workflow_handle(workflow_id).signal(STATE, args=[request.state, request.at])
                except RPCError:
                    pass  # finished meanwhile

        while True:
            async with self._engine.connect() as conn:
                page = await participants.active_page(conn, request.app_id, request.journey_id, after=after, limit=500)
            if not page:
                return
            await asyncio.gather(*(tell(w) for _, _, w in page))
            after = (page[-1][0], page[-1][1])
            activity.heartbeat(list(after))

    @activity.defn(name=JOURNEY_PURGE)
    async def purge(self, request: JourneyInput) -> None:
        async with self._engine.begin() as conn:
            await journeys_store.remove(conn, request.app_id, request.journey_id)

    # -- a participant --------------------------------------------------------------------------
    @activity.defn(name=PARTICIPANT_ENTER)
    async def enter(self, who: ParticipantInput) -> Admission:
        """An event-triggered entry: the journey must be ACTIVE, the event inside its window, the
        endpoint in the start condition's segment (when it names one), the re-entry rules met."""
        async with self._engine.begin() as conn:
            journey = await journeys_store.find(conn, who.app_id, who.journey_id)
            if journey is None or journey["state"] != ACTIVE:
                return Admission(None, "NOT_ACTIVE")
            definition = journey["definition"]
            rid = await participants.latest_run(conn, who.app_id, who.journey_id)
            at = _instant(who.event_time) if who.event_time else datetime.now(UTC)
            start, end = entry_window(journey)
            if not start <= at < end:
                await participants.count(conn, who.app_id, who.journey_id, rid, {"ENDED": 1})
                return Admission(None, "ENDED", rid)
            segment_id = (definition["StartCondition"].get("EventStartCondition") or {}).get("SegmentId")
            if segment_id:
                segment = await segment_sql.load_definition(conn, who.app_id, segment_id)
                if not await segment_sql.contains(conn, who.app_id, segment, who.participant, now=datetime.now(UTC)):
                    await participants.count(conn, who.app_id, who.journey_id, rid, {"FILTERED_OUT_BY_SEGMENT": 1})
                    return Admission(None, "FILTERED_OUT_BY_SEGMENT", rid)
            await participants.count(conn, who.app_id, who.journey_id, rid, {"ENDPOINT_PRODUCED": 1})
            return await participants.admit(
                conn,
                app_id=who.app_id,
                journey_id=who.journey_id,
                definition=definition,
                participant=who.participant,
                kind=who.kind,
                entry_key=who.entry_key,
                rid=rid,
                now=datetime.now(UTC),
            )

    @activity.defn(name=PARTICIPANT_LEAVE)
    async def leave(self, request: Leave) -> None:
        who = request.who
        async with self._engine.begin() as conn:
            await participants.leave(conn, who.app_id, who.journey_id, who.participant, who.entry_key, request.status)

    @activity.defn(name=PARTICIPANT_STEP)
    async def step(self, request: StepRequest) -> StepResult:
        who = request.who
        key = ("journey", who.app_id, who.journey_id)
        journey = await self.recent(key, lambda c: journeys_store.find(c, who.app_id, who.journey_id))
        if journey is not None and journey["updated_at"].isoformat() < request.state_at:
            # The participant has heard of a newer state than the one kept: read it again.
            self._recent.pop(key, None)
            journey = await self.recent(key, lambda c: journeys_store.find(c, who.app_id, who.journey_id))
        if journey is None:
            return StepResult(None, stop=DELETED, state_at="9999")  # its rows are gone: nothing to wait for
        state, state_at = journey["state"], journey["updated_at"].isoformat()
        if state in (DELETED, CANCELLED) or (state == PAUSED and who.test is None):
            return StepResult(None, stop=state, state_at=state_at)
        activities = journey["definition"].get("Activities") or {}
        found = activities.get(request.activity_id)
        if found is None:
            return StepResult(None, "MISSING_ACTIVITY")
        step = _Step(self, journey, who, request, found)
        return await step.run()

    # -- what steps share -----------------------------------------------------------------------
    async def recent(self, key: tuple[str, ...], load: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """What every participant of a journey reads at every step (the journey, the project's
        settings, an activity's message), read at most once a second per worker: a journey's
        participants move in crowds. A pause or cancellation reaches participants by signal at
        once; this only delays what a step reads by that second."""
        cached = self._recent.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._engine.connect() as conn:
            value = await load(conn)
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[key] = (time.monotonic() + RECENT_SECONDS, value)
        return value

    async def pace(self, journey_id: str, per_second: int | None) -> None:
        if per_second:
            pacer = self._pacers.setdefault(journey_id, _Pacer())
            await pacer.wait(per_second)


class _Pacer:
    """MessagesPerSecond, per worker process: each send waits for its slot."""

    def __init__(self) -> None:
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self, per_second: int) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / per_second
        if slot > now:
            await asyncio.sleep(slot - now)


def _zone(row: dict[str, Any], definition: dict[str, Any]) -> str | None:
    """The endpoint's time zone, estimated when it has none and the journey allows it."""
    endpoint = {
        "ChannelType": row.get("channel_type"),
        "Address": row.get("address"),
        "Demographic": row.get("demographic") or {},
        "Location": row.get("location") or {},
    }
    return estimate_timezone(endpoint, definition.get("TimezoneEstimationMethods") or [])


class _Step:
    """One participant at one journey activity."""

    def __init__(
        self,
        owner: JourneyActivities,
        journey: dict[str, Any],
        who: ParticipantInput,
        request: StepRequest,
        activity: dict[str, Any],
    ) -> None:
        self.owner = owner
        self.journey = journey
        self.definition: dict[str, Any] = journey["definition"]
        self.who = who
        self.request = request
        self.activity = activity
        self.kind = activity_type(activity)
        self.body: dict[str, Any] = activity[self.kind]
        self.now = _instant(request.now)
        self.workflow_id = participant_workflow_id(who.app_id, who.journey_id, who.participant, who.entry_key)

    async def run(self) -> StepResult:
        if self.kind in _FITS or self.kind == "CUSTOM":
            return await self.message()
        if self.kind == "Wait":
            deadline = timing.wait_deadline(self.body.get("WaitTime") or {}, _instant(self.request.arrived))
            return await self.done("ARRIVED", self.body.get("NextActivity"), hold_until=deadline)
        if self.kind in ("ConditionalSplit", "MultiCondition"):
            return await self.split()
        if self.kind == "RandomSplit":
            branches = self.body.get("Branches") or []
            chosen = timing.choose(
                f"{self.workflow_id}/{self.request.activity_id}", [int(b.get("Percentage") or 0) for b in branches]
            )
            return await self.done(f"Branch_{chosen + 1}", branches[chosen].get("NextActivity"))
        if self.kind == "Holdout":
            held = int(self.body.get("Percentage") or 0)
            kept = timing.choose(f"{self.workflow_id}/{self.request.activity_id}", [held, 100 - held])
            return await (
                self.done("HOLDOUT", None) if kept == 0 else self.done("PASSED", self.body.get("NextActivity"))
            )
        return await self.done("UNSUPPORTED", self.body.get("NextActivity"))

    async def done(
        self,
        outcome: str,
        next_activity: str | None,
        *,
        hold_until: datetime | None = None,
        detail: dict[str, Any] | None = None,
    ) -> StepResult:
        who = self.who
        hold = hold_until.isoformat() if hold_until is not None and hold_until > self.now else None
        leaves = next_activity is None and hold is None  # the path ends here: so does the entry
        async with self.owner._engine.begin() as conn:
            await participants.record_step(
                conn,
                app_id=who.app_id,
                journey_id=who.journey_id,
                participant=who.participant,
                entry_key=who.entry_key,
                activity_id=self.request.activity_id,
                run_id=who.run_id,
                test_run_id=who.test.test_run_id if who.test else None,
                outcome=outcome,
                next_activity=next_activity,
                at=self.now,
                detail=detail,
                leaves=leaves,
            )
            if self.kind in ("ConditionalSplit", "MultiCondition") and self._listens():
                await participants.unlisten(conn, who.app_id, self.workflow_id)
        return StepResult(next_activity, outcome, hold_until=hold, left=leaves)

    # -- endpoints ---------------------------------------------------------------------------
    async def endpoints(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """The participant's endpoints as they are now (a user's: all of them)."""
        if self.who.kind == "USER":
            return await endpoints_store.of_user(conn, self.who.app_id, self.who.participant)
        row = await endpoints_store.get(conn, self.who.app_id, self.who.participant)
        return [row] if row is not None else []

    # -- message activities ---------------------------------------------------------------------
    async def message(self) -> StepResult:
        nxt = self.body.get("NextActivity")
        settings = await self.owner.recent(("settings", self.who.app_id), self._settings)
        async with self.owner._engine.connect() as conn:
            ready = await self._prepare(conn, settings)
        if isinstance(ready, StepResult):
            return ready
        if isinstance(ready, str):
            return await self.done(ready, nxt)
        reachable = ready
        channels = sorted({self._channel(r) for r in reachable})
        key = ("contents", self.who.app_id, self.who.journey_id, self.request.activity_id, *channels)
        contents = await self.owner.recent(key, lambda c: self._contents(c, set(channels)))
        who = self.who
        if who.test is not None and not who.test.deliver:
            first = reachable[0]
            detail = {
                "Channel": self._channel(first),
                "Address": first["address"],
                "Template": self.body.get("TemplateName"),
            }
            return await self.done("RECORDED", nxt, detail=detail)
        limits = self.definition.get("Limits") or {}
        await self.owner.pace(who.journey_id, limits.get("MessagesPerSecond"))
        statuses = await self._send(reachable, contents)
        outcome = SUCCESSFUL if SUCCESSFUL in statuses else (statuses[0] if statuses else "PERMANENT_FAILURE")
        return await self.done(outcome, nxt, detail={"Sent": len(statuses)})

    async def _prepare(
        self, conn: AsyncConnection, settings: dict[str, Any]
    ) -> str | StepResult | list[dict[str, Any]]:
        """Which of the participant's endpoints get the message; or why none does (an outcome),
        or a hold until sending is allowed. Reads only: the caller writes the step once this
        connection is back in the pool."""
        rows = await self.endpoints(conn)
        candidates = [r for r in rows if self._fits(r)]
        if not candidates:
            return "UNSUPPORTED_CHANNEL"
        reachable = [r for r in candidates if r["opt_out"] != "ALL" and r["endpoint_status"] == "ACTIVE"]
        if not reachable:
            return "OPT_OUT" if all(r["opt_out"] == "ALL" for r in candidates) else "ENDPOINT_INACTIVE"
        reachable = [r for r in reachable if r["address"]]
        if not reachable:
            return "MISSING_ADDRESS"
        blocked, until = self._window(reachable[0], settings)
        if until is not None:  # WaitForQuietTime: come back when sending is allowed
            return StepResult(self.body.get("NextActivity"), hold_until=until.isoformat(), evaluate=True)
        if blocked is not None:
            return blocked
        if self.who.test is None and await self._capped(conn, settings):
            return "ENDPOINT_LIMIT_EXCEEDED"
        return reachable

    async def _settings(self, conn: AsyncConnection) -> dict[str, Any]:
        app = await apps_store.get(conn, self.who.app_id)
        settings: dict[str, Any] = app.get("settings") or {}
        return settings

    def _channel(self, row: dict[str, Any]) -> str:
        return "CUSTOM" if self.kind == "CUSTOM" else str(row["channel_type"])

    def _fits(self, row: dict[str, Any]) -> bool:
        channel = row["channel_type"] or ""
        if self.kind == "CUSTOM":
            types = self.body.get("EndpointTypes")
            return not types or channel in types
        return _FITS[self.kind](channel)

    def _window(self, row: dict[str, Any], settings: dict[str, Any]) -> tuple[str | None, datetime | None]:
        """Quiet time, open hours and closed days: (why the message may not go now, when it
        may: set only with WaitForQuietTime); (None, None) when it may go now."""
        definition = self.definition
        channel = "PUSH" if self.kind == "PUSH" else self.kind
        scheduled = bool(definition.get("SendingSchedule"))
        quiet = definition.get("QuietTime") or settings.get("QuietTime")
        open_hours = (definition.get("OpenHours") or {}).get(channel) if scheduled else None
        closed = (definition.get("ClosedDays") or {}).get(channel) if scheduled else None
        zone = _zone(row, definition)
        blocked = timing.sending_blocked(self.now, zone, quiet=quiet, open_hours=open_hours, closed_days=closed)
        if blocked is None or self.who.test is not None:  # test participants are never held back
            return None, None
        if definition.get("WaitForQuietTime"):
            try:
                until = timing.next_send_time(self.now, zone, quiet=quiet, open_hours=open_hours, closed_days=closed)
            except ValueError:  # the rules leave no time to send at all: the message is skipped
                until = None
            if until is not None and until > self.now:
                return blocked, until
        return blocked, None

    async def _capped(self, conn: AsyncConnection, settings: dict[str, Any]) -> bool:
        """DailyCap and TotalCap (this journey) and TimeframeCap (every journey) per participant,
        counted from the steps it took; the project's JourneyLimits are the defaults."""
        limits = {**(settings.get("JourneyLimits") or {}), **(self.definition.get("Limits") or {})}
        daily, total = int(limits.get("DailyCap") or 0), int(limits.get("TotalCap") or 0)
        frame = limits.get("TimeframeCap") or {}
        frame_cap, frame_days = int(frame.get("Cap") or 0), int(frame.get("Days") or 0)
        if not (daily or total or (frame_cap and frame_days)):
            return False
        today, ever, in_frame = await participants.sent_counts(
            conn,
            self.who.app_id,
            self.who.journey_id,
            self.who.participant,
            day_from=self.now - timedelta(days=1),
            frame_from=self.now - timedelta(days=frame_days),
        )
        return bool(
            (daily and today >= daily)
            or (total and ever >= total)
            or (frame_cap and frame_days and in_frame >= frame_cap)
        )

    async def _contents(self, conn: AsyncConnection, channels: set[str]) -> dict[str, dict[str, Any] | None]:
        template = None
        name = self.body.get("TemplateName")
        if name and self.kind in TEMPLATE_TYPES:
            found = await templates_store.resolve(
                conn, TEMPLATE_TYPES[self.kind], name, self.body.get("TemplateVersion")
            )
            if found is not None:
                template = Template(found["name"], found["content"], found["default_substitutions"])
        enabled = {
            row["channel_type"]: row for row in await channels_store.all_of(conn, self.who.app_id) if row["enabled"]
        }
        config = _campaign_config(self.kind, self.body.get("MessageConfig") or {})
        out: dict[str, dict[str, Any] | None] = {}
        for channel in channels:
            if channel != "CUSTOM" and channel not in enabled:
                out[channel] = None
                continue
            content = campaign_content(config, channel, template, self.body.get("DeliveryUri"))
            if content is not None and channel == "EMAIL":
                content["from"] = content.get("from") or enabled["EMAIL"]["settings"].get("FromAddress")
            out[channel] = content
        return out

    async def _send(self, rows: list[dict[str, Any]], contents: dict[str, dict[str, Any] | None]) -> list[str]:
        who = self.who
        attributes = {
            "journey_id": who.journey_id,
            "journey_activity_id": self.request.activity_id,
            "journey_run_id": who.run_id or "",
            "journey_entry": who.entry_key,
        }
        if who.test is not None:
            attributes["journey_test_run_id"] = who.test.test_run_id
        by_channel: dict[str, list[Recipient]] = {}
        statuses: list[str] = []
        for row in rows:
            channel = self._channel(row)
            if contents.get(channel) is None:
                statuses.append("PERMANENT_FAILURE")  # nothing to send on that channel
                continue
            by_channel.setdefault(channel, []).append(
                Recipient(
                    key=f"{self.workflow_id}/{self.request.activity_id}/{row['id']}",
                    address=row["address"],
                    endpoint_id=row["id"],
                    endpoint=endpoint_response(row, iso),
                )
            )
        last_attempt = activity.info().attempt >= MAX_ATTEMPTS
        for channel, recipients in by_channel.items():
            content = contents[channel]
            assert content is not None
            batch = DeliveryBatch(
                app_id=who.app_id,
                channel=channel,
                source="journey" if who.test is None else "journey-test",
                source_id=who.journey_id,
                content=content,
                recipients=recipients,
                max_attempts=MAX_ATTEMPTS,
                attributes=attributes,
            )
            results, transient = await self.owner._deliverer.deliver(batch, last_attempt=last_attempt)
            if transient:
                raise ApplicationError(
                    f"transient provider error: {transient[0].message}", type="TransientDeliveryError"
                )
            statuses.extend(r.delivery_status for r in results)
        return statuses

    # -- splits ---------------------------------------------------------------------------------
    async def split(self) -> StepResult:
        wait_time = self.body.get("EvaluationWaitTime")
        if wait_time and not self.request.evaluate:
            deadline = timing.wait_deadline(wait_time, _instant(self.request.arrived))
            if deadline > self.now:
                if self._listens():
                    async with self.owner._engine.begin() as conn:
                        ids = [r["id"] for r in await self.endpoints(conn)]
                        await participants.listen(
                            conn,
                            self.who.app_id,
                            self.who.journey_id,
                            self.workflow_id,
                            ids,
                            _instant(self.request.arrived),
                            deadline,
                        )
                return StepResult(None, hold_until=deadline.isoformat(), evaluate=True)
        async with self.owner._engine.connect() as conn:
            outcome, nxt = await self._decide(_Judge(self, conn, await self.endpoints(conn)))
        return await self.done(outcome, nxt)

    async def _decide(self, judge: _Judge) -> tuple[str, str | None]:
        if self.kind == "ConditionalSplit":
            met = await judge.condition(self.body.get("Condition") or {})
            return ("True", self.body.get("TrueActivity")) if met else ("False", self.body.get("FalseActivity"))
        for n, branch in enumerate(self.body.get("Branches") or [], start=1):
            if await judge.simple(branch.get("Condition") or {}):
                return f"Branch_{n}", branch.get("NextActivity")
        return "Else", self.body.get("DefaultActivity")

    def _listens(self) -> bool:
        conditions = (
            (self.body.get("Condition") or {}).get("Conditions") or []
            if self.kind == "ConditionalSplit"
            else [b.get("Condition") or {} for b in self.body.get("Branches") or []]
        )
        return any(c.get("EventCondition") for c in conditions)


class _Judge:
    """Evaluates split conditions for one participant: segment membership and inline criteria
    over the endpoints' latest data (a user: any of its endpoints), events since entry."""

    def __init__(self, step: _Step, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        self.step = step
        self.conn = conn
        self.ids = [r["id"] for r in rows]

    async def condition(self, condition: dict[str, Any]) -> bool:
        results = [await self.simple(c) for c in condition.get("Conditions") or []]
        if not results:
            return False
        return any(results) if condition.get("Operator") == "ANY" else all(results)

    async def simple(self, condition: dict[str, Any]) -> bool:
        app_id = self.step.who.app_id
        if condition.get("SegmentCondition"):
            segment = await segment_sql.load_definition(self.conn, app_id, condition["SegmentCondition"]["SegmentId"])
            return await self._any_member(segment)
        if condition.get("SegmentDimensions"):
            return await self._any_member(
                segment_sql.SegmentDefinition("DIMENSIONAL", condition["SegmentDimensions"], None)
            )
        if condition.get("EventCondition"):
            return await self._event(condition["EventCondition"])
        return False

    async def _any_member(self, segment: segment_sql.SegmentDefinition) -> bool:
        for endpoint_id in self.ids:
            if await segment_sql.contains(self.conn, self.step.who.app_id, segment, endpoint_id, now=self.step.now):
                return True
        return False

    async def _event(self, condition: dict[str, Any]) -> bool:
        """An event of the participant since it entered: engagement with the message the
        MessageActivity sent in this entry, or (without one) any event, matching Dimensions.
        Events that arrived as signals count too (they are stored, but may still be in flight
        to the database of another process)."""
        step = self.step
        who = step.who
        wanted = {"Dimensions": condition.get("Dimensions") or {}}
        message = condition.get("MessageActivity")
        for event in step.request.seen:
            if (not message or event.get("Attributes", {}).get("journey_activity_id") == message) and matches(
                wanted, event
            ):
                return True
        params: dict[str, Any] = {"app": who.app_id, "ids": self.ids}
        sql = "SELECT event_type, attributes, metrics FROM events WHERE app_id = :app AND endpoint_id = ANY(:ids)"
        if message:
            # Engagement carries the entry it belongs to: no clock needed to tell it apart.
            sql += (
                " AND attributes ->> 'journey_id' = :journey AND attributes ->> 'journey_activity_id' = :message"
                " AND attributes ->> 'journey_entry' = :entry"
            )
            params.update(journey=who.journey_id, message=message, entry=who.entry_key)
        else:
            entered = await participants.entered_at(
                self.conn, who.app_id, who.journey_id, who.participant, who.entry_key
            )
            sql += " AND event_time >= :since"
            params["since"] = entered or _instant(step.request.arrived)
        sql += " ORDER BY event_time LIMIT 1000"
        for r in await self.conn.execute(text(sql), params):
            event = {"EventType": r.event_type, "Attributes": r.attributes or {}, "Metrics": r.metrics or {}}
            if matches(wanted, event):
                return True
        return False


def _campaign_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A journey activity's MessageConfig in the shape a campaign's MessageConfiguration has,
    so that one content builder serves both."""
    if kind == "EMAIL":
        return {"EmailMessage": {"FromAddress": config["FromAddress"]}} if config.get("FromAddress") else {}
    if kind == "SMS":
        keep = ("MessageType", "OriginationNumber", "SenderId")
        return {"SMSMessage": {k: config[k] for k in keep if config.get(k)}}
    if kind == "PUSH":
        ttl = config.get("TimeToLive")
        return {"DefaultMessage": {"TimeToLive": int(ttl)}} if ttl and str(ttl).isdigit() else {}
    if kind == "CUSTOM":
        return {"CustomMessage": {"Data": config.get("Data")}}
    return {}


__all__ = ["JourneyActivities", "entry_window", "channel_family"]
