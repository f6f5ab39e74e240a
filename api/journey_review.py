"""A journey's review with the facts of its project (templates, channels, segments, and the
Lambda functions a dry run refused), and the refusals that follow from it at create and update:
a segment or template the definition names that does not exist, an event-started journey built
on an imported segment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import invocation_problems
from openpoint.errors import BadRequest, NotFound
from rules.journey_graph import MESSAGE_TYPES, activity_type
from rules.journey_review import Finding, ProjectFacts, review
from store import channels as channels_store
from store import journeys as store
from store import segments as segments_store

FIELD = "WriteJourneyRequest"


def _values_of(member: str, value: Any) -> Iterator[Any]:
    """Every value of `member` anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from [item] if key == member else _values_of(member, item)
    elif isinstance(value, list):
        for item in value:
            yield from _values_of(member, item)


def _version_number(raw: Any) -> int | None:
    text = str(raw or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


async def review_of(
    conn: AsyncConnection, app_id: str, definition: dict[str, Any], functions: Mapping[str, str] | None = None
) -> tuple[list[Finding], list[Finding]]:
    """rules.journeys.review with the facts of the project that the definition refers to;
    `functions`: the Lambda functions a dry run refused (api/functions.py), when checked."""
    activities = (definition.get("Activities") or {}).values()
    messages = [a[kind] for a in activities if (kind := activity_type(a)) in MESSAGE_TYPES]
    names = {m["TemplateName"] for m in messages if m.get("TemplateName")}
    numbers = {n for m in messages if (n := _version_number(m.get("TemplateVersion"))) is not None}
    templates, versions = await store.existing_templates(conn, names, numbers)
    channels = frozenset(c["channel_type"] for c in await channels_store.all_of(conn, app_id) if c["enabled"])
    segments = await store.existing_segments(conn, app_id, {s for s in _values_of("SegmentId", definition) if s})
    facts = ProjectFacts(templates, versions, channels, segments, datetime.now(UTC), functions or {})
    return review(definition, facts)


def review_failed(errors: list[Finding]) -> BadRequest:
    listed = "; ".join(f"activity {f.activity}: {f.message}" if f.activity else f"journey: {f.message}" for f in errors)
    return BadRequest(f"Journey validation failed: {listed}")


def _missing_member(definition: dict[str, Any], finding: Finding) -> str:
    if finding.activity is None:
        start = definition.get("StartCondition") or {}
        member = "EventStartCondition" if start.get("EventStartCondition") else "SegmentStartCondition"
        return f"{FIELD}.StartCondition.{member}.SegmentId"
    kind = activity_type(definition["Activities"][finding.activity])
    at = f"{FIELD}.Activities.{finding.activity}.{kind}"
    return f"{at}.TemplateName" if finding.code == "MISSING_TEMPLATE" else at


def refuse_missing(definition: dict[str, Any], errors: list[Finding]) -> None:
    """Segments and templates a journey names must exist whatever its state, as a campaign's must;
    review() reports them on a stored journey, whose segment or template may go later."""
    for finding in errors:
        if finding.code in ("MISSING_SEGMENT", "MISSING_TEMPLATE"):
            raise NotFound(f"{_missing_member(definition, finding)}: {finding.message}")


async def _builds_on_import(
    conn: AsyncConnection, app_id: str, segment_id: str, version: int | None, seen: set[str]
) -> bool:
    if segment_id in seen:
        return False
    seen.add(segment_id)
    try:
        segment = await segments_store.get(conn, app_id, segment_id, version)
    except NotFound:
        return False  # a source that went is the segment's own problem
    if segment["segment_type"] == "IMPORT":
        return True
    groups = (segment["segment_groups"] or {}).get("Groups") or []
    for source in [s for g in groups for s in g.get("SourceSegments") or []]:
        if await _builds_on_import(conn, app_id, source["Id"], source.get("Version"), seen):
            return True
    return False


async def check_event_segment(conn: AsyncConnection, app_id: str, definition: dict[str, Any]) -> None:
    """An event-started journey's segment must be dynamic, down to its sources (PINPOINT.md §4.5)."""
    segment_id = ((definition.get("StartCondition") or {}).get("EventStartCondition") or {}).get("SegmentId")
    if segment_id and await _builds_on_import(conn, app_id, segment_id, None, set()):
        raise BadRequest(
            f"Invalid value for {FIELD}.StartCondition.EventStartCondition.SegmentId: an event-triggered journey"
            " needs a dynamic segment that neither is nor builds on an imported segment."
        )


def finding_response(f: Finding) -> dict[str, Any]:
    return {"ActivityId": f.activity, "Code": f.code, "Message": f.message}


async def journey_review(ctx: Context, app_id: str, journey_id: str) -> dict[str, Any]:
    """The review extension's answer for a stored journey (POST .../review; the console's journey
    page shows it on the nodes): errors block publishing, warnings are probably mistakes."""
    async with ctx.engine.connect() as conn:
        journey = await store.get(conn, app_id, journey_id)
    # Lambda is asked (a dry run) outside the database connection: it may take a while.
    functions = await invocation_problems(ctx, app_id, journey["definition"])
    async with ctx.engine.connect() as conn:
        errors, warnings = await review_of(conn, app_id, journey["definition"], functions)
    return {
        "JourneyId": journey_id,
        "Publishable": not errors,
        "Errors": [finding_response(f) for f in errors],
        "Warnings": [finding_response(f) for f in warnings],
    }


# -- writes ----------------------------------------------------------------------------------------
