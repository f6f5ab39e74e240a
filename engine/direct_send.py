"""Running a direct send (SendMessages, SendUsersMessages, SendOTPMessage): one short workflow
whose per-recipient results the caller waits for."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from workflows.direct_send import DirectSendWorkflow
from workflows.shared import DeliveryResult, DirectSendInput

# A workflow started while no worker polls waits in Temporal and completes once one does,
# within this long.
EXECUTION_TIMEOUT = timedelta(minutes=5)


async def run_direct_send(
    client: Client, task_queue: str, workflow_id: str, request: DirectSendInput
) -> list[DeliveryResult]:
    """The results, in the request's order; raises what Temporal raised. A second start with
    the id of a send still running waits for that one (a form submitted twice sends once; one
    submitted again after it finished starts a new run whose recipients keep their idempotency
    keys, so the delivery log answers with the first run's results)."""
    output = await client.execute_workflow(
        DirectSendWorkflow.run,
        request,
        id=workflow_id,
        task_queue=task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return output.results
