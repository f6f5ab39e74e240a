"""Tags of every taggable resource, by ARN."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import ResourceTags

tags_t = ResourceTags.__table__  # type: ignore[attr-defined]


async def get(conn: AsyncConnection, arn: str) -> dict[str, str]:
    row = (await conn.execute(select(tags_t.c.tags).where(tags_t.c.arn == arn))).first()
    return dict(row[0]) if row else {}


async def put(conn: AsyncConnection, arn: str, app_id: str | None, tags: dict[str, str]) -> None:
    stmt = insert(tags_t).values(arn=arn, app_id=app_id, tags=tags)
    await conn.execute(stmt.on_conflict_do_update(index_elements=["arn"], set_={"tags": tags}))


async def drop(conn: AsyncConnection, arn: str) -> None:
    await conn.execute(delete(tags_t).where(tags_t.c.arn == arn))


def merged(current: dict[str, Any], added: dict[str, str]) -> dict[str, str]:
    return {**current, **added}
