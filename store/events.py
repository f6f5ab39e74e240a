"""Event and session writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from rules.retention import RETENTION_DAYS, expired
from store.driver import columns_of, driver, jsonb, unnest_insert
from store.tables import AppSession, Event

events = Event.__table__  # type: ignore[attr-defined]
sessions = AppSession.__table__  # type: ignore[attr-defined]

# Events are partitioned by the day the server received them (rules/retention.py), so only the
# partitions of the database's today and tomorrow are ever needed by a write; the housekeeping
# makes them ahead of time as well. Keyed by this process's UTC day: once a day a write checks.
_known_days: set[date] = set()
_ENSURE_NOW = (
    "SELECT ensure_event_partition(d), ensure_event_partition(d + 1)"
    " FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS d) AS today"
)


async def ensure_partitions(conn: AsyncConnection) -> None:
    """The partitions the database's clock writes into today (and tomorrow, for the writes that
    cross midnight), made if missing; a no-op after the first call of the day."""
    day = datetime.now(UTC).date()
    if day not in _known_days:
        await conn.execute(text(_ENSURE_NOW))
        _known_days.add(day)


def forget_partitions() -> None:
    """After retention dropped partitions (or a fresh database in tests)."""
    _known_days.clear()


async def partition_names(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'events'::regclass ORDER BY c.relname"
        )
    )
    return [r[0] for r in rows]


async def drop_expired_partitions(conn: AsyncConnection, keep_days: int = RETENTION_DAYS) -> list[str]:
    """Retention: drop the partitions whose rows were all received more than `keep_days` ago,
    and make sure of today's and tomorrow's."""
    await conn.execute(text(_ENSURE_NOW))
    today = await conn.scalar(text("SELECT (now() AT TIME ZONE 'UTC')::date"))
    gone = expired(await partition_names(conn), today, keep_days)
    for name in gone:
        # Names come from the catalog and match rules.retention's pattern; quoted all the same.
        await conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    return gone


EVENT_COLUMNS = [
    "app_id",
    "endpoint_id",
    "event_id",
    "event_type",
    "event_time",
    "session_id",
    "attributes",
    "metrics",
    "client",
]
_JSON_COLUMNS = {"attributes", "metrics", "client"}
_SESSION_COLUMNS = [
    ("app_id", "text"),
    ("id", "text"),
    ("endpoint_id", "text"),
    ("start_time", "timestamptz"),
    ("stop_time", "timestamptz"),
    ("duration_ms", "int8"),
]
_SESSION_MERGE = (
    " ON CONFLICT (app_id, id) DO UPDATE SET start_time = least(sessions.start_time, EXCLUDED.start_time),"
    " stop_time = coalesce(EXCLUDED.stop_time, sessions.stop_time),"
    " duration_ms = coalesce(EXCLUDED.duration_ms, sessions.duration_ms)"
)
_SESSION_UPSERT = unnest_insert("sessions", _SESSION_COLUMNS) + _SESSION_MERGE
_EVENT_TYPED = [
    (c, "jsonb" if c in _JSON_COLUMNS else "timestamptz" if c == "event_time" else "text") for c in EVENT_COLUMNS
]
# PutEvents' request in one statement: its events and, in a CTE, its sessions. A binary COPY is
# two round trips and the sessions' upsert a third; under 16 concurrent requests on 2 cores each
# round trip waits its turn for a core, and that wait, not PostgreSQL's work, was the request's
# time. Up to a few hundred rows the server parses the arrays as fast as COPY's input.
_SESSIONS_CTE = "WITH s AS (INSERT INTO sessions ({names}) SELECT * FROM unnest({arrays}){merge} RETURNING 1) ".format(
    names=", ".join(n for n, _ in _SESSION_COLUMNS),
    arrays=", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_SESSION_COLUMNS, start=len(_EVENT_TYPED) + 1)),
    merge=_SESSION_MERGE,
)
_EVENTS_INSERT = unnest_insert("events", _EVENT_TYPED)
_EVENTS_AND_SESSIONS = _SESSIONS_CTE + _EVENTS_INSERT


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One binary COPY per request, into the partition of the day they are received (made
    first if new): whatever `event_time` the client wrote, no new table is made for it."""
    if not rows:
        return
    await ensure_partitions(conn)
    await (await driver(conn)).copy_records_to_table("events", records=copy_records(rows), columns=EVENT_COLUMNS)


async def insert_request(conn: AsyncConnection, rows: list[dict[str, Any]], sessions: list[dict[str, Any]]) -> None:
    """A PutEvents request's events and sessions, in one statement (see _EVENTS_AND_SESSIONS);
    the same rows as insert_events and upsert_sessions write."""
    if not rows:
        await upsert_sessions(conn, sessions)
        return
    await ensure_partitions(conn)
    pg = await driver(conn)
    events = columns_of(rows, _EVENT_TYPED)
    if sessions:
        await pg.execute(_EVENTS_AND_SESSIONS, *events, *columns_of(_merged(sessions), _SESSION_COLUMNS))
    else:
        await pg.execute(_EVENTS_INSERT, *events)


def copy_records(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Event rows as COPY records in EVENT_COLUMNS order (JSONB as JSON text)."""
    return [tuple(jsonb(r[c]) if c in _JSON_COLUMNS else r[c] for c in EVENT_COLUMNS) for r in rows]


async def upsert_sessions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Several events of one session arrive over time; the session keeps the earliest start and
    the latest stop it has been told of."""
    if not rows:
        return
    await (await driver(conn)).execute(_SESSION_UPSERT, *columns_of(_merged(rows), _SESSION_COLUMNS))


def _merged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per session (a statement may not upsert a row twice)."""
    merged: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = merged.setdefault(r["id"], dict(r))
        m["start_time"] = min(m["start_time"], r["start_time"])
        for k in ("stop_time", "duration_ms"):
            if r[k] is not None:
                m[k] = r[k]
    return list(merged.values())
