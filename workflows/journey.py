"""Journeys: one workflow per journey owns entry, one workflow per participant walks the graph.

`JourneyWorkflow` (`journey-{app}-{journey}`) admits participants: for a segment-started journey
it runs an entry cycle at the start and at every RefreshFrequency (or when the segment changes),
paging through the segment and starting a participant workflow per member; for an
event-started journey PutEvents starts participants and this workflow only keeps the window and
the state. It also tells participants of pause, resume, cancellation and deletion.

`JourneyParticipantWorkflow` (`journey-{app}-{journey}-{participant}-{entry}`) is one entry of
one endpoint or user. Everything that needs data is one `journey_step` activity per journey
activity: it sends, evaluates a split, or picks a branch, records the step, and answers where to
go and how long to hold first. The workflow only holds (durable timers that freeze while the
journey is paused) and follows the answer, so a participant's history is a few events per step
and the Web UI shows one named step per journey activity (steps taken in a row without a
hold are one call, journeys/steps.walk). A segment's members take their first steps in the
entry page that admits them and start delayed to the end of their first hold (`Resume`,
journeys/prestart.py): a send-wait-send participant is one workflow task, 6 history events.

Steps run as local activities: a step's result is written with the workflow task that follows
it, without a round trip through the activity queue. A worker that dies mid-step replays it;
sends are keyed `{workflow id}/{activity}/{endpoint}` in the delivery log, so nothing goes twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from rules.instants import read_iso
from rules.participants import Admission
from workflows.policy import QUICK, RETRY

# Journey workflow
REFRESH = "refresh"  # the journey's definition or state changed: read it again
SEGMENT_CHANGED = "segment_changed"  # RefreshOnSegmentUpdate: admit the segment's new members now
JOURNEY_PLAN = "journey_plan"
JOURNEY_ADMIT_PAGE = "journey_admit_page"
JOURNEY_FINISH_RUN = "journey_finish_run"
JOURNEY_BROADCAST = "journey_broadcast"
JOURNEY_PURGE = "journey_purge"
# Participant workflow
STATE = "state"  # PAUSED | ACTIVE | CANCELLED | DELETED, from the journey
ENGAGEMENT = "engagement"  # an event of the participant's endpoints that a split waits for
CURRENT = "current"  # query: where the participant is
PARTICIPANT_ENTER = "journey_enter"
PARTICIPANT_STEP = "journey_step"
PARTICIPANT_LEAVE = "journey_leave"

PAUSED, ACTIVE, CANCELLED, DELETED = "PAUSED", "ACTIVE", "CANCELLED", "DELETED"


def journey_workflow_id(app_id: str, journey_id: str) -> str:
    return f"journey-{app_id}-{journey_id}"


# -- the journey ----------------------------------------------------------------------------------
@dataclass
class JourneyInput:
    app_id: str
    journey_id: str
    run_number: int = 0  # entry cycles done (carried over continue-as-new)
    last_cycle_at: str | None = None  # ISO instant of the last entry cycle
    told: str | None = None  # the last state participants were told of
    segment_changed: bool = False  # a cycle is due now (RefreshOnSegmentUpdate)
    now: str | None = None  # workflow time when planning (set by the workflow)


@dataclass
class JourneyPlan:
    # "cycle": run an entry cycle at `at`; "watch": nothing to admit before `at` (or a signal);
    # "hold": paused, wait for a signal; "stop": the journey ended for good (cancelled, deleted,
    # or closed with nothing more to admit).
    action: str
    state: str
    at: str | None = None
    tell: str | None = None  # a state participants must be told of before anything else
    state_at: str = ""  # when the journey took its state (participants order news by it)
    purge: bool = False  # deleted: drop its rows once participants were told


@dataclass
class RunRef:
    app_id: str
    journey_id: str
    run_id: str
    run_number: int
    now: str  # workflow time the page is admitted at


@dataclass
class AdmitPage:
    run: RunRef
    after: str | None = None  # the last segment member of the previous page


@dataclass
class PageResult:
    next_after: str | None  # None: that was the last page
    admitted: int = 0


@dataclass
class Broadcast:
    app_id: str
    journey_id: str
    state: str
    at: str  # when the journey changed state: participants ignore older news


@workflow.defn
class JourneyWorkflow:
    def __init__(self) -> None:
        self._refreshed = False
        self._segment_changed = False

    @workflow.signal(name=REFRESH)
    def refresh(self) -> None:
        self._refreshed = True

    @workflow.signal(name=SEGMENT_CHANGED)
    def segment_changed(self) -> None:
        self._refreshed = self._segment_changed = True

    @workflow.run
    async def run(self, request: JourneyInput) -> None:
        self._segment_changed = request.segment_changed
        told = request.told
        while True:
            self._refreshed = False
            plan: JourneyPlan = await workflow.execute_activity(
                JOURNEY_PLAN,
                replace(request, told=told, segment_changed=self._segment_changed, now=workflow.now().isoformat()),
                result_type=JourneyPlan,
                start_to_close_timeout=QUICK,
                retry_policy=RETRY,
            )
            if plan.tell is not None:
                await workflow.execute_activity(
                    JOURNEY_BROADCAST,
                    Broadcast(request.app_id, request.journey_id, plan.tell, plan.state_at),
                    start_to_close_timeout=timedelta(hours=1),
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
                told = plan.tell
            if plan.action == "stop":
                if plan.purge:
                    await workflow.execute_activity(
                        JOURNEY_PURGE, request, start_to_close_timeout=timedelta(minutes=10), retry_policy=RETRY
                    )
                return
            if plan.action == "hold":
                await workflow.wait_condition(lambda: self._refreshed)
                continue
            if plan.at is not None:
                wait = (read_iso(plan.at) - workflow.now()).total_seconds()
                if wait > 0:
                    try:
                        await workflow.wait_condition(lambda: self._refreshed, timeout=timedelta(seconds=wait))
                        continue  # changed while waiting: plan again
                    except TimeoutError:
                        pass
            if plan.action == "watch":
                continue
            await self._cycle(request, plan)
            workflow.continue_as_new(
                JourneyInput(
                    request.app_id,
                    request.journey_id,
                    request.run_number + 1,
                    plan.at or workflow.now().isoformat(),
                    told,
                    self._segment_changed,
                )
            )

    async def _cycle(self, request: JourneyInput, plan: JourneyPlan) -> None:
        self._segment_changed = False
        run = RunRef(
            request.app_id,
            request.journey_id,
            run_id="",
            run_number=request.run_number,
            now=workflow.now().isoformat(),
        )
        after: str | None = None
        while True:
            page: PageResult = await workflow.execute_activity(
                JOURNEY_ADMIT_PAGE,
                AdmitPage(run, after),
                result_type=PageResult,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
            if page.next_after is None:
                break
            after = page.next_after
        await workflow.execute_activity(JOURNEY_FINISH_RUN, run, start_to_close_timeout=QUICK, retry_policy=RETRY)


# -- a participant --------------------------------------------------------------------------------
@dataclass
class TestOptions:
    """A test participant (dry run): kept out of the live journey's metrics and caps."""

    test_run_id: str
    wait: str = "SKIP"  # SKIP: holds end at once | SHORTEN: each hold lasts at most wait_seconds
    wait_seconds: int = 0
    deliver: bool = False  # False: messages are recorded, not handed to providers


