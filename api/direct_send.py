"""Running a direct send from the gateway (engine/direct_send.py), with Temporal's troubles
answered as the modeled, retryable error."""

from __future__ import annotations

from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from api.context import Context
from api.outages import engine_error
from engine import direct_send
from workflows.shared import DeliveryResult, DirectSendInput


async def run_direct_send(ctx: Context, workflow_id: str, request: DirectSendInput) -> list[DeliveryResult]:
    """Temporal itself being down answers EngineUnavailable; a workflow started while no worker
    polls completes once one does."""
    try:
        client = await ctx.temporal()
        return await direct_send.run_direct_send(client, ctx.settings.task_queue, workflow_id, request)
    except (WorkflowFailureError, RPCError) as e:
        raise engine_error(e, "The message could not be sent") from None
