"""Reading every stored event once, in commit-safe order, from a cursor (migration 0009).

A reader keeps the transaction id of the last events it took (`Cursor`, as text: xid8). Each read
takes the events of whole transactions above the cursor and below the horizon — the oldest
transaction still running, below which every transaction has ended, so no row can appear there
later. Events of one transaction come in the order of their `event_time` (then event id), so a
reader that sends them on keeps an endpoint's events in order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The horizon: every transaction with a smaller id has ended (committed or rolled back).
_HORIZON = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
_XID = "CAST(CAST(:{} AS text) AS xid8)"  # asyncpg would want an integer for an xid8 parameter
_ABOVE = (
    f"xid > {_XID.format('after')} AND xid < {_XID.format('horizon')}"
    " AND (CAST(:app AS varchar) IS NULL OR app_id = :app)"
)
# The last transaction id of a batch of about `limit` events (whole transactions only). Ordered by
# `events.xid`: a bare `xid` would name the text output column, and "1000" sorts before "999".
_CUTOFF = text(f"SELECT xid::text FROM events WHERE {_ABOVE} ORDER BY events.xid OFFSET :limit LIMIT 1")
_READ = text(
    "SELECT app_id, endpoint_id, event_id, event_type, event_time, session_id, attributes, metrics, client,"
    f" received_at, xid::text AS xid FROM events WHERE {_ABOVE} AND xid <= {_XID.format('upto')}"
    " ORDER BY events.xid, event_time, event_id"
)


async def horizon(conn: AsyncConnection) -> str:
    """The oldest transaction id that may still be running."""
    return str(await conn.scalar(_HORIZON))


async def start(conn: AsyncConnection) -> str:
    """The cursor of a new reader that is to see what is written from now on (and what running
    transactions write): just below the horizon."""
    return str(int(await horizon(conn)) - 1)


_SLICE = text(f"SELECT max(events.xid)::text, count(*) FROM events WHERE {_ABOVE} AND xid <= {_XID.format('upto')}")


async def slice_upto(
    conn: AsyncConnection, after: str, *, limit: int = 1000, app_id: str | None = None
) -> tuple[str, int] | None:
    """(upto, events): the transaction id that ends the next slice after `after` (whole
    transactions, about `limit` events, more when one transaction wrote more) and how many events
    the slice has; None when there is nothing final above the cursor. For readers that read the
    slice in SQL (the rollups, store/analytics_batch.py) instead of fetching it."""
    top = await horizon(conn)
    params = {"after": after, "horizon": top, "app": app_id, "limit": limit}
    cutoff = await conn.scalar(_CUTOFF, params)
    row = (await conn.execute(_SLICE, {**params, "upto": str(cutoff) if cutoff is not None else top})).one()
    return None if row[0] is None else (str(row[0]), int(row[1]))


async def read(
    conn: AsyncConnection, after: str, *, limit: int = 1000, app_id: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """(events, new cursor): the events of whole transactions after `after` (about `limit`, more
    when one transaction wrote more), and the cursor to read from next time."""
    top = await horizon(conn)
    params = {"after": after, "horizon": top, "app": app_id, "limit": limit}
    cutoff = await conn.scalar(_CUTOFF, params)
    upto = str(cutoff) if cutoff is not None else top
    rows = [dict(r) for r in (await conn.execute(_READ, {**params, "upto": upto})).mappings()]
    if not rows:
        # Nothing final above the cursor: stay (moving to the horizon would skip a project's
        # events only when filtered by app, so the cursor moves only past rows read).
        return [], after
    return rows, rows[-1]["xid"]
