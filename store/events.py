"""Event and session writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import columns_of, driver, jsonb, unnest_insert
from store.tables import AppSession, Event

events = Event.__table__  # type: ignore[attr-defined]
sessions = AppSession.__table__  # type: ignore[attr-defined]

# Days whose partition this process has already made sure of.
_known_days: set[date] = set()


async def ensure_partitions(conn: AsyncConnection, days: Iterable[date]) -> None:
    for day in sorted(set(days) - _known_days):
        await conn.execute(text("SELECT ensure_event_partition(:d)"), {"d": day})
        _known_days.add(day)


def forget_partitions() -> None:
    """After retention dropped partitions (or a fresh database in tests)."""
    _known_days.clear()


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
_SESSION_UPSERT = (
    unnest_insert("sessions", _SESSION_COLUMNS)
    + " ON CONFLICT (app_id, id) DO UPDATE SET start_time = least(sessions.start_time, EXCLUDED.start_time),"
    " stop_time = coalesce(EXCLUDED.stop_time, sessions.stop_time),"
    " duration_ms = coalesce(EXCLUDED.duration_ms, sessions.duration_ms)"
)


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """One binary COPY per request, into the day partitions (made first if new)."""
    if not rows:
        return
    await ensure_partitions(conn, (r["event_time"].date() for r in rows))
    await (await driver(conn)).copy_records_to_table("events", records=copy_records(rows), columns=EVENT_COLUMNS)


def copy_records(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Event rows as COPY records in EVENT_COLUMNS order (JSONB as JSON text)."""
    return [tuple(jsonb(r[c]) if c in _JSON_COLUMNS else r[c] for c in EVENT_COLUMNS) for r in rows]


async def upsert_sessions(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Several events of one session arrive over time; the session keeps the earliest start and
    the latest stop it has been told of."""
    if not rows:
        return
    merged: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = merged.setdefault(r["id"], dict(r))
        m["start_time"] = min(m["start_time"], r["start_time"])
        for k in ("stop_time", "duration_ms"):
            if r[k] is not None:
                m[k] = r[k]
    await (await driver(conn)).execute(_SESSION_UPSERT, *columns_of(list(merged.values()), _SESSION_COLUMNS))
