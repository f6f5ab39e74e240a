"""Journeys: one row each, the accepted WriteJourneyRequest and the state.

The state column is what the journey is doing: DRAFT and ACTIVE come from the API, PAUSED and
CANCELLED from UpdateJourneyState, CLOSED from the journey's workflow when entry has ended, and
DELETED while the workflow stops the participants of a deleted journey (the API no longer sees
it then). COMPLETED is read, not stored: a closed journey with nobody left inside.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store.tables import Journey, JourneyParticipant, JourneyRun, Segment, Template, TemplateVersion

journeys: Any = Journey.__table__  # type: ignore[attr-defined]
participants: Any = JourneyParticipant.__table__  # type: ignore[attr-defined]

HIDDEN = "DELETED"


def _with_completion() -> Any:
    nobody_left = ~exists().where(
        participants.c.app_id == journeys.c.app_id,
        participants.c.journey_id == journeys.c.id,
        participants.c.status == "ACTIVE",
        participants.c.test_run_id.is_(None),
    )
    return select(journeys, and_(journeys.c.state == "CLOSED", nobody_left).label("completed"))


def _row(r: Any) -> dict[str, Any]:
    row = dict(r)
    if row.pop("completed"):
        row["state"] = "COMPLETED"
    return row


async def get(
    conn: AsyncConnection, app_id: str, journey_id: str, *, lock: bool = False, hidden: bool = False
) -> dict[str, Any]:
    """The journey; NotFound when it does not exist (or is being deleted, unless `hidden`)."""
    stmt = _with_completion().where(journeys.c.app_id == app_id, journeys.c.id == journey_id)
    if not hidden:
        stmt = stmt.where(journeys.c.state != HIDDEN)
    if lock:
        stmt = stmt.with_for_update(of=journeys)
    r = (await conn.execute(stmt)).mappings().first()
    if r is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return _row(r)


async def find(conn: AsyncConnection, app_id: str, journey_id: str) -> dict[str, Any] | None:
    """The journey as the engine sees it, deleted ones included; None when the rows are gone."""
    try:
        return await get(conn, app_id, journey_id, hidden=True)
    except NotFound:
        return None


async def create(
    conn: AsyncConnection, *, app_id: str, journey_id: str, state: str, definition: dict[str, Any]
) -> None:
    await conn.execute(
        insert(journeys).values(
            app_id=app_id,
            id=journey_id,
            state=state,
            definition=definition,
            published_at=func.now() if state == "ACTIVE" else None,
        )
    )


async def replace(
    conn: AsyncConnection, app_id: str, journey_id: str, *, state: str, definition: dict[str, Any]
) -> None:
    await conn.execute(
        update(journeys)
        .where(journeys.c.app_id == app_id, journeys.c.id == journey_id)
        .values(
            state=state,
            definition=definition,
            updated_at=func.now(),
            published_at=func.coalesce(journeys.c.published_at, func.now()) if state == "ACTIVE" else None,
        )
    )


async def set_state(conn: AsyncConnection, app_id: str, journey_id: str, state: str) -> datetime:
    """A state change; returns its instant, which participants use to order what they hear."""
    values: dict[str, Any] = {"state": state, "updated_at": func.clock_timestamp()}
    if state == "PAUSED":
        values["paused_at"] = func.clock_timestamp()
    changed = await conn.execute(
        update(journeys)
        .where(journeys.c.app_id == app_id, journeys.c.id == journey_id)
        .values(**values)
        .returning(journeys.c.updated_at)
    )
    at: datetime = changed.scalar_one()
    return at


async def page(
    conn: AsyncConnection, app_id: str, *, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    """The project's journeys, oldest first."""
    stmt = (
        _with_completion()
        .where(journeys.c.app_id == app_id, journeys.c.state != HIDDEN)
        .order_by(journeys.c.created_at, journeys.c.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(journeys.c.created_at, journeys.c.id) > tuple_(*after))
    return [_row(r) for r in (await conn.execute(stmt)).mappings()]


async def count_active(conn: AsyncConnection, app_id: str, *, event_started: bool = False) -> int:
    stmt = select(func.count()).where(journeys.c.app_id == app_id, journeys.c.state.in_(("ACTIVE", "PAUSED")))
    if event_started:
        stmt = stmt.where(journeys.c.definition["StartCondition"].has_key("EventStartCondition"))
    return int((await conn.execute(stmt)).scalar_one())


async def remove(conn: AsyncConnection, app_id: str, journey_id: str) -> None:
    """Runs, participants, steps, test runs and listeners go with the journey (cascade)."""
    await conn.execute(delete(journeys).where(journeys.c.app_id == app_id, journeys.c.id == journey_id))


# -- what the journey API reads besides journeys (api/routes/journeys.py) ------------------------
runs: Any = JourneyRun.__table__  # type: ignore[attr-defined]
segments: Any = Segment.__table__  # type: ignore[attr-defined]
templates: Any = Template.__table__  # type: ignore[attr-defined]
template_versions: Any = TemplateVersion.__table__  # type: ignore[attr-defined]


async def run_page(
    conn: AsyncConnection, app_id: str, journey_id: str, *, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """GetJourneyRuns: the journey's entry runs, newest first."""
    stmt = (
        select(runs)
        .where(runs.c.app_id == app_id, runs.c.journey_id == journey_id)
        .order_by(runs.c.run_number.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(runs.c.run_number < before)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def existing_segments(conn: AsyncConnection, app_id: str, segment_ids: Collection[str]) -> frozenset[str]:
    """Which of `segment_ids` are segments of the project."""
    if not segment_ids:
        return frozenset()
    stmt = select(segments.c.id).where(segments.c.app_id == app_id, segments.c.id.in_(list(segment_ids)))
    return frozenset((await conn.execute(stmt)).scalars())


async def existing_templates(
    conn: AsyncConnection, names: Collection[str], versions: Collection[int]
) -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str, str]]]:
    """((type, name), (type, name, version)) of the templates called `names`, of every type, and
    of those of their versions numbered in `versions`: what a journey's activities could name."""
    kinds = select(templates.c.template_type, templates.c.name).where(templates.c.name.in_(list(names)))
    numbered = select(template_versions.c.template_type, template_versions.c.name, template_versions.c.version).where(
        template_versions.c.name.in_(list(names)), template_versions.c.version.in_(list(versions))
    )
    return (
        frozenset((t, n) for t, n in await conn.execute(kinds)),
        frozenset((t, n, str(v)) for t, n, v in await conn.execute(numbered)),
    )


_REFRESHING_ON = text(
    """
    SELECT id FROM journeys
    WHERE app_id = :app AND state = 'ACTIVE'
      AND (definition ->> 'RefreshOnSegmentUpdate')::boolean
      AND definition -> 'StartCondition' -> 'SegmentStartCondition' ->> 'SegmentId' = :segment
    """
)


async def refreshing_on(conn: AsyncConnection, app_id: str, segment_id: str) -> list[str]:
    """ACTIVE journeys started from the segment that admit its new members on every update."""
    return [r.id for r in await conn.execute(_REFRESHING_ON, {"app": app_id, "segment": segment_id})]
