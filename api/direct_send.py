"""Running a direct send (SendMessages, SendUsersMessages, SendOTPMessage) from the gateway: one
short workflow whose per-recipient results the request waits for."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from api.operations import Call
from api.outages import engine_error
from workflows.direct_send import DirectSendWorkflow
from workflows.shared import DeliveryResult, DirectSendInput


async def run_direct_send(call: Call, workflow_id: str, request: DirectSendInput) -> list[DeliveryResult]:
    """A workflow started while no worker polls waits in Temporal and completes once one does
    (within the execution timeout); Temporal itself being down answers EngineUnavailable."""
    try:
        client = await call.ctx.temporal()
        output = await client.execute_workflow(
            DirectSendWorkflow.run,
            request,
            id=workflow_id,
            task_queue=call.ctx.settings.task_queue,
            execution_timeout=timedelta(minutes=5),
        )
    except (WorkflowFailureError, RPCError) as e:
        raise engine_error(e, "The message could not be sent") from None
    return output.results
