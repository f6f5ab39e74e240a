"""Starting and waking the housekeeping workflow (one per deployment): from the worker at
start-up and from DeleteApp, which queues a project's purge."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from workflows.housekeeping import HOUSEKEEPING_ID, WAKE, HousekeepingInput, HousekeepingWorkflow

log = logging.getLogger(__name__)


async def wake_housekeeping(client: Client, task_queue: str) -> bool:
    """Start the housekeeping workflow if it is not running, and wake it; False (logged) when
    Temporal cannot be reached: the queued work waits for the next start or tick."""
    try:
        await client.start_workflow(
            HousekeepingWorkflow.run,
            HousekeepingInput(),
            id=HOUSEKEEPING_ID,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=WAKE,
        )
        return True
    except Exception as e:  # noqa: BLE001 - best effort: the queue is in PostgreSQL
        log.warning("housekeeping not woken (%s); queued purges wait for its next round", e)
        return False
