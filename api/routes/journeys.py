"""Journeys: Create/Get/List/Update/Delete, UpdateJourneyState, GetJourneyRuns, tags
(OpenPoint's own review, API entry and test runs: api/routes/journey_extensions.py).

Create and Update are api/journeys.py's work, shared with the console's journey editor (a request
checked on its own, then against the project; publishing needs a clean review and room in the
quotas); UpdateJourneyState is api/journey_states.py's, shared with the console's journey page.
The journey's workflow hears of every committed change (a command written with it,
engine/commands.py, carried out by the worker's outbox dispatcher); it also purges a deleted
journey, which the API hides at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.journey_states import update_state
from api.journeys import create, journey_arn, update
from api.journeys import response as journey_response
from api.operations import Call, pinpoint
from api.paging import encode_token, page_size, project_list, version_from
from api.routes.tags import TAGGABLE
from engine import commands
from openpoint.errors import NotFound
from store import journeys as store
from store import tags as tags_store
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["journeys"])


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    try:
        await store.get(conn, arn.app_id or "", arn.resource_id or "")
    except NotFound:
        return False
    return True


TAGGABLE["journeys"] = _exists


async def response(ctx: Context, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    return await journey_response(ctx, conn, row)


@pinpoint(router, "CreateJourney")
async def create_journey(call: Call) -> dict[str, Any]:
    return await create(call.ctx, call.app_id, call.body)


@pinpoint(router, "UpdateJourney")
async def update_journey(call: Call) -> dict[str, Any]:
    return await update(call.ctx, call.app_id, call.labels["JourneyId"], call.body)


# -- UpdateJourneyState: api/journey_states.py (shared with the console's journey page) -----------
@pinpoint(router, "UpdateJourneyState")
async def update_journey_state(call: Call) -> dict[str, Any]:
    return await update_state(call.ctx, call.app_id, call.labels["JourneyId"], call.body)


# -- reads and delete ------------------------------------------------------------------------------
@pinpoint(router, "GetJourney")
async def get_journey(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return await response(call.ctx, conn, await store.get(conn, call.app_id, call.labels["JourneyId"]))


@pinpoint(router, "ListJourneys")
async def list_journeys(call: Call) -> dict[str, Any]:
    return await project_list(
        call.ctx.engine,
        call.app_id,
        call.query,
        lambda c, after, limit: store.page(c, call.app_id, after=after, limit=limit),
        lambda c, r: response(call.ctx, c, r),
    )


@pinpoint(router, "GetJourneyRuns")
async def get_journey_runs(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    limit = page_size(call.query.get("PageSize"))
    before = version_from(call.query.get("Token"))
    async with call.ctx.engine.connect() as conn:
        await store.get(conn, call.app_id, journey_id)
        rows = await store.run_page(conn, call.app_id, journey_id, before=before, limit=limit + 1)
    items = [
        {
            "CreationTime": iso(r["created_at"]),
            "LastUpdateTime": iso(r["updated_at"]),
            "RunId": r["run_id"],
            "Status": r["status"],
        }
        for r in rows[:limit]
    ]
    token = encode_token([rows[limit - 1]["run_number"]]) if len(rows) > limit else None
    return {"Item": items, "NextToken": token}


@pinpoint(router, "DeleteJourney")
async def delete_journey(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    async with call.ctx.engine.begin() as conn:
        out = await response(call.ctx, conn, await store.get(conn, call.app_id, journey_id, lock=True))
        # Hidden from the API at once; the journey's workflow stops its participants, then purges it.
        await store.set_state(conn, call.app_id, journey_id, store.HIDDEN)
        await tags_store.drop(conn, journey_arn(call.ctx, call.app_id, journey_id))
        await commands.refresh_journey(conn, call.app_id, journey_id)
    return out
