"""Segments: the latest version in `segments`, every definition in `segment_versions`, the
static endpoint list of imported segments in `segment_members`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store.tables import Segment, SegmentMember, SegmentVersion

segments: Any = Segment.__table__  # type: ignore[attr-defined]
versions: Any = SegmentVersion.__table__  # type: ignore[attr-defined]
members: Any = SegmentMember.__table__  # type: ignore[attr-defined]


async def insert_version(
    conn: AsyncConnection,
    app_id: str,
    segment_id: str,
    version: int,
    name: str | None,
    dimensions: dict[str, Any] | None,
    segment_groups: dict[str, Any] | None,
    import_definition: dict[str, Any] | None,
) -> None:
    """One row of a segment's history; the `segments` row says which version is the latest."""
    await conn.execute(
        insert(versions).values(
            app_id=app_id,
            segment_id=segment_id,
            version=version,
            name=name,
            dimensions=dimensions,
            segment_groups=segment_groups,
            import_definition=import_definition,
        )
    )


async def create(
    conn: AsyncConnection,
    *,
    app_id: str,
    segment_id: str,
    segment_type: str,
    name: str | None,
    dimensions: dict[str, Any] | None,
    segment_groups: dict[str, Any] | None,
    import_definition: dict[str, Any] | None = None,
) -> None:
    await conn.execute(insert(segments).values(app_id=app_id, id=segment_id, segment_type=segment_type, version=1))
    await insert_version(conn, app_id, segment_id, 1, name, dimensions, segment_groups, import_definition)


async def add_version(
    conn: AsyncConnection,
    *,
    app_id: str,
    segment_id: str,
    name: str | None,
    dimensions: dict[str, Any] | None,
    segment_groups: dict[str, Any] | None,
    import_definition: dict[str, Any] | None,
) -> int:
    """A new version whose members the caller has already merged with the previous one."""
    version = (
        await conn.execute(
            update(segments)
            .where(segments.c.app_id == app_id, segments.c.id == segment_id)
            .values(version=segments.c.version + 1, updated_at=func.now())
            .returning(segments.c.version)
        )
    ).scalar_one()
    await insert_version(conn, app_id, segment_id, int(version), name, dimensions, segment_groups, import_definition)
    return int(version)


def _joined() -> Any:
    return select(
        segments.c.app_id,
        segments.c.id,
        segments.c.segment_type,
        segments.c.created_at,
        versions.c.version,
        versions.c.name,
        versions.c.dimensions,
        versions.c.segment_groups,
        versions.c.import_definition,
        versions.c.created_at.label("modified_at"),
    ).join(versions, (versions.c.app_id == segments.c.app_id) & (versions.c.segment_id == segments.c.id))


async def get(
    conn: AsyncConnection, app_id: str, segment_id: str, version: int | None = None, *, lock: bool = False
) -> dict[str, Any]:
    """The segment at `version` (the latest when None); NotFound when there is none."""
    stmt = _joined().where(segments.c.app_id == app_id, segments.c.id == segment_id)
    stmt = stmt.where(versions.c.version == (version if version is not None else segments.c.version))
    if lock:
        stmt = stmt.with_for_update(of=segments)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


async def page(
    conn: AsyncConnection, app_id: str, *, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    stmt = (
        _joined()
        .where(segments.c.app_id == app_id, versions.c.version == segments.c.version)
        .order_by(segments.c.created_at, segments.c.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(segments.c.created_at, segments.c.id) > tuple_(*after))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def version_page(
    conn: AsyncConnection, app_id: str, segment_id: str, *, after: int | None, limit: int
) -> list[dict[str, Any]]:
    stmt = (
        _joined()
        .where(segments.c.app_id == app_id, segments.c.id == segment_id)
        .order_by(versions.c.version)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(versions.c.version > after)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def remove(conn: AsyncConnection, app_id: str, segment_id: str) -> None:
    """Versions and members go with the segment (foreign keys cascade)."""
    await conn.execute(delete(segments).where(segments.c.app_id == app_id, segments.c.id == segment_id))


async def add_members(conn: AsyncConnection, app_id: str, segment_id: str, endpoint_ids: Sequence[str]) -> None:
    """Idempotent: an import retried after a crash adds nothing twice."""
    if endpoint_ids:
        rows = [{"app_id": app_id, "segment_id": segment_id, "endpoint_id": e} for e in dict.fromkeys(endpoint_ids)]
        await conn.execute(insert(members).values(rows).on_conflict_do_nothing())


async def member_count(conn: AsyncConnection, app_id: str, segment_id: str) -> int:
    stmt = select(func.count()).where(members.c.app_id == app_id, members.c.segment_id == segment_id)
    return int((await conn.execute(stmt)).scalar_one())
