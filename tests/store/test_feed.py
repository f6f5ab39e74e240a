"""The event feed (store/feed.py) on a database of its own: a reader never misses an event
that a slower transaction commits after a faster one, and never reads one twice."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from launch.postgres import EmbeddedPostgres
from store import events as events_store
from store import feed
from store.db import make_engine
from store.migrate import upgrade


def _event(app_id: str, n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "app_id": app_id,
        "endpoint_id": f"e{n}",
        "event_id": f"ev-{n}",
        "event_type": "shop.visit",
        "event_time": now,
        "session_id": None,
        "attributes": {},
        "metrics": {},
        "client": {},
        "received_at": now,
    }


@pytest.fixture
def fresh_db(pg_server: EmbeddedPostgres) -> str:
    url = pg_server.create_database(f"openpoint_feed_{secrets.token_hex(4)}")
    upgrade(url)
    return url


async def test_a_transaction_that_commits_late_is_read_after_the_others(fresh_db: str) -> None:
    engine = make_engine(fresh_db, pool_size=3)
    app_id = secrets.token_hex(16)
    try:
        async with engine.connect() as conn:
            cursor = await feed.start(conn)
        slow = await engine.connect()
        slow_tx = await slow.begin()
        await events_store.insert_events(slow, [_event(app_id, 1)])  # started first, commits last
        async with engine.begin() as conn:
            await events_store.insert_events(conn, [_event(app_id, 2), _event(app_id, 3)])
        async with engine.connect() as conn:
            seen, cursor = await feed.read(conn, cursor, app_id=app_id)
        # The fast transaction is committed, but the slow one still runs below it: nothing is
        # final yet above the cursor (taking e2 and e3 now would let e1 slip behind the cursor).
        assert seen == []
        await slow_tx.commit()
        await slow.close()
        async with engine.connect() as conn:
            seen, cursor = await feed.read(conn, cursor, app_id=app_id)
            again, _ = await feed.read(conn, cursor, app_id=app_id)
        assert [e["endpoint_id"] for e in seen] == ["e1", "e2", "e3"] and again == []
    finally:
        await engine.dispose()


async def test_reads_take_whole_transactions_in_batches(fresh_db: str) -> None:
    engine = make_engine(fresh_db, pool_size=2)
    app_id = secrets.token_hex(16)
    try:
        async with engine.connect() as conn:
            cursor = await feed.start(conn)
        for batch in range(4):
            async with engine.begin() as conn:
                await events_store.insert_events(conn, [_event(app_id, batch * 10 + i) for i in range(3)])
        taken: list[str] = []
        async with engine.connect() as conn:
            for _ in range(10):
                seen, cursor = await feed.read(conn, cursor, limit=4, app_id=app_id)
                assert len(seen) % 3 == 0  # never half a transaction
                taken += [e["event_id"] for e in seen]
        assert sorted(taken) == sorted(f"ev-{b * 10 + i}" for b in range(4) for i in range(3))
    finally:
        await engine.dispose()
