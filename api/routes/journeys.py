"""Journeys: Create/Get/List/Update/Delete, UpdateJourneyState, GetJourneyRuns, tags
(OpenPoint's own review, API entry and test runs: api/routes/journey_extensions.py).

A request is checked on its own (rules.journeys.check_journey), then against the project: what
it names must exist, and publishing (State ACTIVE) needs a review without errors and room in the
active-journey quotas. The journey's workflow hears of every committed change (a command written
with it, engine/commands.py, carried out by the worker's outbox dispatcher); it also purges a
deleted journey, which the API hides at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import check_functions, invocation_problems
from api.journey_review import check_event_segment, refuse_missing, review_failed, review_of
from api.operations import Call, pinpoint
from api.paging import encode_token, page_size, project_list, version_from
from api.routes.tags import TAGGABLE
from engine import commands
from openpoint.errors import BadRequest, Conflict, NotFound
from rules import journeys as rules
from rules.instants import parse_instant
from rules.journey_review import Finding
from store import apps as apps_store
from store import journeys as store
from store import tags as tags_store
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["journeys"])
FIELD = rules.FIELD
STATE_FIELD = "JourneyStateRequest.State"
# Pinpoint's account quotas [Q], applied per project. PAUSED journeys hold their place.
MAX_ACTIVE, MAX_ACTIVE_EVENT = 50, 20
RESUME_AFTER = timedelta(minutes=5)
# Request members the response rebuilds, or that only UpdateJourneyState changes after creation.
NOT_STORED = frozenset({"State", "CreationDate", "LastModifiedDate"})
# What an ACTIVE journey may still change; of Schedule only the EndTime. Anything else is a conflict.
EDITABLE_WHEN_ACTIVE = frozenset(
    "Name Limits QuietTime WaitForQuietTime Schedule RefreshFrequency RefreshOnSegmentUpdate"
    " SendingSchedule OpenHours ClosedDays".split()
)
NOT_EDITABLE = frozenset({"PAUSED", "CANCELLED", "COMPLETED", "CLOSED"})


def journey_arn(ctx: Context, app_id: str, journey_id: str) -> str:
    return Arn("journeys", app_id, journey_id).render(ctx.settings)


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    try:
        await store.get(conn, arn.app_id or "", arn.resource_id or "")
    except NotFound:
        return False
    return True


TAGGABLE["journeys"] = _exists


async def response(ctx: Context, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    # The definition keeps JourneySchedule's times as ISO-8601 text with the offset they were
    # written with, which botocore parses into datetimes.
    return {
        **row["definition"],
        "ApplicationId": row["app_id"],
        "Id": row["id"],
        "CreationDate": iso(row["created_at"]),
        "LastModifiedDate": iso(row["updated_at"]),
        "State": row["state"],
        "tags": await tags_store.get(conn, journey_arn(ctx, row["app_id"], row["id"])),
    }


# -- the project's facts and review ----------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    """Equal, an absent member counting as false, zero or empty (a client echoing a journey back
    may leave out what was never set)."""
    return (a or None) == (b or None)


def _check_active_edit(current: dict[str, Any], new: dict[str, Any], now: datetime) -> None:
    for member in sorted((set(current) | set(new)) - EDITABLE_WHEN_ACTIVE):
        if not _same(current.get(member), new.get(member)):
            raise Conflict(f"{FIELD}.{member} cannot change once the journey is ACTIVE.")
    old, schedule = current.get("Schedule") or {}, new.get("Schedule") or {}
    if not _same(parse_instant(old.get("StartTime")), parse_instant(schedule.get("StartTime"))):
        raise Conflict(f"{FIELD}.Schedule.StartTime cannot change once the journey is ACTIVE.")
    if not _same(old.get("Timezone"), schedule.get("Timezone")):
        raise Conflict(f"{FIELD}.Schedule.Timezone cannot change once the journey is ACTIVE.")
    end = parse_instant(schedule.get("EndTime"))
    if end is not None and end != parse_instant(old.get("EndTime")) and end < now:
        raise BadRequest(f"Invalid value for {FIELD}.Schedule.EndTime: an ACTIVE journey cannot end in the past.")


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """The definition as stored and read back: JSON only (JourneySchedule's datetimes become
    ISO-8601 text keeping their offset), so review() sees one form whether fresh or stored."""
    definition: dict[str, Any] = orjson.loads(orjson.dumps({k: v for k, v in body.items() if k not in NOT_STORED}))
    return definition


async def _accept(
    conn: AsyncConnection,
    app_id: str,
    body: dict[str, Any],
    current: dict[str, Any] | None,
    functions: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """Check a WriteJourneyRequest (nothing is written on refusal); returns the definition to
    store and its review errors, which block publishing only (`functions`: as review_of)."""
    now = datetime.now(UTC)
    rules.check_journey(body, now=now)
    definition = _stored(body)
    if current is not None and current["state"] == "ACTIVE":
        _check_active_edit(current["definition"], definition, now)
    errors, _warnings = await review_of(conn, app_id, definition, functions)
    refuse_missing(definition, errors)
    await check_event_segment(conn, app_id, definition)
    return definition, errors


async def _publishable(
    conn: AsyncConnection, app_id: str, definition: dict[str, Any], errors: list[Finding], *, field: str
) -> None:
    """A journey becoming ACTIVE: no review errors, and room in the quotas (the caller holds the
    project's row, so two publishes cannot both take the last place)."""
    if errors:
        raise review_failed(errors)
    if await store.count_active(conn, app_id) >= MAX_ACTIVE:
        raise BadRequest(f"Invalid value for {field}: a project has at most {MAX_ACTIVE} active journeys.")
    event = "EventStartCondition" in (definition.get("StartCondition") or {})
    if event and await store.count_active(conn, app_id, event_started=True) >= MAX_ACTIVE_EVENT:
        raise BadRequest(
            f"Invalid value for {field}: a project has at most {MAX_ACTIVE_EVENT} active event-triggered journeys."
        )


@pinpoint(router, "CreateJourney")
async def create_journey(call: Call) -> dict[str, Any]:
    body = call.body
    state = body.get("State") or "DRAFT"
    journey_id = uuid.uuid4().hex
    # Publishing asks Lambda, as the review does, whether its functions can be invoked.
    functions = await invocation_problems(call.ctx, call.app_id, body) if state == "ACTIVE" else {}
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id, lock=state == "ACTIVE")
        definition, errors = await _accept(conn, call.app_id, body, None, functions)
        check_functions(call.ctx, definition, FIELD)
        if state == "ACTIVE":
            await _publishable(conn, call.app_id, definition, errors, field=f"{FIELD}.State")
        await store.create(conn, app_id=call.app_id, journey_id=journey_id, state=state, definition=definition)
        out = await response(call.ctx, conn, await store.get(conn, call.app_id, journey_id))
        await commands.refresh_journey(conn, call.app_id, journey_id)
    return out


