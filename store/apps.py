"""Projects (apps) and their settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import NotFound
from store.tables import App, AppSession, Channel, Delivery, Endpoint, Event, ResourceTags

apps = App.__table__  # type: ignore[attr-defined]


async def create(conn: AsyncConnection, *, app_id: str, name: str) -> dict[str, Any]:
    row = (await conn.execute(apps.insert().values(id=app_id, name=name).returning(*apps.c))).mappings().one()
    return dict(row)


async def get(conn: AsyncConnection, app_id: str, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(apps).where(apps.c.id == app_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(f"Project {app_id} was not found.")
    return dict(row)


async def page(
    conn: AsyncConnection, *, after: tuple[datetime, str] | None, limit: int, only: frozenset[str] | None
) -> list[dict[str, Any]]:
    stmt = select(apps).order_by(apps.c.created_at, apps.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(apps.c.created_at, apps.c.id) > tuple_(*after))
    if only is not None:
        stmt = stmt.where(apps.c.id.in_(only))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def delete_everything(conn: AsyncConnection, app_id: str) -> None:
    """A project's data goes with it. Tables without a foreign key to apps (the partitioned
    events, the delivery log) are cleared explicitly."""
    models: tuple[Any, ...] = (Event, Delivery, AppSession, Channel, Endpoint, ResourceTags)
    for model in models:
        t = model.__table__
        await conn.execute(delete(t).where(t.c.app_id == app_id))
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
