"""UpdateJourneyState's work: publish, pause, resume and cancel, one function per allowed
(from, to). Shared by the route (api/routes/journeys.py) and the console's journey page, so both
refuse alike (a journey with review errors, a pause without RefreshFrequency, a resume too soon).
The journey's workflow hears of the change through a command written with it (engine/commands.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import invocation_problems
from api.journey_review import review_of
from api.journeys import publishable, response
from engine import commands
from openpoint.errors import BadRequest
from rules import journeys as rules
from store import apps as apps_store
from store import journeys as store
from wire.codec import decode_body, iso
from wire.model import operation

STATE_FIELD = "JourneyStateRequest.State"
RESUME_AFTER = timedelta(minutes=5)

Transition = Callable[[AsyncConnection, str, dict[str, Any]], Awaitable[None]]


def state_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A JourneyStateRequest from fields that did not come over the wire (the console's buttons),
    decoded and checked against botocore's model as a request body would be."""
    op = operation("UpdateJourneyState")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


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


def targets(state: str) -> list[str]:
    """The states a journey in `state` may be asked to become (the console offers these)."""
    return [to for (frm, to) in TRANSITIONS if frm == state]


async def update_state(ctx: Context, app_id: str, journey_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """UpdateJourneyState with a decoded JourneyStateRequest; returns the JourneyResponse."""
    target = body.get("State")
    if target is None:
        raise BadRequest(f"Missing required member {STATE_FIELD}.")
    functions: Mapping[str, str] = {}
    if target == "ACTIVE":  # Lambda is asked before the transaction: it may take a while
        async with ctx.engine.connect() as conn:
            stored = await store.get(conn, app_id, journey_id)
        functions = await invocation_problems(ctx, app_id, stored["definition"])
    async with ctx.engine.begin() as conn:
        await apps_store.get(conn, app_id, lock=target == "ACTIVE")
        journey = await store.get(conn, app_id, journey_id, lock=True)
        change = TRANSITIONS.get((journey["state"], target))
        if change is None:
            raise BadRequest(
                f"Invalid value for {STATE_FIELD}: a {journey['state']} journey cannot become {target}. ACTIVE"
                " publishes a DRAFT or resumes a PAUSED journey, PAUSED pauses an ACTIVE one, CANCELLED ends"
                " a journey for good."
            )
        await (_publish(conn, app_id, journey, functions) if change is _publish else change(conn, app_id, journey))
        out = await response(ctx, conn, await store.get(conn, app_id, journey_id))
        await commands.refresh_journey(conn, app_id, journey_id)
    return out
