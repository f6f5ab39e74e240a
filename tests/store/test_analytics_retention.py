"""Analytics retention: rollup rows older than the retention go with whole month partitions,
dropped by the housekeeping activity; time is moved forward by telling it another today."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import ActivityEnvironment

from activities.housekeeping import Housekeeping
from store import analytics_rollups


async def _partitions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await analytics_rollups.partition_names(conn))


async def _seed(engine: AsyncEngine, app_id: str, days_ago: list[int]) -> None:
    async with engine.begin() as conn:
        today = await analytics_rollups.today(conn)
        days = {today - timedelta(days=n) for n in days_ago}
        await analytics_rollups.ensure_partitions(conn, days)
        for day in days:  # the message rollups' months (store/analytics_message_rollups.py)
            await conn.execute(text("SELECT ensure_message_partition(:d)"), {"d": day})
        await analytics_rollups.add(conn, "an_days", {(app_id, d): (1, 0, 0, 0) for d in days})
        await analytics_rollups.add(conn, "an_cohorts", {(app_id, d, -1): (1,) for d in days})
        await analytics_rollups.upsert_endpoints(
            conn, [(app_id, f"e{n}", today - timedelta(days=n), None) for n in days_ago]
        )


async def _days(engine: AsyncEngine, app_id: str, table: str, column: str) -> list[int]:
    async with engine.connect() as conn:
        today = await analytics_rollups.today(conn)
        rows = await conn.execute(text(f"SELECT {column} FROM {table} WHERE app_id = :a"), {"a": app_id})
        return sorted((today - r[0]).days for r in rows)


async def test_housekeeping_drops_the_month_partitions_past_the_retention(engine: AsyncEngine) -> None:
    app_id = secrets.token_hex(16)
    await _seed(engine, app_id, [400, 0])
    async with engine.connect() as conn:
        today = await analytics_rollups.today(conn)
    old = f"an_days_m{today - timedelta(days=400):%Y%m}"
    assert {old, f"an_msg_counts_m{today - timedelta(days=400):%Y%m}"} <= await _partitions(engine)
    await ActivityEnvironment().run(Housekeeping(engine, keep_days=90).housekeep)
    names = await _partitions(engine)
    assert old not in names and f"an_days_m{today:%Y%m}" in names
    assert not any(n.endswith(f"_m{today - timedelta(days=400):%Y%m}") for n in names)  # every rollup table
    for table, column in (("an_days", "day"), ("an_cohorts", "first_day"), ("an_endpoints", "first_day")):
        assert await _days(engine, app_id, table, column) == [0]


async def test_time_moved_forward_drops_what_has_aged(engine: AsyncEngine) -> None:
    app_id = secrets.token_hex(16)
    await _seed(engine, app_id, [200, 0])
    async with engine.begin() as conn:
        today = await analytics_rollups.today(conn)
        # 90 days on: today's month is still kept (it ends after the cutoff), the 200-day-old gone.
        gone = await analytics_rollups.drop_expired(conn, 90, today=today + timedelta(days=90))
    assert f"an_days_m{today - timedelta(days=200):%Y%m}" in gone
    assert f"an_msg_sets_m{today - timedelta(days=200):%Y%m}" in gone
    assert f"an_days_m{today:%Y%m}" not in gone
    assert await _days(engine, app_id, "an_days", "day") == [0]
