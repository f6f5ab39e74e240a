"""Campaigns: the latest version and the workflow's State in `campaigns`, every definition (the
accepted WriteCampaignRequest, tags excluded, treatment Ids filled in) in `campaign_versions`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store.segments import versions as segment_versions
from store.tables import Campaign, CampaignVersion

campaigns: Any = Campaign.__table__  # type: ignore[attr-defined]
versions: Any = CampaignVersion.__table__  # type: ignore[attr-defined]
_VERSION_OF = (versions.c.app_id == campaigns.c.app_id) & (versions.c.campaign_id == campaigns.c.id)


async def create(conn: AsyncConnection, *, app_id: str, campaign_id: str, definition: dict[str, Any]) -> None:
    await conn.execute(insert(campaigns).values(app_id=app_id, id=campaign_id, version=1))
    await conn.execute(
        insert(versions).values(app_id=app_id, campaign_id=campaign_id, version=1, definition=definition)
    )


async def add_version(conn: AsyncConnection, *, app_id: str, campaign_id: str, definition: dict[str, Any]) -> int:
    """A new version that replaces the definition as a whole; returns its number."""
    version = (
        await conn.execute(
            update(campaigns)
            .where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
            .values(version=campaigns.c.version + 1, updated_at=func.now())
            .returning(campaigns.c.version)
        )
    ).scalar_one()
    await conn.execute(
        insert(versions).values(app_id=app_id, campaign_id=campaign_id, version=int(version), definition=definition)
    )
    return int(version)


def _segment_version_at_write() -> Any:
    """The segment's latest version when the campaign version was written: what CampaignResponse
    reports as SegmentVersion when the request named none (the definition keeps it unpinned)."""
    sv = segment_versions
    return (
        select(func.max(sv.c.version))
        .where(
            sv.c.app_id == versions.c.app_id,
            sv.c.segment_id == versions.c.definition["SegmentId"].astext,
            sv.c.created_at <= versions.c.created_at,
        )
        .scalar_subquery()
    )


def _joined() -> Any:
    return select(
        campaigns.c.app_id,
        campaigns.c.id,
        campaigns.c.state,
        campaigns.c.created_at,
        versions.c.version,
        versions.c.definition,
        versions.c.created_at.label("modified_at"),
        _segment_version_at_write().label("segment_version_at_write"),
    ).join(versions, _VERSION_OF)


async def get(
    conn: AsyncConnection, app_id: str, campaign_id: str, version: int | None = None, *, lock: bool = False
) -> dict[str, Any]:
    """The campaign at `version` (the latest when None); NotFound when there is none."""
    stmt = _joined().where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
    stmt = stmt.where(versions.c.version == (version if version is not None else campaigns.c.version))
    if lock:
        stmt = stmt.with_for_update(of=campaigns)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


async def definition(
    conn: AsyncConnection, app_id: str, campaign_id: str, version: int | None = None
) -> dict[str, Any] | None:
    """What the campaign workflow reads: {"version", "state", "definition"} at `version` (the
    latest when None), or None when the campaign (or that version) does not exist."""
    try:
        row = await get(conn, app_id, campaign_id, version)
    except NotFound:
        return None
    return {"version": row["version"], "state": row["state"], "definition": row["definition"]}


async def set_state(conn: AsyncConnection, app_id: str, campaign_id: str, state: str) -> None:
    """The workflow keeps State true; a campaign deleted meanwhile is left alone."""
    await conn.execute(
        update(campaigns)
        .where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
        .values(state=state, updated_at=func.now())
    )


async def page(
    conn: AsyncConnection, app_id: str, *, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Campaigns at their latest versions, oldest first."""
    stmt = (
        _joined()
        .where(campaigns.c.app_id == app_id, versions.c.version == campaigns.c.version)
        .order_by(campaigns.c.created_at, campaigns.c.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(campaigns.c.created_at, campaigns.c.id) > tuple_(*after))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def version_page(
    conn: AsyncConnection, app_id: str, campaign_id: str, *, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """A campaign's versions, newest first, older than `before` when given."""
    stmt = (
        _joined()
        .where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
        .order_by(versions.c.version.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(versions.c.version < before)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def count_event_campaigns(conn: AsyncConnection, app_id: str, *, excluding: str | None = None) -> int:
    """Campaigns of the project whose latest version is event-triggered (a quota of 25)."""
    stmt = (
        select(func.count())
        .select_from(campaigns.join(versions, _VERSION_OF))
        .where(
            campaigns.c.app_id == app_id,
            versions.c.version == campaigns.c.version,
            versions.c.definition["Schedule"]["Frequency"].astext == "EVENT",
        )
    )
    if excluding is not None:
        stmt = stmt.where(campaigns.c.id != excluding)
    return int((await conn.execute(stmt)).scalar_one())


async def remove(conn: AsyncConnection, app_id: str, campaign_id: str) -> None:
    """Versions, activities and targets go with the campaign (foreign keys cascade)."""
    await conn.execute(delete(campaigns).where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id))


async def next_run_number(conn: AsyncConnection, app_id: str, campaign_id: str) -> int:
    """The run number a campaign's workflow goes on from (0 when it never ran): a campaign
    scheduled again after its workflow ended gets new run numbers, so new idempotency keys."""
    done = await conn.scalar(
        text("SELECT max(run_number) + 1 FROM campaign_activities WHERE app_id = :a AND campaign_id = :c"),
        {"a": app_id, "c": campaign_id},
    )
    return int(done or 0)


async def created_at(conn: AsyncConnection, app_id: str, campaign_id: str) -> datetime | None:
    """When the campaign was created (an IMMEDIATE StartTime's instant); None when it is gone."""
    found: datetime | None = await conn.scalar(
        select(campaigns.c.created_at).where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
    )
    return found
