"""Running a direct send (SendMessages, SendUsersMessages, SendOTPMessage): one short workflow
whose per-recipient results the caller waits for."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from workflows.direct_send import DirectSendWorkflow
from workflows.shared import DeliveryResult, DirectSendInput

# A workflow started while no worker polls waits in Temporal and completes once one does,
# within this long.
EXECUTION_TIMEOUT = timedelta(minutes=5)


async def run_direct_send(
    client: Client, task_queue: str, workflow_id: str, request: DirectSendInput
) -> list[DeliveryResult]:
    """The results, in the request's order; raises what Temporal raised."""
    output = await client.execute_workflow(
        DirectSendWorkflow.run, request, id=workflow_id, task_queue=task_queue, execution_timeout=EXECUTION_TIMEOUT
    )
    return output.results
