"""The analytics rollups' SQL (migration 0011): the rollup loop's cursor, what a batch of events
needs to know of what is rolled up already, the additive upserts of a batch's deltas, and
retention by whole month partitions. The folding itself is analytics/rollups.py."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.analytics_batch import Batch
from store.analytics_message_rollups import PARENTS as MESSAGE_PARENTS
from store.driver import driver, jsonb

CURSOR = "rollups"
EndpointDays = dict[tuple[str, str], dict[date, list[list[str]]]]
Firsts = dict[tuple[str, str], tuple[date, int | None]]
Profiles = dict[tuple[str, str], dict[str, Any]]
_PARTITION = re.compile(r"^(an_[a-z_]+)_m(\d{4})(\d{2})$")
# Every partitioned rollup, the message rollups' included: retention drops their old months.
PARENTS = (
    *MESSAGE_PARENTS,
    "an_active",
    "an_days",
    "an_endpoint_days",
    "an_events",
    "an_payers",
    "an_revenue",
    "an_session_hours",
    "an_user_days",
)


class Cursor:
    """Where the rollups are: the feed's cursor, and the backfill's (None once it is done)."""

    def __init__(self, xid: str, backfill: list[Any] | None) -> None:
        self.xid = xid
        self.backfill = backfill


async def cursor(conn: AsyncConnection) -> Cursor | None:
    """The rollups' cursor, its row locked: one loop folds at a time."""
    row = (
        await conn.execute(
            text("SELECT xid, backfilled, backfill_after::text FROM an_cursor WHERE name = :n FOR UPDATE"),
            {"n": CURSOR},
        )
    ).first()
    if row is None:
        return None
    return Cursor(str(row[0]), None if row[1] else orjson.loads(row[2]))


async def start_cursor(conn: AsyncConnection, xid: str, *, backfill: bool = True) -> None:
    """The rollups start: the feed after `xid`; what is stored up to it is backfilled first."""
    await conn.execute(
        text(
            "INSERT INTO an_cursor (name, xid, backfilled, backfill_after) VALUES (:n, :x, :b, CAST(:a AS jsonb))"
            " ON CONFLICT (name) DO NOTHING"
        ),
        {"n": CURSOR, "x": xid, "b": not backfill, "a": jsonb([xid]) if backfill else None},
    )


async def save_cursor(conn: AsyncConnection, at: Cursor) -> None:
    await conn.execute(
        text("UPDATE an_cursor SET xid = :x, backfilled = :b, backfill_after = CAST(:a AS jsonb) WHERE name = :n"),
        {
            "n": CURSOR,
            "x": at.xid,
            "b": at.backfill is None,
            "a": None if at.backfill is None else jsonb(at.backfill),
        },
    )


async def caught_up(conn: AsyncConnection) -> bool:
    """Whether every committed event is folded (the backfill done, nothing above the cursor)."""
    row = (await conn.execute(text("SELECT xid, backfilled FROM an_cursor WHERE name = :n"), {"n": CURSOR})).first()
    if row is None or not row[1]:
        return False
    above = await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM events WHERE xid > CAST(CAST(:x AS text) AS xid8))"), {"x": str(row[0])}
    )
    return not above


async def _today(conn: AsyncConnection) -> date:
    return await today(conn)


async def today(conn: AsyncConnection) -> date:
    value = await conn.scalar(text("SELECT (now() AT TIME ZONE 'UTC')::date"))
    assert isinstance(value, date)
    return value


async def backfill_last(conn: AsyncConnection, page: Batch) -> list[Any] | None:
    """The key of a backfill page's last event ([app, endpoint, event time ISO, event id]), days
    outside the retention included (the next page starts after it); None when the page is empty."""
    params = {**page.params, "b_lowest": date.min, "b_highest": date.max}
    row = (
        await conn.execute(
            text(
                f"SELECT app_id, endpoint_id, event_time, event_id FROM ({page.sql}) AS p"
                " ORDER BY app_id DESC, endpoint_id DESC, event_time DESC, event_id DESC LIMIT 1"
            ),
            params,
        )
    ).first()
    return None if row is None else [row[0], row[1], row[2].isoformat(), row[3]]


async def ensure_partitions(conn: AsyncConnection, days: set[date]) -> None:
    months = sorted({d.replace(day=1) for d in days})
    for month in months:
        await conn.execute(text("SELECT ensure_analytics_partition(:d)"), {"d": month})


async def endpoint_state(conn: AsyncConnection, keys: list[tuple[str, str]]) -> tuple[EndpointDays, Firsts, Profiles]:
    """For (app, endpoint) keys: their rolled-up active days (with each day's dimensions), their
    (first day, returned after) and their current profile in `endpoints`."""
    apps = [k[0] for k in keys]
    eps = [k[1] for k in keys]
    pg = await driver(conn)
    days: dict[tuple[str, str], dict[date, list[list[str]]]] = {}
    for r in await pg.fetch(
        "SELECT d.app_id, d.endpoint_id, d.day, d.dims::text AS dims FROM an_endpoint_days d"
        " JOIN unnest($1::text[], $2::text[]) AS k(a, e) ON d.app_id = k.a AND d.endpoint_id = k.e",
        apps,
        eps,
    ):
        days.setdefault((r["app_id"], r["endpoint_id"]), {})[r["day"]] = orjson.loads(r["dims"])
    firsts = {
        (r["app_id"], r["endpoint_id"]): (r["first_day"], r["returned_after"])
        for r in await pg.fetch(
            "SELECT e.app_id, e.endpoint_id, e.first_day, e.returned_after FROM an_endpoints e"
            " JOIN unnest($1::text[], $2::text[]) AS k(a, e) ON e.app_id = k.a AND e.endpoint_id = k.e",
            apps,
            eps,
        )
    }
    profiles = {
        (r["app_id"], r["id"]): dict(r)
        for r in await pg.fetch(
            "SELECT p.app_id, p.id, p.user_id, p.channel_type, p.attributes::text AS attributes,"
            " p.demographic::text AS demographic, p.location::text AS location, p.created_at FROM endpoints p"
            " JOIN unnest($1::text[], $2::text[]) AS k(a, e) ON p.app_id = k.a AND p.id = k.e",
            apps,
            eps,
        )
    }
    return days, firsts, profiles


