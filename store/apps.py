"""Projects (apps) and their settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import APP_NOT_FOUND, NotFound
from store import purge
from store.tables import App

apps = App.__table__  # type: ignore[attr-defined]


async def create(conn: AsyncConnection, *, app_id: str, name: str) -> dict[str, Any]:
    row = (await conn.execute(apps.insert().values(id=app_id, name=name).returning(*apps.c))).mappings().one()
    return dict(row)


async def exists(conn: AsyncConnection, app_id: str) -> bool:
    return (await conn.execute(select(apps.c.id).where(apps.c.id == app_id))).first() is not None


async def get(conn: AsyncConnection, app_id: str, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(apps).where(apps.c.id == app_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(APP_NOT_FOUND)
    return dict(row)


async def page(
    conn: AsyncConnection,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
    only: frozenset[str] | None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Projects in creation order (GetApps' paging), or the newest first (the console's list,
    which shows the latest `limit`; no `after` then)."""
    if newest_first:
        stmt = select(apps).order_by(apps.c.created_at.desc(), apps.c.id.desc()).limit(limit)
    else:
        stmt = select(apps).order_by(apps.c.created_at, apps.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(apps.c.created_at, apps.c.id) > tuple_(*after))
    if only is not None:
        stmt = stmt.where(apps.c.id.in_(only))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def delete_everything(conn: AsyncConnection, app_id: str) -> None:
    """A project's data goes with it, in two steps so that DeleteApp takes the same short time
    however much data the project holds: here the project row and what cascades from it (settings,
    channels, tags, segments, campaigns, journeys, jobs, the trigger outbox); the big tables
    (events, deliveries, sessions, endpoints) are queued for the worker to purge in batches
    (store/purge.py). Nothing reads those tables without first finding the project."""
    await purge.enqueue(conn, app_id)
    await conn.execute(delete(apps).where(apps.c.id == app_id))


async def save_settings(conn: AsyncConnection, app_id: str, settings: dict[str, Any]) -> dict[str, Any]:
    row = (
        (
            await conn.execute(
                update(apps)
                .where(apps.c.id == app_id)
                .values(settings=settings, settings_modified_at=func.now())
                .returning(*apps.c)
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


async def save_removed_attributes(conn: AsyncConnection, app_id: str, removed: dict[str, Any]) -> None:
    await conn.execute(update(apps).where(apps.c.id == app_id).values(removed_attributes=removed))
