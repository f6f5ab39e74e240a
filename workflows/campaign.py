"""One workflow per campaign (`campaign-{app}-{campaign}`): waits for each run, resolves the
segment at that moment, fans sends out in batches, and keeps the campaign's State true.

Every decision that needs data (the campaign's definition, the next run time, who is in the
segment) is an activity; the workflow only sequences them and sleeps on durable timers. A
run walks the segment in pages, one activity per page, each page sending its endpoints in
parallel sub-batches under their idempotency keys, so a page retried after a crash re-sends
nothing. The history grows by a few events per page (about 3,000 for a million endpoints)
and every run starts a fresh history (continue-as-new).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import NamedTuple

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

from rules.instants import read_iso
from workflows.policy import QUICK, RETRY, send_task_queue

REFRESH = "refresh"
PLAN_RUN = "campaign_plan_run"
START_RUN = "campaign_start_run"
SEND_PAGE = "campaign_send_page"
FINISH_RUN = "campaign_finish_run"
LOCAL_WAVES = "campaign_local_waves"


def workflow_id(app_id: str, campaign_id: str, treatment: str | None = None) -> str:
    """The campaign's workflow; a treatment with a Schedule of its own runs in one of its own."""
    base = f"campaign-{app_id}-{campaign_id}"
    return base if treatment is None else f"{base}-treatment-{treatment}"


@dataclass
class CampaignInput:
    app_id: str
    campaign_id: str
    run_number: int = 0  # runs already done or skipped (carried over continue-as-new)
    last_run_at: str | None = None  # ISO instant of the last run considered
    now: str | None = None  # workflow time when planning (set by the workflow, not by callers)
    treatment: str | None = None  # an additional treatment with its own Schedule; None: the rest


@dataclass
class RunPlan:
    action: str  # "run" | "done"
    at: str | None = None  # ISO instant the run starts
    version: int = 0  # the campaign version the run uses
    paused: bool = False
    local_time: bool = False  # IsLocalTime: the run rolls through the endpoints' own time zones
    priority: int | None = None  # Pinpoint's Priority, 1 (highest) to 5


@dataclass
class Wave:
    """The endpoints whose time zones reach a local-time run's wall clock at `at`."""

    at: str
    zones: list[str]


@dataclass
class RunRef:
    app_id: str
    campaign_id: str
    run_number: int
    version: int
    scheduled_start: str  # ISO instant
    treatment: str | None = None  # the schedule group the run belongs to (CampaignInput.treatment)


@dataclass
class PageRequest:
    run: RunRef
    now: str  # workflow time (ISO) the page is sent at: quiet time, recency and limits read it
    after: str | None = None  # the last endpoint id of the previous page
    zones: list[str] | None = None  # a local-time wave: only endpoints in these time zones


@dataclass
class TreatmentCounts:
    total: int = 0  # endpoints the run targeted
    successful: int = 0
    metrics: dict[str, int] = field(default_factory=dict)  # ENDPOINT_OPT_OUT, TREATMENT_HOLDOUT, ...

    def add(self, other: TreatmentCounts) -> None:
        self.total += other.total
        self.successful += other.successful
        for k, v in other.metrics.items():
            self.metrics[k] = self.metrics.get(k, 0) + v


@dataclass
class PageResult:
    next_after: str | None  # None: that was the last page
    counts: dict[str, TreatmentCounts] = field(default_factory=dict)  # by treatment id


@dataclass
class FinishRequest:
    run: RunRef
    counts: dict[str, TreatmentCounts]
    timezones: int = 0  # local-time runs: the zones the run rolled through


