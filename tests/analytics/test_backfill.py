"""The rollups' first start: what was stored before is backfilled (in pages), what comes after
is read from the feed, and each event is folded once (analytics.rollups.step, run here by hand
on a database of its own)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import rollups
from launch.postgres import EmbeddedPostgres
from store import events as events_store
from store.db import make_engine
from store.migrate import upgrade


@pytest.fixture
def fresh_db(pg_server: EmbeddedPostgres) -> str:
    url = pg_server.create_database(f"openpoint_rollups_{secrets.token_hex(4)}")
    upgrade(url)
    return url


def _event(app_id: str, endpoint: str, n: int, days_ago: int) -> dict[str, Any]:
    at = datetime.now(UTC).replace(hour=12) - timedelta(days=days_ago)
    return {
        "app_id": app_id,
        "endpoint_id": endpoint,
        "event_id": f"ev-{endpoint}-{n}",
        "event_type": "shop.visit",
        "event_time": at,
        "session_id": None,
        "attributes": {"page": "home"},
        "metrics": {"ms": 1.0},
        "client": {},
    }


async def _drain(engine: AsyncEngine) -> None:
    for _ in range(100):
        if await rollups.step(engine, batch=3) == 0:
            return
    raise AssertionError("the rollups did not catch up")


async def _counts(engine: AsyncEngine, app_id: str) -> tuple[int, int]:
    async with engine.connect() as conn:
        events = await conn.scalar(
            text("SELECT coalesce(sum(n), 0) FROM an_events WHERE app_id = :a AND attr = '' AND metric = ''"),
            {"a": app_id},
        )
        endpoint_days = await conn.scalar(
            text("SELECT count(*) FROM an_endpoint_days WHERE app_id = :a"), {"a": app_id}
        )
    return int(events or 0), int(endpoint_days or 0)


async def test_backfill_then_feed_fold_each_event_once(fresh_db: str) -> None:
    engine = make_engine(fresh_db, pool_size=2)
    app_id = secrets.token_hex(16)
    try:
        async with engine.begin() as conn:  # stored before the rollups exist
            await conn.execute(text("SELECT 1"))
            await events_store.insert_events(
                conn, [_event(app_id, f"e{i}", j, days_ago=j) for i in range(4) for j in range(3)]
            )
        await _drain(engine)  # starts the cursor, backfills in pages of 3
        assert await _counts(engine, app_id) == (12, 12)
        async with engine.begin() as conn:  # after: through the feed
            await conn.execute(text("SELECT 1"))
            await events_store.insert_events(conn, [_event(app_id, "e0", 9, days_ago=5), _event(app_id, "e9", 1, 0)])
        await _drain(engine)
        assert await _counts(engine, app_id) == (14, 14)
        assert await rollups.step(engine) == 0
    finally:
        await engine.dispose()
