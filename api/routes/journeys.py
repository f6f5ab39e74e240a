"""Journeys: Create/Get/List/Update/Delete, UpdateJourneyState, GetJourneyRuns, tags
(OpenPoint's own review, API entry and test runs: api/routes/journey_extensions.py).

Create and Update are api/journeys.py's work, shared with the console's journey editor (a request
checked on its own, then against the project; publishing needs a clean review and room in the
quotas). The journey's workflow hears of every committed change (a command written with it,
engine/commands.py, carried out by the worker's outbox dispatcher); it also purges a deleted
journey, which the API hides at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import invocation_problems
from api.journey_review import review_of
from api.journeys import create, journey_arn, publishable, update
from api.journeys import response as journey_response
from api.operations import Call, pinpoint
from api.paging import encode_token, page_size, project_list, version_from
from api.routes.tags import TAGGABLE
from engine import commands
from openpoint.errors import BadRequest, NotFound
from rules import journeys as rules
from store import apps as apps_store
from store import journeys as store
from store import tags as tags_store
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["journeys"])
STATE_FIELD = "JourneyStateRequest.State"
RESUME_AFTER = timedelta(minutes=5)


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


# -- UpdateJourneyState: one function per allowed (from, to) --------------------------------------
Transition = Callable[[AsyncConnection, str, dict[str, Any]], Awaitable[None]]


async def _publish(
    conn: AsyncConnection, app_id: str, journey: dict[str, Any], functions: Mapping[str, str] | None = None
) -> None:
    definition = journey["definition"]
    rules.check_journey(definition, now=datetime.now(UTC))  # time has passed since it was written
    errors, _warnings = await review_of(conn, app_id, definition, functions)
    await publishable(conn, app_id, definition, errors, field=STATE_FIELD)
    # replace() (not set_state) records when the journey was first published.
    await store.replace(conn, app_id, journey["id"], state="ACTIVE", definition=definition)


async def _resume(conn: AsyncConnection, app_id: str, journey: dict[str, Any]) -> None:
    paused_at = journey["paused_at"]
    if paused_at is not None and datetime.now(UTC) < paused_at + RESUME_AFTER:
        raise BadRequest(
            f"Invalid value for {STATE_FIELD}: a paused journey can be resumed {RESUME_AFTER.seconds // 60} minutes"
            f" after it was paused, at {iso(paused_at + RESUME_AFTER)}."
        )
    await store.set_state(conn, app_id, journey["id"], "ACTIVE")


async def _pause(conn: AsyncConnection, app_id: str, journey: dict[str, Any]) -> None:
    if not journey["definition"].get("RefreshFrequency"):
        raise BadRequest(
            f"Invalid value for {STATE_FIELD}: only a journey with a segment refresh interval"
            " (RefreshFrequency) can be paused."
        )
    await store.set_state(conn, app_id, journey["id"], "PAUSED")


async def _cancel(conn: AsyncConnection, app_id: str, journey: dict[str, Any]) -> None:
    await store.set_state(conn, app_id, journey["id"], "CANCELLED")


TRANSITIONS: dict[tuple[str, str], Transition] = {
    ("DRAFT", "ACTIVE"): _publish,
    ("PAUSED", "ACTIVE"): _resume,
    ("ACTIVE", "PAUSED"): _pause,
    **{(state, "CANCELLED"): _cancel for state in ("DRAFT", "ACTIVE", "PAUSED", "CLOSED")},
}


@pinpoint(router, "UpdateJourneyState")
async def update_journey_state(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    target = call.body.get("State")
    if target is None:
        raise BadRequest(f"Missing required member {STATE_FIELD}.")
    functions: Mapping[str, str] = {}
    if target == "ACTIVE":  # Lambda is asked before the transaction: it may take a while
        async with call.ctx.engine.connect() as conn:
            stored = await store.get(conn, call.app_id, journey_id)
        functions = await invocation_problems(call.ctx, call.app_id, stored["definition"])
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id, lock=target == "ACTIVE")
        journey = await store.get(conn, call.app_id, journey_id, lock=True)
        change = TRANSITIONS.get((journey["state"], target))
        if change is None:
            raise BadRequest(
                f"Invalid value for {STATE_FIELD}: a {journey['state']} journey cannot become {target}. ACTIVE"
                " publishes a DRAFT or resumes a PAUSED journey, PAUSED pauses an ACTIVE one, CANCELLED ends"
                " a journey for good."
            )
        await (
            _publish(conn, call.app_id, journey, functions)
            if change is _publish
            else change(conn, call.app_id, journey)
        )
        out = await response(call.ctx, conn, await store.get(conn, call.app_id, journey_id))
        await commands.refresh_journey(conn, call.app_id, journey_id)
    return out


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
