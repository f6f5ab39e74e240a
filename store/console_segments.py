"""What the console's Segments pages read beyond the API's own queries: a draft's member count
under a time limit (the builder's live count), and a project's latest import jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver
from store.jobs import jobs
from store.segment_sql import SegmentDefinition, count


async def count_within(
    conn: AsyncConnection, app_id: str, definition: SegmentDefinition, *, now: datetime, timeout_ms: int
) -> int | None:
    """The members of `definition` as campaigns resolve them (store.segment_sql.count), or None
    when counting takes longer than `timeout_ms`: the builder must answer while a person types,
    so a huge project says "took too long" instead of holding a connection.

    Runs in a savepoint of the caller's transaction, so the timeout (SET LOCAL) and a cancelled
    statement go with it and leave the transaction usable."""
    pg = await driver(conn)
    try:
        async with pg.transaction():
            await pg.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            return await count(conn, app_id, definition, now=now)
    except asyncpg.QueryCanceledError:
        return None


async def latest_jobs(conn: AsyncConnection, app_id: str, job_type: str, limit: int) -> list[dict[str, Any]]:
    """The project's `limit` newest jobs of a type, newest first."""
    stmt = (
        select(jobs)
        .where(jobs.c.app_id == app_id, jobs.c.job_type == job_type)
        .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]
