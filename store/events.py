"""Event and session writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def insert_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await ensure_partitions(conn, (r["event_time"].date() for r in rows))
        await conn.execute(events.insert(), rows)


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
    stmt = insert(sessions).values(list(merged.values()))
    stmt = stmt.on_conflict_do_update(
        index_elements=["app_id", "id"],
        set_={
            "start_time": func.least(sessions.c.start_time, stmt.excluded.start_time),
            "stop_time": func.coalesce(stmt.excluded.stop_time, sessions.c.stop_time),
            "duration_ms": func.coalesce(stmt.excluded.duration_ms, sessions.c.duration_ms),
        },
    )
    await conn.execute(stmt)
