"""Writing and reading a journey: CreateJourney's and UpdateJourney's work and the
JourneyResponse, shared by their routes (api/routes/journeys.py) and the console's journey
editor, so that both validate alike and refuse with the same errors (as api/campaigns.py does for
campaigns).

A request is checked on its own (rules.journeys.check_journey), then against the project: what
it names must exist, and publishing (State ACTIVE) needs a review without errors and room in the
active-journey quotas. The journey's workflow hears of every committed change (a command written
with it, engine/commands.py, carried out by the worker's outbox dispatcher)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import check_functions, invocation_problems
from api.journey_review import check_event_segment, refuse_missing, review_failed, review_of
from engine import commands
from openpoint.errors import BadRequest, Conflict
from rules import journeys as rules
from rules.instants import parse_instant
from rules.journey_review import Finding
from store import apps as apps_store
from store import journeys as store
from store import tags as tags_store
from wire.arns import Arn
from wire.codec import decode_body, iso
from wire.model import operation

FIELD = rules.FIELD
# Pinpoint's account quotas [Q], applied per project. PAUSED journeys hold their place.
MAX_ACTIVE, MAX_ACTIVE_EVENT = 50, 20
# Request members the response rebuilds, or that only UpdateJourneyState changes after creation.
NOT_STORED = frozenset({"State", "CreationDate", "LastModifiedDate"})
# What an ACTIVE journey may still change; of Schedule only the EndTime. Anything else is a conflict.
EDITABLE_WHEN_ACTIVE = frozenset(
    "Name Limits QuietTime WaitForQuietTime Schedule RefreshFrequency RefreshOnSegmentUpdate"
    " SendingSchedule OpenHours ClosedDays".split()
)
NOT_EDITABLE = frozenset({"PAUSED", "CANCELLED", "COMPLETED", "CLOSED"})


def write_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A WriteJourneyRequest from fields that did not come over the wire (the console's form),
    decoded and checked against botocore's model as a request body would be."""
    op = operation("CreateJourney")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def journey_arn(ctx: Context, app_id: str, journey_id: str) -> str:
    return Arn("journeys", app_id, journey_id).render(ctx.settings)


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


async def publishable(
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


async def create(ctx: Context, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` is a decoded WriteJourneyRequest; answers CreateJourney's JourneyResponse."""
    state = body.get("State") or "DRAFT"
    journey_id = uuid.uuid4().hex
    # Publishing asks Lambda, as the review does, whether its functions can be invoked.
    functions = await invocation_problems(ctx, app_id, body) if state == "ACTIVE" else {}
    async with ctx.engine.begin() as conn:
        await apps_store.get(conn, app_id, lock=state == "ACTIVE")
        definition, errors = await _accept(conn, app_id, body, None, functions)
        check_functions(ctx, definition, FIELD)
        if state == "ACTIVE":
            await publishable(conn, app_id, definition, errors, field=f"{FIELD}.State")
        await store.create(conn, app_id=app_id, journey_id=journey_id, state=state, definition=definition)
        out = await response(ctx, conn, await store.get(conn, app_id, journey_id))
        await commands.refresh_journey(conn, app_id, journey_id)
    return out


def _state_after_update(current: str, requested: str | None) -> str:
    if current in NOT_EDITABLE:
        raise Conflict(f"The journey is {current}: a paused journey cannot be edited, and an ended one never can.")
    if current == "ACTIVE" and requested == "DRAFT":
        raise Conflict("An ACTIVE journey cannot go back to DRAFT.")
    return requested or current


async def update(ctx: Context, app_id: str, journey_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """UpdateJourney: the decoded WriteJourneyRequest replaces the definition (WriteJourneyRequest
    has no tags: TagResource sets them); answers the JourneyResponse."""
    requested = body.get("State")
    # The journey may be (or become) ACTIVE: then its functions must be invocable, as in review.
    functions = await invocation_problems(ctx, app_id, body) if requested != "DRAFT" else {}
    async with ctx.engine.begin() as conn:
        await apps_store.get(conn, app_id, lock=requested == "ACTIVE")
        current = await store.get(conn, app_id, journey_id, lock=True)
        state = _state_after_update(current["state"], requested)
        definition, errors = await _accept(conn, app_id, body, current, functions if state == "ACTIVE" else {})
        check_functions(ctx, definition, FIELD)
        if state == "ACTIVE" and current["state"] != "ACTIVE":
            await publishable(conn, app_id, definition, errors, field=f"{FIELD}.State")
        elif state == "ACTIVE" and errors:
            raise review_failed(errors)
        await store.replace(conn, app_id, journey_id, state=state, definition=definition)
        out = await response(ctx, conn, await store.get(conn, app_id, journey_id))
        await commands.refresh_journey(conn, app_id, journey_id)
    return out
