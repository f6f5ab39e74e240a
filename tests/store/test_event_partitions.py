"""Migration 0007 on a database of its own: events move from day-of-event_time partitions to
day-of-receipt partitions without loss, and retention drops whole expired partitions."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text

from launch.postgres import EmbeddedPostgres
from store import events as events_store
from store.db import make_engine, plain_dsn
from store.migrate import alembic_config, upgrade

PARTS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
)


@pytest.fixture
def fresh_db(pg_server: EmbeddedPostgres) -> str:
    return pg_server.create_database(f"openpoint_parts_{secrets.token_hex(4)}")


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(url, query, *args))


def test_existing_events_are_carried_over_into_a_bounded_set_of_partitions(fresh_db: str) -> None:
    upgrade(fresh_db, "0006")
    days = [date(1999, 1, 1) + timedelta(days=400 * i) for i in range(30)]  # 30 client days, 1999..2031
    fetch(fresh_db, "INSERT INTO apps (id, name) VALUES ('a', 'a')")
    for i, day in enumerate(days):
        fetch(fresh_db, "SELECT ensure_event_partition($1::date)", day)
        fetch(
            fresh_db,
            "INSERT INTO events (app_id, event_time, endpoint_id, event_id, event_type, attributes, received_at)"
            " VALUES ('a', $1, 'ep', $2, 'buy', '{\"k\": \"v\"}', now() - $3::interval)",
            datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
            f"e{i}",
            timedelta(days=i % 3),  # received today, yesterday, the day before
        )
    assert len(fetch(fresh_db, PARTS)) == 30

    upgrade(fresh_db)

    today = fetch(fresh_db, "SELECT (now() AT TIME ZONE 'UTC')::date AS d")[0]["d"]
    names = {r["relname"] for r in fetch(fresh_db, PARTS)}
    assert names == {
        f"events_r_before_{today:%Y%m%d}",
        f"events_r_{today:%Y%m%d}",
        f"events_r_{today + timedelta(days=1):%Y%m%d}",
    }
    rows = fetch(fresh_db, "SELECT event_id, event_time, attributes FROM events ORDER BY event_time")
    assert [r["event_id"] for r in rows] == [f"e{i}" for i in range(30)]
    assert rows[0]["attributes"] == '{"k": "v"}'
    # The readers' indexes are on the new table.
    indexes = {r["indexname"] for r in fetch(fresh_db, "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    assert indexes == {"ix_events_app_type_time", "ix_events_app_endpoint_time", "ix_events_xid"}  # 0009: the feed

    # And back: the old layout again, every row kept.
    command.downgrade(alembic_config(fresh_db), "0006")
    assert fetch(fresh_db, "SELECT count(*) AS n FROM events")[0]["n"] == 30
    assert len(fetch(fresh_db, PARTS)) == 30
    upgrade(fresh_db)
    assert fetch(fresh_db, "SELECT count(*) AS n FROM events")[0]["n"] == 30


async def test_retention_drops_whole_partitions_received_long_ago(fresh_db: str) -> None:
    upgrade(fresh_db)
    engine = make_engine(fresh_db, pool_size=1)
    try:
        async with engine.begin() as conn:
            today = await conn.scalar(text("SELECT (now() AT TIME ZONE 'UTC')::date"))
            # The carried-over partition is empty here; old day partitions take its place.
            await conn.execute(text(f'DROP TABLE "events_r_before_{today:%Y%m%d}"'))
            for age in (100, 91, 90, 89):
                day = today - timedelta(days=age)
                await conn.execute(text("SELECT ensure_event_partition(:d)"), {"d": day})
                await conn.execute(
                    text(
                        "INSERT INTO events (app_id, event_time, endpoint_id, event_id, event_type, received_at)"
                        " VALUES ('a', now(), 'ep', :id, 'x', :at)"
                    ),
                    {"id": f"age-{age}", "at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC)},
                )
            dropped = await events_store.drop_expired_partitions(conn)
            assert dropped == [f"events_r_{today - timedelta(days=a):%Y%m%d}" for a in (100, 91)]
            left = [r[0] for r in await conn.execute(text("SELECT event_id FROM events ORDER BY event_id"))]
            assert left == ["age-89", "age-90"]
            # Today's and tomorrow's partitions are made ahead of the writes.
            names = await events_store.partition_names(conn)
            assert f"events_r_{today:%Y%m%d}" in names and f"events_r_{today + timedelta(days=1):%Y%m%d}" in names
    finally:
        await engine.dispose()
