"""The ClickHouse feeder: copies every event from the PostgreSQL event feed (store/feed.py, whole
committed transactions in commit-safe order) into ClickHouse's `events` (store/clickhouse.py),
with what the pages need of its endpoint and session, in slices of up to `batch` events.

Exactly once, across crashes (docs/analytics.md "ClickHouse backend"):
1. in one PostgreSQL transaction (the cursor row locked: one feeder at a time), the next slice
   (after, upto] is chosen and written into the cursor row as the slice in progress; commit;
2. the slice's rows go to ClickHouse as one insert whose deduplication token is the slice;
3. the cursor moves to `upto` and forgets the slice; commit.
A crash between 2 and 3 leaves the slice in the cursor: the next step copies the same
transactions again under the same token, and ClickHouse drops the repeat. A crash between 1 and 2
does the same with nothing to drop.

Each row takes its endpoint's profile as it is when the slice is copied (as the rollups take it
when they fold): the user, the creation day, and the dimensions (analytics/rollups.py's
`dimensions`: platform, versions, make, model, locale, place, channel, attributes).

With chDB (`chdb:///dir`) the feeder runs in the process that owns the directory: the gateway
that serves the pages (api/main.py starts it). With a server (`http(s)://`), the same: every
gateway with the setting runs one, and the cursor row's lock makes them take turns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics.model import RETENTION_DAYS
from analytics.rollups import dimensions
from store import clickhouse_feed as cursor_sql
from store import feed
from store.clickhouse import ClickHouse

log = logging.getLogger("openpoint.clickhouse")
# Metric values count when JSON numbers or strings that read as numbers (as the rollups' fold).
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True)
class FeedSettings:
    batch_size: int = 10_000
    poll_seconds: float = 1.0
    keep_days: int = RETENTION_DAYS
    retry_seconds: float = 2.0
    cursor: str = cursor_sql.CURSOR  # the cursor row's name


def _metric(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, _NUMBER_TYPES):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _text(value: Any) -> str:
    """An attribute as PostgreSQL's `->>` reads it: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def row_of(r: dict[str, Any]) -> dict[str, Any]:
    """One ClickHouse `events` row from a feed row (store/clickhouse_feed.py's `rows`)."""
    attributes = orjson.loads(r["attributes"]) if r["attributes"] else {}
    metrics = orjson.loads(r["metrics"]) if r["metrics"] else {}
    at: datetime = r["event_time"].astimezone(UTC)
    profile = {
        "demographic": r["demographic"],
        "location": r["location"],
        "attributes": r["endpoint_attributes"],
        "channel_type": r["channel_type"],
    }
    created: datetime | None = r["created_at"]
    return {
        "app_id": r["app_id"],
        "event_date": at.date().isoformat(),
        "event_time": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "endpoint_id": r["endpoint_id"],
        "event_id": r["event_id"],
        "event_type": r["event_type"],
        "session_id": r["session_id"],
        "session_ms": r["session_ms"],
        "attributes": {
            k: _text(v) for k, v in (attributes if isinstance(attributes, dict) else {}).items() if v is not None
        },
        "metrics": {
            k: m for k, v in (metrics if isinstance(metrics, dict) else {}).items() if (m := _metric(v)) is not None
        },
        "user_id": r["user_id"],
        "created_date": created.astimezone(UTC).date().isoformat() if created else None,
        # The profile's dimensions (the first pair, ['', ''], stands for every endpoint).
        "dims": dimensions(profile if any(profile.values()) else None),
        "xid": int(r["xid"]),
    }


async def step(
    engine: AsyncEngine,
    ch: ClickHouse,
    *,
    batch: int = 10_000,
    keep_days: int = RETENTION_DAYS,
    cursor: str = cursor_sql.CURSOR,
) -> int:
    """Copy the next slice of the feed (or finish the one a crash interrupted); how many events
    were read (0: caught up)."""
    async with engine.begin() as conn:
        at = await cursor_sql.cursor(conn, cursor)
        if at is None:
            await cursor_sql.start(conn, cursor)
            return 1
        after, pending = at
        if pending is not None:
            after, upto = pending
        else:
            found = await feed.slice_upto(conn, after, limit=batch)
            if found is None:
                return 0
            upto = found[0]
            await cursor_sql.begin_slice(conn, after, upto, cursor)
    today = datetime.now(UTC).date()
    lowest, highest = today - timedelta(days=keep_days), today + timedelta(days=1)
    copied = await copy(engine, ch, after, upto, lowest, highest)
    async with engine.begin() as conn:
        await cursor_sql.cursor(conn, cursor)  # the row locked while it moves
        await cursor_sql.end_slice(conn, after, upto, cursor)
    return max(1, copied)


async def copy(engine: AsyncEngine, ch: ClickHouse, after: str, upto: str, lowest: date, highest: date) -> int:
    """The slice (after, upto] into ClickHouse as one insert named by the slice."""
    async with engine.connect() as conn:
        found = await cursor_sql.rows(conn, after, upto, lowest, highest)
    await ch.insert("events", (row_of(r) for r in found), token=f"feed:{after}:{upto}")
    return len(found)


async def caught_up(engine: AsyncEngine, cursor: str = cursor_sql.CURSOR) -> bool:
    async with engine.connect() as conn:
        return await cursor_sql.caught_up(conn, cursor)


class Feeder:
    """The feeder loop, until cancelled (a failed slice is tried again after `retry_seconds`)."""

    def __init__(self, engine: AsyncEngine, ch: ClickHouse, settings: FeedSettings | None = None) -> None:
        self._engine = engine
        self._ch = ch
        self.settings = settings or FeedSettings()

    async def run(self) -> None:
        while True:
            try:
                read = await step(
                    self._engine,
                    self._ch,
                    batch=self.settings.batch_size,
                    keep_days=self.settings.keep_days,
                    cursor=self.settings.cursor,
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the slice stays in the cursor and is copied again
                log.exception("ClickHouse feed slice failed")
                await asyncio.sleep(self.settings.retry_seconds)
                continue
            if read == 0:
                await asyncio.sleep(self.settings.poll_seconds)