@workflow.defn
class CampaignWorkflow:
    def __init__(self) -> None:
        self._refreshed = False

    @workflow.signal(name=REFRESH)
    def refresh(self) -> None:
        """The campaign was created, updated, paused or resumed: re-read it before the next step."""
        self._refreshed = True

    @workflow.run
    async def run(self, request: CampaignInput) -> None:
        while True:
            self._refreshed = False
            plan: RunPlan = await workflow.execute_activity(
                PLAN_RUN,
                replace(request, now=workflow.now().isoformat()),
                result_type=RunPlan,
                start_to_close_timeout=QUICK,
                retry_policy=RETRY,
            )
            if plan.action == "done" or plan.at is None:
                return
            wait = (read_iso(plan.at) - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(lambda: self._refreshed, timeout=timedelta(seconds=wait))
                    continue  # the campaign changed while waiting: plan again from its new definition
                except TimeoutError:
                    pass
            if not plan.paused:  # a paused campaign skips the runs that fall due meanwhile
                run = RunRef(
                    request.app_id, request.campaign_id, request.run_number, plan.version, plan.at, request.treatment
                )
                if plan.local_time:
                    # A local-time run lasts until its last zone's wave, which may be after the
                    # next run is due: it runs as a child of its own, and the schedule goes on.
                    # The run is started here, so the next plan sees it running.
                    await workflow.execute_activity(START_RUN, run, start_to_close_timeout=QUICK, retry_policy=RETRY)
                    await workflow.start_child_workflow(
                        CampaignRunWorkflow.run,
                        LocalRun(run, plan),
                        id=f"{workflow.info().workflow_id}-run-{request.run_number}",
                        parent_close_policy=ParentClosePolicy.ABANDON,
                    )
                else:
                    await execute_run(run, plan)
            workflow.continue_as_new(
                CampaignInput(
                    request.app_id, request.campaign_id, request.run_number + 1, plan.at, treatment=request.treatment
                )
            )


@dataclass
class LocalRun:
    run: RunRef
    plan: RunPlan


@workflow.defn
class CampaignRunWorkflow:
    """One local-time run of a campaign, rolling through the time zones' waves."""

    @workflow.run
    async def run(self, request: LocalRun) -> None:
        await execute_run(request.run, request.plan, started=True)


async def execute_run(run: RunRef, plan: RunPlan, *, started: bool = False) -> None:
    # Priority orders this campaign's sends against others' when the queue is backlogged.
    priority = Priority(priority_key=plan.priority) if plan.priority else Priority.default
    if not started:
        await workflow.execute_activity(START_RUN, run, start_to_close_timeout=QUICK, retry_policy=RETRY)
    totals: dict[str, TreatmentCounts] = {}
    waves: list[Wave] = [Wave(run.scheduled_start, [])]
    if plan.local_time:
        waves = await workflow.execute_activity(
            LOCAL_WAVES, run, result_type=list[Wave], start_to_close_timeout=QUICK, retry_policy=RETRY
        )
    for wave in waves:
        wait = (read_iso(wave.at) - workflow.now()).total_seconds()
        if wait > 0:
            await workflow.sleep(wait)
        await _send_all(run, wave.zones if plan.local_time else None, priority, totals)
    await workflow.execute_activity(
        FINISH_RUN,
        FinishRequest(run, totals, sum(len(w.zones) for w in waves) if plan.local_time else 0),
        start_to_close_timeout=QUICK,
        retry_policy=RETRY,
    )


async def _send_all(
    run: RunRef, zones: list[str] | None, priority: Priority, totals: dict[str, TreatmentCounts]
) -> None:
    after: str | None = None
    while True:
        page: PageResult = await workflow.execute_activity(
            SEND_PAGE,
            PageRequest(run, workflow.now().isoformat(), after, zones),
            task_queue=send_task_queue(),
            result_type=PageResult,
            start_to_close_timeout=timedelta(minutes=10),
            # A worker that dies mid-page is noticed this fast, and the page is retried elsewhere.
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RETRY,
            priority=priority,
        )
        for treatment, counts in page.counts.items():
            totals.setdefault(treatment, TreatmentCounts()).add(counts)
        if page.next_after is None:
            return
        after = page.next_after


SEND_TRIGGERED = "campaign_send_triggered"
# Pinpoint drops an event-triggered message it cannot deliver within 5 minutes of the event; the
# worker's setting (trigger_max_delay_seconds) may change the delay, which reaches here in the
# batch so the workflow reads no configuration.
LATE_AFTER = timedelta(minutes=5)


def trigger_workflow_id(app_id: str, campaign_id: str, first_trigger: int) -> str:
    """A batch of events that matched one campaign, named by its first outbox row: handing the
    same batch over again after a dispatcher crash finds the workflow already started."""
    return f"campaign-{app_id}-{campaign_id}-triggers-{first_trigger}"


class TriggeredEvent(NamedTuple):
    endpoint_id: str
    event_id: str
    event_time: str  # ISO instant the event happened


@dataclass
class TriggerBatch:
    """The events travel as columns, not as a list of dataclasses: the SDK's converter reads the
    type hints of every dataclass it decodes, which cost more than the rest of a small send."""

    app_id: str
    campaign_id: str
    endpoint_ids: list[str]
    event_ids: list[str]
    event_times: list[str]
    max_delay_seconds: float = LATE_AFTER.total_seconds()
    # Set on the last call, once the batch could not be sent before its deadline: what is still
    # unsent is recorded as MAXIMUM_DELAY_EXCEEDED instead of being lost without a trace.
    expire: bool = False

    @property
    def events(self) -> list[TriggeredEvent]:
        return [TriggeredEvent(*e) for e in zip(self.endpoint_ids, self.event_ids, self.event_times, strict=True)]


# Not sandboxed: a batch is a few hundred events at most and a sandbox costs more CPU to set up
# than this deterministic sequence does to run (it reads no clock, no randomness, no I/O).
@workflow.defn(sandboxed=False)
class CampaignTriggerWorkflow:
    """Events that matched an event-triggered campaign: one send to each endpoint that reported
    one, if it is still in the campaign's segment, within the campaign's allowed delay."""

    @workflow.run
    async def run(self, batch: TriggerBatch) -> dict[str, int]:
        # A local activity: the sends run in the worker that took the workflow task, without a
        # round trip through the server's activity queue.
        deadline = timedelta(seconds=batch.max_delay_seconds) + timedelta(seconds=30)
        try:
            outcomes: dict[str, int] = await workflow.execute_local_activity(
                SEND_TRIGGERED,
                batch,
                result_type=dict[str, int],
                schedule_to_close_timeout=deadline,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
        except ActivityError:
            outcomes = await workflow.execute_local_activity(
                SEND_TRIGGERED,
                replace(batch, expire=True),
                result_type=dict[str, int],
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
            )
        return outcomes
