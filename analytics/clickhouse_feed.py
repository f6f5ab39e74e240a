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
from collections.abc import Mapping
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


@dataclass(frozen=True)
class FeedSettings:
    batch_size: int = 10_000
    poll_seconds: float = 1.0
    keep_days: int = RETENTION_DAYS
    retry_seconds: float = 2.0
    cursor: str = cursor_sql.CURSOR  # the cursor row's name


Profile = tuple[str | None, str | None, str | None, str | None]


def line_of(row: Mapping[str, Any], dims: dict[Profile, str]) -> str:
    """One ClickHouse `events` row (a JSONEachRow line) from a feed row: PostgreSQL's JSON of the
    event (store/clickhouse_feed.py) with the endpoint's dimensions added, computed once per
    profile (`dims` caches them across the slice)."""
    key: Profile = (row["demographic"], row["location"], row["endpoint_attributes"], row["channel_type"])
    found = dims.get(key)
    if found is None:
        profile = dict(zip(("demographic", "location", "attributes", "channel_type"), key, strict=True))
        # No endpoint row (gone): only the whole project's pair, ['', ''].
        found = orjson.dumps(dimensions(profile if any(key) else None)).decode()
        dims[key] = found
    line: str = row["line"]
    return f'{line[:-1]}, "dims" : {found}}}'


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
    dims: dict[Profile, str] = {}
    await ch.insert_lines("events", "\n".join(line_of(r, dims) for r in found), token=f"feed:{after}:{upto}")
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
