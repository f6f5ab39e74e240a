"""The ClickHouse feeder's PostgreSQL side: its durable cursor (an `an_cursor` row named
`clickhouse`, beside the rollups' own) and the rows of one feed slice, each event with what the
analytics pages need of its endpoint (user, creation, profile) and of its session (the stopped
session's time), as the rollups read them when they fold.

The cursor row holds the last slice copied (`xid`) and, while a slice is being copied, that slice
(`backfill_after` = [after, upto]): it is written and committed BEFORE the slice goes to
ClickHouse, so that after a crash the same slice (the same transactions: every id below the
feed's horizon is final) is copied again under the same insert token, which ClickHouse drops as
a duplicate. The rollups' `backfill_after` column is reused: the feeder has no backfill of its own
(it starts from the first transaction, so the feed is the backfill).
"""

from __future__ import annotations

from datetime import date

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

CURSOR = "clickhouse"  # the cursor row's name (another feeder, e.g. a test's, names its own)

# A metric value counts when it is a JSON number or a string that reads as one (the rollups' fold).
_NUMERIC = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
# Each event as the JSON line of its ClickHouse row (JSONEachRow), built here in C rather than in
# Python (the feeder's time is mostly per row): attributes as `->>` reads them (JSON nulls left
# out), numeric metrics as numbers. The endpoint's dimensions are added by the feeder
# (analytics/rollups.py's `dimensions`, once per profile of the slice) from the profile columns.
_READ = (
    "SELECT json_build_object("
    " 'app_id', e.app_id,"
    " 'event_date', to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    " 'event_time', to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'),"
    " 'endpoint_id', e.endpoint_id, 'event_id', e.event_id, 'event_type', e.event_type,"
    " 'session_id', coalesce(e.session_id, ''),"
    # A stopped session's time (its Duration, else stop - start), as the rollups fold it.
    " 'session_ms', CASE WHEN e.event_type = '_session.stop' AND coalesce(e.session_id, '') <> '' THEN"
    "  coalesce(s.duration_ms, (extract(epoch FROM s.stop_time - s.start_time) * 1000)::bigint, 0) END,"
    " 'attributes', coalesce((SELECT jsonb_object_agg(a.key, a.value) FROM jsonb_each_text("
    "  CASE WHEN jsonb_typeof(e.attributes) = 'object' THEN e.attributes ELSE '{}'::jsonb END) a"
    "  WHERE a.value IS NOT NULL), '{}'::jsonb),"
    " 'metrics', coalesce((SELECT jsonb_object_agg(m.key, (m.value #>> '{}')::float8) FROM jsonb_each("
    "  CASE WHEN jsonb_typeof(e.metrics) = 'object' THEN e.metrics ELSE '{}'::jsonb END) m"
    "  WHERE jsonb_typeof(m.value) = 'number' OR (jsonb_typeof(m.value) = 'string' AND m.value #>> '{}' ~ $5)),"
    "  '{}'::jsonb),"
    " 'user_id', coalesce(n.user_id, ''),"
    " 'created_date', to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
    " 'xid', e.xid::text::bigint)::text AS line,"
    " n.demographic::text AS demographic, n.location::text AS location,"
    " n.attributes::text AS endpoint_attributes, n.channel_type"
    " FROM events e LEFT JOIN endpoints n ON n.app_id = e.app_id AND n.id = e.endpoint_id"
    " LEFT JOIN sessions s ON e.event_type = '_session.stop' AND s.app_id = e.app_id AND s.id = e.session_id"
    " WHERE e.xid > $1::text::xid8 AND e.xid <= $2::text::xid8"
    " AND (e.event_time AT TIME ZONE 'UTC')::date BETWEEN $3 AND $4"
    " ORDER BY e.xid, e.event_time, e.event_id"
)


async def cursor(conn: AsyncConnection, name: str = CURSOR) -> tuple[str, list[str] | None] | None:
    """(last slice's upto, the slice being copied or None), the row locked; None before the
    first start."""
    row = (
        await conn.execute(
            text("SELECT xid, backfill_after::text FROM an_cursor WHERE name = :n FOR UPDATE"), {"n": name}
        )
    ).first()
    if row is None:
        return None
    return str(row[0]), orjson.loads(row[1]) if row[1] else None


async def start(conn: AsyncConnection, name: str = CURSOR) -> None:
    """The feeder's first start: every stored event (those older than the retention are skipped)."""
    await conn.execute(
        text(
            "INSERT INTO an_cursor (name, xid, backfilled, backfill_after) VALUES (:n, '0', true, NULL)"
            " ON CONFLICT (name) DO NOTHING"
        ),
        {"n": name},
    )


async def begin_slice(conn: AsyncConnection, after: str, upto: str, name: str = CURSOR) -> None:
    """Name the slice being copied (committed before it goes to ClickHouse)."""
    await conn.execute(
        text("UPDATE an_cursor SET backfill_after = CAST(:a AS jsonb) WHERE name = :n"),
        {"n": name, "a": orjson.dumps([after, upto]).decode()},
    )


async def end_slice(conn: AsyncConnection, after: str, upto: str, name: str = CURSOR) -> bool:
    """Move the cursor past the slice copied (only from where it was: another feeder may have
    moved it meanwhile); whether it moved."""
    result = await conn.execute(
        text("UPDATE an_cursor SET xid = :u, backfill_after = NULL WHERE name = :n AND xid = :a"),
        {"n": name, "a": after, "u": upto},
    )
    return bool(result.rowcount)


async def rows(conn: AsyncConnection, after: str, upto: str, lowest: date, highest: date) -> list[asyncpg.Record]:
    """The slice's events in feed order: each one's ClickHouse row as JSON (`line`, without its
    dimensions) and its endpoint's profile (`demographic`, `location`, `endpoint_attributes`,
    `channel_type`, as JSON text)."""
    return list(await (await driver(conn)).fetch(_READ, after, upto, lowest, highest, _NUMERIC))


async def caught_up(conn: AsyncConnection, name: str = CURSOR) -> bool:
    """Whether every committed event is copied (for tests and benches)."""
    row = (
        await conn.execute(
            text(
                "SELECT c.backfill_after IS NULL AND NOT EXISTS (SELECT 1 FROM events e WHERE e.xid > c.xid::xid8)"
                " FROM an_cursor c WHERE c.name = :n"
            ),
            {"n": name},
        )
    ).first()
    return bool(row and row[0])