@dataclass
class Resume:
    """Steps a participant took before its workflow started (its entry cycle's page took them,
    journeys/prestart.py): where it is and what it holds for. Its workflow starts delayed to
    `hold_until`, so a wait costs it no timer, and carries on from there."""

    activity: str  # the last step's activity: where the participant is (holding)
    arrived: str  # when the participant reached `activity`
    next: str | None = None  # where to go after the hold; None: the path ended
    hold_until: str | None = None
    evaluate: bool = False  # after the hold, run `activity`'s step again (evaluate = True), not `next`
    left: bool = False  # the steps ended the entry, and recorded its leaving
    path: list[dict[str, str]] = field(default_factory=list)  # the steps taken: Activity, Outcome


@dataclass
class ParticipantInput:
    app_id: str
    journey_id: str
    participant: str  # an endpoint id, or a user id when kind is USER
    entry_key: str  # run-<n> | event-<id> | api-<key> | test-<id>
    kind: str = "ENDPOINT"
    run_id: str | None = None
    start_activity: str | None = None  # None: admission is still to be done (event entries)
    not_before: str | None = None  # LocalTime: the participant's own start
    event_time: str | None = None  # the event that made it enter (event entries)
    test: TestOptions | None = None
    resume: Resume | None = None  # steps taken before the workflow started


@dataclass
class StepRequest:
    who: ParticipantInput
    activity_id: str
    now: str
    arrived: str  # when the participant reached this activity
    evaluate: bool = False  # the hold the step asked for is over: decide now
    seen: list[dict[str, Any]] = field(default_factory=list)  # engagement received as signals
    state_at: str = ""  # the newest journey state change the participant has heard of


@dataclass
class StepResult:
    next: str | None  # where to go after the hold; None: leave the journey
    outcome: str = ""
    hold_until: str | None = None  # ISO instant to hold until first
    evaluate: bool = False  # after the hold, run this activity's step again (evaluate = True)
    stop: str | None = None  # PAUSED | CANCELLED | DELETED: what the step found the journey in
    state_at: str | None = None  # when the journey took that state
    left: bool = False  # the path ended at this step, and the step recorded the participant's leaving
    # The step went on to later activities without holding (journeys/steps.walk): where it ended,
    # when it arrived there, and every step's Activity and Outcome. None: at the one asked for.
    activity: str | None = None
    arrived: str | None = None
    path: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Leave:
    who: ParticipantInput
    status: str  # LEFT | CANCELLED | REMOVED
    activity_id: str | None = None


_STEP_TIMEOUT = timedelta(minutes=2)


