"""How the campaign API drives the campaign workflows: start on create, a signal on update
(including pause and resume), cancellation on delete. Event-triggered campaigns have no
long-running workflow; PutEvents starts their sends."""

from __future__ import annotations

from sqlalchemy import text
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from activities.campaigns import own_schedules
from api.context import Context
from api.outages import engine_error
from store import campaigns as campaigns_store
from workflows.campaign import REFRESH, CampaignInput, CampaignWorkflow, workflow_id


async def start(ctx: Context, app_id: str, campaign_id: str) -> None:
    """Start the campaign's workflow, or tell the running one to re-read the campaign (one
    signal-with-start, so a create racing an update cannot start two). A campaign re-scheduled
    after its workflow ended goes on from its next run number, so its new runs get new
    idempotency keys and activities instead of colliding with the old ones."""
    async with ctx.engine.connect() as conn:
        done = await conn.scalar(
            text("SELECT max(run_number) + 1 FROM campaign_activities WHERE app_id = :a AND campaign_id = :c"),
            {"a": app_id, "c": campaign_id},
        )
        found = await campaigns_store.definition(conn, app_id, campaign_id)
    groups: list[str | None] = [None, *own_schedules(found["definition"] if found else {})]
    client = await ctx.temporal()
    try:
        for group in groups:
            await client.start_workflow(
                CampaignWorkflow.run,
                CampaignInput(app_id=app_id, campaign_id=campaign_id, run_number=done or 0, treatment=group),
                id=workflow_id(app_id, campaign_id, group),
                task_queue=ctx.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                start_signal=REFRESH,
            )
    except RPCError as e:
        raise engine_error(e, "The campaign could not be scheduled") from None


async def stop(ctx: Context, app_id: str, campaign_id: str) -> None:
    """DeleteCampaign: no run starts after this; a batch being sent finishes."""
    client = await ctx.temporal()
    # The campaign's workflow and those of treatments on schedules of their own (at most 4).
    for group in (None, "1", "2", "3", "4"):
        handle: WorkflowHandle[CampaignWorkflow, None] = client.get_workflow_handle(
            workflow_id(app_id, campaign_id, group)
        )
        try:
            await handle.cancel()
        except RPCError:
            pass  # not running (completed, or never started)
