"""The journey workflows' activities: planning entry, admitting a segment page, telling
participants of state changes, and the one step each participant takes per journey activity.

Entry points only: what they do is journeys/ (planning, admission, the step interpreters), the
SQL is store/, and Temporal's client is engine/journeys.py.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client

from channels.deliverer import Deliverer
from engine import journeys as journeys_engine
from journeys import admission, planning, prestart, steps
from journeys.context import StepContext
from journeys.times import instant
from rules.participants import Admission
from store import journey_participants as participants
from store import journey_runs as runs
from store import journeys as journeys_store
from workflows.journey import (
    JOURNEY_ADMIT_PAGE,
    JOURNEY_BROADCAST,
    JOURNEY_FINISH_RUN,
    JOURNEY_PLAN,
    JOURNEY_PURGE,
    PARTICIPANT_ENTER,
    PARTICIPANT_LEAVE,
    PARTICIPANT_STEP,
    AdmitPage,
    Broadcast,
    JourneyInput,
    JourneyPlan,
    Leave,
    PageResult,
    ParticipantInput,
    RunRef,
    StepRequest,
    StepResult,
)

BROADCAST_PAGE = 500  # participants read, and told, per heartbeat


def every_second(call: Callable[[], None]) -> Callable[[], None]:
    """`call` at most once a second: a page calls it after each of its 500 starts, and a
    heartbeat costs a protobuf round through the SDK even when it sends nothing."""
    last = [0.0]

    def maybe() -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            call()

    return maybe


def temporal_clock() -> Callable[[], datetime]:
    """Temporal's time in this activity: when its attempt was scheduled, plus the time since
    (the time-skipping test server's clock is not the wall clock)."""
    scheduled, began = activity.info().current_attempt_scheduled_time, time.monotonic()
    return lambda: scheduled + timedelta(seconds=time.monotonic() - began)


class JourneyActivities:
    def __init__(
        self, engine: AsyncEngine, deliverer: Deliverer, client: Callable[[], Awaitable[Client]], task_queue: str
    ) -> None:
        self._engine = engine
        self._client = client
        self._task_queue = task_queue
        self._steps = StepContext(engine, deliverer)

    # -- the journey ----------------------------------------------------------------------------
    @activity.defn(name=JOURNEY_PLAN)
    async def plan(self, request: JourneyInput) -> JourneyPlan:
        now = instant(request.now) if request.now else datetime.now(UTC)
        async with self._engine.begin() as conn:
            return await planning.plan(conn, request, now)

    @activity.defn(name=JOURNEY_ADMIT_PAGE)
    async def admit_page(self, request: AdmitPage) -> PageResult:
        async with self._engine.begin() as conn:
            page = await admission.admit_page(conn, request)
        if page.starts:
            # The participants' first steps are taken here, on the first attempt (journeys/prestart.py);
            # a retried page starts the rest as before, and their workflows take their steps.
            now = temporal_clock()
            first = page.first_steps and activity.info().attempt == 1
            await journeys_engine.start_participants(
                await self._client(),
                page.starts,
                self._task_queue,
                each=every_second(activity.heartbeat),
                prepare=(lambda who: prestart.first_steps(self._steps, who, now())) if first else None,
                now=now,
            )
        return PageResult(page.next_after, len(page.starts))

    @activity.defn(name=JOURNEY_FINISH_RUN)
    async def finish_run(self, run: RunRef) -> None:
        async with self._engine.begin() as conn:
            rid = runs.run_id(run.journey_id, run.run_number)
            await runs.set_run_status(conn, run.app_id, run.journey_id, rid, "COMPLETED")

    @activity.defn(name=JOURNEY_BROADCAST)
    async def broadcast(self, request: Broadcast) -> None:
        """Signal every participant still inside; a retry goes on after the last page done."""
        details = activity.info().heartbeat_details
        after: tuple[str, str] | None = tuple(details[0]) if details else None
        client = await self._client()
        while True:
            async with self._engine.connect() as conn:
                page = await participants.active_page(
                    conn, request.app_id, request.journey_id, after=after, limit=BROADCAST_PAGE
                )
            if not page:
                return
            await journeys_engine.tell_state(client, [w for _, _, w in page], request.state, request.at)
            after = (page[-1][0], page[-1][1])
            activity.heartbeat(list(after))

    @activity.defn(name=JOURNEY_PURGE)
    async def purge(self, request: JourneyInput) -> None:
        async with self._engine.begin() as conn:
            await journeys_store.remove(conn, request.app_id, request.journey_id)

    # -- a participant --------------------------------------------------------------------------
    @activity.defn(name=PARTICIPANT_ENTER)
    async def enter(self, who: ParticipantInput) -> Admission:
        """An event-triggered entry, under the journey's rules (journeys/admission.py)."""
        async with self._engine.begin() as conn:
            return await admission.enter(conn, who)

    @activity.defn(name=PARTICIPANT_LEAVE)
    async def leave(self, request: Leave) -> None:
        who = request.who
        async with self._engine.begin() as conn:
            await participants.leave(conn, who.app_id, who.journey_id, who.participant, who.entry_key, request.status)

    @activity.defn(name=PARTICIPANT_STEP)
    async def step(self, request: StepRequest) -> StepResult:
        """The participant's step at one journey activity (journeys/steps.py). The attempt
        decides whether a send's transient trouble is retried (workflows/policy.py)."""
        return await steps.walk(self._steps, request, attempt=activity.info().attempt)
