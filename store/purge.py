"""Purging a deleted project's big tables in bounded batches, off the request path.

DeleteApp removes the project row (and with it, by cascade, its small tables) and queues the
project in `app_purges` in one short transaction, so the project is gone for the API at once.
The tables that grow with traffic — events, the delivery log, sessions, endpoints — carry no
foreign key to `apps` and are emptied here a batch at a time by the worker's housekeeping, each
batch its own transaction, so no statement holds locks or builds WAL in proportion to the
project's size.

A request that had already read the project when DeleteApp committed may still write a row
after the purge started; the queue entry is therefore kept for GRACE after the deletion and the
purge runs again until then.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.events import partition_names

BATCH = 5000  # rows per statement and transaction
GRACE = timedelta(minutes=1)
# Emptied in this order; each leads an index with app_id. Events are purged per partition.
TABLES = ("deliveries", "sessions", "endpoints")


async def enqueue(conn: AsyncConnection, app_id: str) -> None:
    await conn.execute(
        text("INSERT INTO app_purges (app_id) VALUES (:a) ON CONFLICT (app_id) DO NOTHING"), {"a": app_id}
    )


async def pending(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(text("SELECT app_id FROM app_purges ORDER BY deleted_at, app_id"))
    return [r[0] for r in rows]


def _batch_delete(table: str) -> str:
    # `ctid = ANY(ARRAY(...))` is a TID scan: the batch is found through the app_id index and
    # deleted by physical address, never by a scan of the whole table.
    return f'DELETE FROM "{table}" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "{table}" WHERE app_id = :a LIMIT {BATCH}))'


async def purge_some(engine: AsyncEngine, app_id: str, budget: int) -> int:
    """Delete up to about `budget` rows of the project's big tables, a batch per transaction;
    returns how many went. Fewer than `budget` means the tables hold nothing more of it."""
    done = 0
    async with engine.connect() as conn:
        tables = [*await partition_names(conn), *TABLES]
    for table in tables:
        while done < budget:
            async with engine.begin() as conn:
                n = (await conn.execute(text(_batch_delete(table)), {"a": app_id})).rowcount
            done += n
            if n < BATCH:
                break
    return done


async def finish_if_clean(engine: AsyncEngine, app_id: str) -> bool:
    """Forget the queue entry once the grace time is over (the caller found nothing left)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text("DELETE FROM app_purges WHERE app_id = :a AND deleted_at < now() - CAST(:grace AS interval)"),
            {"a": app_id, "grace": GRACE},
        )
    return bool(result.rowcount)
