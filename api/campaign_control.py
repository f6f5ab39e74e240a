"""How the campaign API drives the campaign workflows: start on create, a signal on update
(including pause and resume), cancellation on delete. Event-triggered campaigns have no
long-running workflow; PutEvents starts their sends."""

from __future__ import annotations

from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.context import Context
from openpoint.errors import InternalServerError
from workflows.campaign import REFRESH, CampaignInput, CampaignWorkflow, workflow_id


async def start(ctx: Context, app_id: str, campaign_id: str) -> None:
    """Start the campaign's workflow, or tell the running one to re-read the campaign (one
    signal-with-start, so a create racing an update cannot start two)."""
    client = await ctx.temporal()
    try:
        await client.start_workflow(
            CampaignWorkflow.run,
            CampaignInput(app_id=app_id, campaign_id=campaign_id),
            id=workflow_id(app_id, campaign_id),
            task_queue=ctx.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=REFRESH,
        )
    except RPCError as e:
        raise InternalServerError(f"The campaign could not be scheduled: {e}") from None


async def stop(ctx: Context, app_id: str, campaign_id: str) -> None:
    """DeleteCampaign: no run starts after this; a batch being sent finishes."""
    client = await ctx.temporal()
    handle: WorkflowHandle[CampaignWorkflow, None] = client.get_workflow_handle(workflow_id(app_id, campaign_id))
    try:
        await handle.cancel()
    except RPCError:
        pass  # not running (completed, or never started)