def _state_after_update(current: str, requested: str | None) -> str:
    if current in NOT_EDITABLE:
        raise Conflict(f"The journey is {current}: a paused journey cannot be edited, and an ended one never can.")
    if current == "ACTIVE" and requested == "DRAFT":
        raise Conflict("An ACTIVE journey cannot go back to DRAFT.")
    return requested or current


@pinpoint(router, "UpdateJourney")
async def update_journey(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    requested = call.body.get("State")
    # The journey may be (or become) ACTIVE: then its functions must be invocable, as in review.
    functions = await invocation_problems(call.ctx, call.app_id, call.body) if requested != "DRAFT" else {}
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id, lock=requested == "ACTIVE")
        current = await store.get(conn, call.app_id, journey_id, lock=True)
        state = _state_after_update(current["state"], requested)
        # The request replaces the definition. WriteJourneyRequest has no tags: TagResource sets them.
        definition, errors = await _accept(
            conn, call.app_id, call.body, current, functions if state == "ACTIVE" else {}
        )
        check_functions(call.ctx, definition, FIELD)
        if state == "ACTIVE" and current["state"] != "ACTIVE":
            await _publishable(conn, call.app_id, definition, errors, field=f"{FIELD}.State")
        elif state == "ACTIVE" and errors:
            raise review_failed(errors)
        await store.replace(conn, call.app_id, journey_id, state=state, definition=definition)
        out = await response(call.ctx, conn, await store.get(conn, call.app_id, journey_id))
        await commands.refresh_journey(conn, call.app_id, journey_id)
    return out


# -- UpdateJourneyState: one function per allowed (from, to) --------------------------------------
Transition = Callable[[AsyncConnection, str, dict[str, Any]], Awaitable[None]]


async def _publish(
    conn: AsyncConnection, app_id: str, journey: dict[str, Any], functions: Mapping[str, str] | None = None
) -> None:
    definition = journey["definition"]
    rules.check_journey(definition, now=datetime.now(UTC))  # time has passed since it was written
    errors, _warnings = await review_of(conn, app_id, definition, functions)
    await _publishable(conn, app_id, definition, errors, field=STATE_FIELD)
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
