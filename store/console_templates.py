"""Read-only query of the console's template pages: a project's endpoints to pick from for a
preview or a test send, when the project has few (walked in the primary key's order, so a
project of a million endpoints costs one short index scan)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

_FIRST = "SELECT id, channel_type FROM endpoints WHERE app_id = $1 ORDER BY id LIMIT $2"


async def first_endpoints(conn: AsyncConnection, app_id: str, limit: int) -> list[dict[str, Any]]:
    """The project's first `limit` endpoints by id (id, channel_type); a caller asking for one
    more than it shows learns whether there are more."""
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_FIRST, app_id, limit)]
