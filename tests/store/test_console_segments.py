"""The console's live count under its time limit: the figure when counting is quick, None when
the statement is cancelled, and the caller's transaction still usable afterwards (the timeout
and the cancelled statement live in a savepoint)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from store.console_segments import count_within
from store.driver import driver
from store.segment_sql import SegmentDefinition
from tests.store.test_segment_sql import new_app

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ENDPOINTS = 50_000
EVEN = SegmentDefinition(
    "DIMENSIONAL", {"Attributes": {"parity": {"AttributeType": "INCLUSIVE", "Values": ["even"]}}}, None
)


async def test_count_within_its_time_or_none(engine: AsyncEngine) -> None:
    app_id = await new_app(engine)
    async with engine.begin() as conn:
        await (await driver(conn)).execute(
            """INSERT INTO endpoints (app_id, id, channel_type, endpoint_status, opt_out, attributes)
               SELECT $1, 'ep-' || i, 'EMAIL', 'ACTIVE', 'NONE',
                      jsonb_build_object('parity', jsonb_build_array(CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END))
               FROM generate_series(1, $2::int) AS i""",
            app_id,
            ENDPOINTS,
        )
    async with engine.begin() as conn:
        assert await count_within(conn, app_id, EVEN, now=NOW, timeout_ms=10_000) == ENDPOINTS // 2
        # 1 ms cannot read 50,000 rows: cancelled, answered None, and the transaction goes on.
        assert await count_within(conn, app_id, EVEN, now=NOW, timeout_ms=1) is None
        pg = await driver(conn)
        assert await pg.fetchval("SELECT 1") == 1
        assert await pg.fetchval("SHOW statement_timeout") != "1ms"  # SET LOCAL went with the savepoint