async def insert_endpoint_days(conn: AsyncConnection, rows: list[tuple[str, str, date, list[list[str]]]]) -> None:
    if rows:
        await (await driver(conn)).execute(
            "INSERT INTO an_endpoint_days (app_id, endpoint_id, day, dims)"
            " SELECT a, e, d, j::jsonb FROM unnest($1::text[], $2::text[], $3::date[], $4::text[]) AS t(a, e, d, j)",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [jsonb(r[3]) for r in rows],
        )


async def upsert_endpoints(conn: AsyncConnection, rows: list[tuple[str, str, date, int | None]]) -> None:
    if rows:
        await (await driver(conn)).execute(
            "INSERT INTO an_endpoints (app_id, endpoint_id, first_day, returned_after)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::int[])"
            " ON CONFLICT (app_id, endpoint_id) DO UPDATE SET first_day = EXCLUDED.first_day,"
            " returned_after = EXCLUDED.returned_after",
            *(list(c) for c in zip(*rows, strict=True)),
        )


async def new_user_days(conn: AsyncConnection, rows: set[tuple[str, date, str]]) -> list[tuple[str, date]]:
    """Insert (app, day, user) rows; the (app, day) of each row that was not there yet."""
    if not rows:
        return []
    ordered = sorted(rows)
    out = await (await driver(conn)).fetch(
        "INSERT INTO an_user_days (app_id, day, user_id) SELECT * FROM unnest($1::text[], $2::date[], $3::text[])"
        " ON CONFLICT DO NOTHING RETURNING app_id, day",
        *(list(c) for c in zip(*ordered, strict=True)),
    )
    return [(r["app_id"], r["day"]) for r in out]


# Additive upserts: table -> (key columns with types, counter columns with types).
_ADDITIVE: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "an_active": (
        [("app_id", "text"), ("day", "date"), ("dim", "text"), ("value", "text"), ("gap", "int4")],
        [("n", "int8")],
    ),
    "an_days": (
        [("app_id", "text"), ("day", "date")],
        [("new_endpoints", "int8"), ("sessions", "int8"), ("session_ms", "int8"), ("active_users", "int8")],
    ),
    "an_cohorts": ([("app_id", "text"), ("first_day", "date"), ("returned_after", "int4")], [("n", "int8")]),
}


async def add(conn: AsyncConnection, table: str, deltas: dict[tuple[Any, ...], tuple[float, ...]]) -> None:
    """Add `deltas` (key -> counters) to `table`'s rows, making those that are missing."""
    rows = [(*k, *v) for k, v in deltas.items() if any(v)]
    if not rows:
        return
    keys, counters = _ADDITIVE[table]
    columns = keys + counters
    names = ", ".join(n for n, _ in columns)
    arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(columns, start=1))
    sets = ", ".join(f"{n} = {table}.{n} + EXCLUDED.{n}" for n, _ in counters)
    conflict = ", ".join(n for n, _ in keys)
    await (await driver(conn)).execute(
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) ON CONFLICT ({conflict}) DO UPDATE SET {sets}",
        *(list(c) for c in zip(*rows, strict=True)),
    )


async def partition_names(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:parents) ORDER BY c.relname"
        ),
        {"parents": list(PARENTS)},
    )
    return [r[0] for r in rows]


def expired(names: list[str], cutoff: date) -> list[str]:
    """The month partitions whose every day is before `cutoff`."""
    out = []
    for name in names:
        m = _PARTITION.match(name)
        if m is None or m.group(1) not in PARENTS:
            continue
        year, month = int(m.group(2)), int(m.group(3))
        after = date(year + month // 12, month % 12 + 1, 1)  # the first day NOT in the partition
        if after <= cutoff:
            out.append(name)
    return sorted(out)


async def drop_expired(
    conn: AsyncConnection, keep_days: int, *, batch: int = 50_000, today: date | None = None
) -> list[str]:
    """Retention: drop the month partitions older than `keep_days`, and delete (a bounded batch
    of) the per-endpoint and cohort rows of first days before it (those tables are keyed by
    endpoint, not partitioned). `today`: the database's, unless a test moves time forward."""
    cutoff_day = (today or await _today(conn)) - timedelta(days=keep_days)
    gone = expired(await partition_names(conn), cutoff_day)
    for name in gone:
        await conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    await conn.execute(
        text(
            "DELETE FROM an_endpoints WHERE ctid = ANY(ARRAY(SELECT ctid FROM an_endpoints"
            " WHERE first_day < :c LIMIT :b))"
        ),
        {"c": cutoff_day, "b": batch},
    )
    await conn.execute(text("DELETE FROM an_cohorts WHERE first_day < :c"), {"c": cutoff_day})
    return gone
