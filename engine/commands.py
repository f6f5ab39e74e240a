"""Workflow commands: what the API writes into the outbox (store/outbox.py) together with the
change they act on, and what the worker's dispatcher does with them.

A campaign or journey change and the instruction to its workflow commit in one transaction, so
neither exists without the other: CreateCampaign answered 201 always gets its workflow, also
when Temporal was down at the time (the command waits in the outbox), and a request that fails
leaves no campaign without a workflow behind. The commands only say "read the campaign / the
journey again" (or "stop"); the workflows read the current state themselves, so commands that
arrive late, twice or out of order still converge on what the database says.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.client import Client

from engine import campaigns, journeys
from store import journeys as journeys_store
from store import outbox
from workflows.journey import REFRESH as JOURNEY_REFRESH
from workflows.journey import SEGMENT_CHANGED

CAMPAIGN_START = "campaign.start"  # start the campaign's workflows, or have them re-read it
CAMPAIGN_STOP = "campaign.stop"  # cancel them (DeleteCampaign, or a switch to EVENT)
JOURNEY_SIGNAL = "journey.signal"  # signal-with-start the journey's workflow


# -- written by the gateway, in the transaction of the change ------------------------------------
async def start_campaign(conn: AsyncConnection, app_id: str, campaign_id: str) -> None:
    await outbox.command(conn, app_id, CAMPAIGN_START, campaign_id)


async def stop_campaign(conn: AsyncConnection, app_id: str, campaign_id: str) -> None:
    await outbox.command(conn, app_id, CAMPAIGN_STOP, campaign_id)


async def refresh_journey(conn: AsyncConnection, app_id: str, journey_id: str) -> None:
    """Any change of the journey (publish, update, pause, resume, cancel, delete)."""
    await outbox.command(conn, app_id, JOURNEY_SIGNAL, journey_id, {"signal": JOURNEY_REFRESH})


async def segment_changed(conn: AsyncConnection, app_id: str, segment_id: str) -> None:
    """UpdateSegment: journeys started from it with RefreshOnSegmentUpdate admit its new members."""
    for journey_id in await journeys_store.refreshing_on(conn, app_id, segment_id):
        await outbox.command(conn, app_id, JOURNEY_SIGNAL, journey_id, {"signal": SEGMENT_CHANGED})


# -- carried out by the dispatcher ------------------------------------------------------------------
async def execute(client: Client, engine: AsyncEngine, task_queue: str, row: dict[str, Any]) -> None:
    """One command row; raises what Temporal raised when it could not be reached."""
    op, app_id, target = row["event"]["op"], row["app_id"], row["target_id"]
    if op == CAMPAIGN_START:
        await campaigns.start_or_refresh(client, engine, task_queue, app_id, target)
    elif op == CAMPAIGN_STOP:
        await campaigns.stop(client, app_id, target)
    elif op == JOURNEY_SIGNAL:
        await journeys.signal_journey(client, task_queue, app_id, target, row["event"]["signal"])
    else:
        raise ValueError(f"unknown workflow command {op!r}")
