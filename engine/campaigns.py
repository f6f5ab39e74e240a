"""The campaign family's Temporal client side: a campaign's workflows (one, plus one per
treatment on a schedule of its own) started, told to re-read the campaign, or stopped; and the
short workflows that send event-triggered messages."""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from engine.outages import unreachable
from rules.campaigns import EVENT, frequency, own_schedules
from store import campaigns as campaigns_store
from workflows.campaign import REFRESH as CAMPAIGN_REFRESH
from workflows.campaign import (
    CampaignInput,
    CampaignTriggerWorkflow,
    CampaignWorkflow,
    TriggerBatch,
    trigger_workflow_id,
    workflow_id,
)


async def start_triggers(client: Client, task_queue: str, batch: TriggerBatch, first_row: int) -> None:
    """The workflow that sends a batch of a campaign's event triggers, named by the batch's
    first outbox row: a batch handed over twice starts once."""
    with contextlib.suppress(WorkflowAlreadyStartedError):  # handed over before: it runs already
        await client.start_workflow(
            CampaignTriggerWorkflow.run,
            batch,
            id=trigger_workflow_id(batch.app_id, batch.campaign_id, first_row),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            request_eager_start=True,
        )


async def start_or_refresh(client: Client, engine: AsyncEngine, task_queue: str, app_id: str, campaign_id: str) -> None:
    """Start the campaign's workflows or tell the running ones to re-read the campaign (one
    signal-with-start each, so a create racing an update cannot start two). A campaign
    re-scheduled after its workflow ended goes on from its next run number, so its new runs get
    new idempotency keys and activities instead of colliding with the old ones."""
    async with engine.connect() as conn:
        done = await campaigns_store.next_run_number(conn, app_id, campaign_id)
        found = await campaigns_store.definition(conn, app_id, campaign_id)
    if found is None or found["state"] == "DELETED":
        return  # deleted before the command was carried out
    if frequency(found["definition"]) == EVENT:
        return  # turned into an event campaign since: its sends start from the outbox
    for group in [None, *own_schedules(found["definition"])]:
        await client.start_workflow(
            CampaignWorkflow.run,
            CampaignInput(app_id=app_id, campaign_id=campaign_id, run_number=done, treatment=group),
            id=workflow_id(app_id, campaign_id, group),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=CAMPAIGN_REFRESH,
        )


async def stop(client: Client, app_id: str, campaign_id: str) -> None:
    """No run starts after this; a batch being sent finishes. The campaign's workflow and those
    of treatments on schedules of their own (at most 4)."""
    for group in (None, "1", "2", "3", "4"):
        handle: WorkflowHandle[CampaignWorkflow, None] = client.get_workflow_handle(
            workflow_id(app_id, campaign_id, group)
        )
        try:
            await handle.cancel()
        except RPCError as e:
            if unreachable(e):
                raise
            continue  # not running (completed, or never started)
