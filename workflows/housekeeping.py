"""Housekeeping: one long-lived workflow (`openpoint-housekeeping`) that purges deleted projects'
big tables in bounded steps and applies event retention (rules/retention.py).

DeleteApp wakes it with a signal-with-start after its commit, and the worker starts it when it
starts, so a deletion made while Temporal was unreachable is purged at the latest on the next
worker start or the next idle tick. The queue itself lives in PostgreSQL (`app_purges`); the
workflow only paces the work, so losing or repeating a wake-up costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

HOUSEKEEPING_ID = "openpoint-housekeeping"
HOUSEKEEP = "housekeep"
WAKE = "wake"
IDLE = timedelta(minutes=1)  # between rounds when nothing is queued (also the grace re-check)
ROUNDS_PER_HISTORY = 200  # then continue-as-new, so the history stays small

log = logging.getLogger("openpoint.housekeeping")


@dataclass
class HousekeepingInput:
    rounds: int = 0


@dataclass
class HousekeepingStep:
    more: bool  # work is left that should not wait for the next tick


@workflow.defn
class HousekeepingWorkflow:
    def __init__(self) -> None:
        self._woken = False

    @workflow.signal(name=WAKE)
    def wake(self) -> None:
        self._woken = True

    @workflow.run
    async def run(self, state: HousekeepingInput) -> None:
        for _ in range(ROUNDS_PER_HISTORY):
            self._woken = False
            step: HousekeepingStep = await workflow.execute_activity(
                HOUSEKEEP,
                result_type=HousekeepingStep,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            if not step.more:
                try:
                    await workflow.wait_condition(lambda: self._woken, timeout=IDLE)
                except TimeoutError:
                    pass
        workflow.continue_as_new(HousekeepingInput(state.rounds + ROUNDS_PER_HISTORY))