# Not sandboxed: there is one instance per participant, and a sandbox costs more to set up than
# this loop costs to run. It reads no clock but workflow.now(), no randomness, no I/O.
@workflow.defn(sandboxed=False)
class JourneyParticipantWorkflow:
    def __init__(self) -> None:
        self._state = ACTIVE
        self._state_at = ""
        self._changed = False
        self._seen: list[dict[str, Any]] = []
        self._activity: str | None = None
        self._since = ""
        self._path: list[dict[str, str]] = []

    @workflow.signal(name=STATE)
    def state(self, state: str, at: str) -> None:
        self._take(state, at)

    @workflow.signal(name=ENGAGEMENT)
    def engagement(self, event: dict[str, Any]) -> None:
        if len(self._seen) < 100:  # a split needs to know that an event came, not every repeat
            self._seen.append(event)

    @workflow.query(name=CURRENT)
    def current(self) -> dict[str, Any]:
        return {"Activity": self._activity, "Since": self._since, "State": self._state, "Path": self._path}

    def _take(self, state: str, at: str) -> None:
        # News arrive by signal and from steps; the newest wins (ISO instants sort as strings).
        if at >= self._state_at:
            self._state, self._state_at, self._changed = state, at, True

    @workflow.run
    async def run(self, who: ParticipantInput) -> str:
        self._since = workflow.now().isoformat()
        if who.not_before is not None and not await self._hold(who, read_iso(who.not_before)):
            return await self._leave(who, CANCELLED)
        current = who.start_activity
        evaluate = False
        left = False
        arrived = workflow.now()
        if who.resume is not None:
            # Steps taken at admission; the hold they asked for is mostly over already (the
            # workflow was started delayed to its end), but a pause may have come meanwhile.
            resume = who.resume
            self._path = list(resume.path)
            self._activity, self._since = resume.activity, resume.arrived
            if resume.hold_until is not None:
                held = await self._hold(who, read_iso(resume.hold_until))
                if not held and self._state != PAUSED:
                    return await self._leave(who, CANCELLED, resume.activity)
            current = resume.activity if resume.evaluate else resume.next
            evaluate, left, arrived = resume.evaluate, resume.left, read_iso(resume.arrived)
        elif current is None:
            admission: Admission = await workflow.execute_local_activity(
                PARTICIPANT_ENTER,
                who,
                result_type=Admission,
                start_to_close_timeout=_STEP_TIMEOUT,
                retry_policy=RETRY,
            )
            if admission.start_activity is None:
                return admission.reason
            who = replace(who, run_id=admission.run_id)
            current = admission.start_activity
        while current is not None:
            if not await self._unpaused():
                return await self._leave(who, CANCELLED, current)
            if not evaluate:
                arrived = workflow.now()
                self._seen = []
            self._activity, self._since = current, arrived.isoformat()
            step: StepResult = await workflow.execute_local_activity(
                PARTICIPANT_STEP,
                StepRequest(
                    who,
                    current,
                    workflow.now().isoformat(),
                    arrived.isoformat(),
                    evaluate,
                    list(self._seen),
                    self._state_at,
                ),
                result_type=StepResult,
                start_to_close_timeout=_STEP_TIMEOUT,
                retry_policy=RETRY,
                summary=current,
            )
            if step.activity is not None:  # the step went on to later activities
                current, arrived, evaluate = step.activity, read_iso(step.arrived or self._since), False
                self._activity, self._since = current, arrived.isoformat()
                self._path.extend(step.path)
            if step.stop is not None:
                self._take(step.stop, step.state_at or "")
                continue  # held (paused), or ends at the top of the loop (cancelled)
            if step.outcome and step.activity is None:
                self._path.append({"Activity": current, "Outcome": step.outcome})
            if step.hold_until is not None and not await self._hold(who, read_iso(step.hold_until)):
                return await self._leave(who, CANCELLED, current)
            if step.evaluate:
                evaluate = True
                continue
            evaluate, left = False, step.left
            current = step.next
        return "LEFT" if left else await self._leave(who, "LEFT")

    async def _unpaused(self) -> bool:
        """Wait out a pause; False when the journey was cancelled or deleted."""
        await workflow.wait_condition(lambda: self._state != PAUSED)
        return self._state == ACTIVE

    async def _hold(self, who: ParticipantInput, until: datetime) -> bool:
        """Hold until `until`, the clock frozen while the journey is paused (Pinpoint's waits
        continue from their remaining time); False when the journey was cancelled meanwhile."""
        remaining = (until - workflow.now()).total_seconds()
        if who.test is not None:  # test participants: waits skipped or shortened
            remaining = min(remaining, who.test.wait_seconds if who.test.wait == "SHORTEN" else 0)
        while remaining > 0:
            if self._state == PAUSED:
                await workflow.wait_condition(lambda: self._state != PAUSED)
            if self._state != ACTIVE:
                return False
            self._changed = False
            started = workflow.now()
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timedelta(seconds=remaining))
            except TimeoutError:
                return True
            remaining -= (workflow.now() - started).total_seconds()
        return self._state == ACTIVE

    async def _leave(self, who: ParticipantInput, status: str, activity_id: str | None = None) -> str:
        await workflow.execute_local_activity(
            PARTICIPANT_LEAVE,
            Leave(who, status, activity_id),
            start_to_close_timeout=QUICK,
            retry_policy=RETRY,
        )
        self._state = status if status != "LEFT" else self._state
        return status
