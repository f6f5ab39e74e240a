"""Funnel answer time over raw events (analytics/funnels.py).

    .venv/bin/python bench/funnel.py [--events 10000000] [--endpoints 1000000] [--backend clickhouse]

Starts an embedded PostgreSQL in a temporary directory, loads one project's events with
`INSERT ... SELECT generate_series` (7 event types at random, uniformly over the last 90 days
in arrival order as ingestion writes them, a `plan` attribute; transactions of 100k events),
ANALYZEs, then times each funnel over the whole 90 days and over the last 30 (best of 2, after
one warm-up run) and prints the counts with the times.

`--backend clickhouse`: the ClickHouse feeder (analytics/clickhouse_feed.py) also copies the
events into chDB in the temporary directory (timed), and each funnel is timed on both backends
in the same run, ClickHouse's time printed beside PostgreSQL's, with whether the counts agree.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import clickhouse_feed  # noqa: E402
from analytics.funnels import funnel  # noqa: E402
from analytics.model import Filters, Table, Window  # noqa: E402
from analytics.queries import Step  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from store import clickhouse  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.migrate import upgrade  # noqa: E402

TYPES = ["_session.start", "_session.stop", "page.view", "add_to_cart", "purchase", "search", "_userauth.sign_in"]
FUNNELS = {
    "view > cart": [Step("page.view"), Step("add_to_cart")],
    "view > cart > purchase": [Step("page.view"), Step("add_to_cart"), Step("purchase")],
    "view > cart > purchase(plan=gold)": [
        Step("page.view"),
        Step("add_to_cart"),
        Step("purchase", {"plan": ("gold",)}),
    ],
    "session > view > search > cart > purchase": [
        Step(t) for t in ("_session.start", "page.view", "search", "add_to_cart", "purchase")
    ],
}


async def load(dsn: str, app_id: str, events: int, endpoints: int) -> float:
    conn = await asyncpg.connect(plain_dsn(dsn))
    await conn.execute("INSERT INTO apps (id, name) VALUES ($1, 'bench')", app_id)
    await conn.execute("SELECT ensure_event_partition(current_date)")
    t0 = time.perf_counter()
    step = 100_000  # one transaction each: the feed's slices are whole transactions
    for lo in range(0, events, step):
        await conn.execute(
            "INSERT INTO events (app_id, endpoint_id, event_id, event_type, event_time, attributes)"
            " SELECT $1, 'ep-' || (hashint8(i) & 2147483647) % $4, md5(i::text),"
            " ($5::text[])[1 + (hashint8(i + 7) & 255) % 7],"
            # In arrival order, as ingestion writes them: the day's events lie together.
            " now() - ((90 * 86400 * ($6::int8 - i) / $6::int8) || ' seconds')::interval,"
            ' CASE WHEN i % 2 = 0 THEN \'{"plan": "gold"}\'::jsonb ELSE \'{"plan": "silver"}\'::jsonb END'
            " FROM generate_series($2::int8, $3::int8) i",
            app_id,
            lo,
            min(lo + step, events) - 1,
            endpoints,
            TYPES,
            events,
        )
    await conn.execute("ANALYZE events")
    await conn.close()
    return time.perf_counter() - t0


async def timed(
    engine: Any, app_id: str, window: Window, steps: list[Step], ch: clickhouse.ClickHouse | None
) -> tuple[float, Table]:
    """Best of 2 after a warm-up run, and the table."""
    times = []
    async with engine.connect() as conn:
        for _ in range(3):
            t0 = time.perf_counter()
            table = await funnel(conn, app_id, window, Filters(), steps, ch=ch)
            times.append(time.perf_counter() - t0)
    return min(times[1:]), table


async def feed_all(engine: Any, ch: clickhouse.ClickHouse) -> float:
    """Run the feeder until every event is copied; how long it took."""
    t0 = time.perf_counter()
    while not await clickhouse_feed.caught_up(engine):
        await clickhouse_feed.step(engine, ch, batch=100_000)
    return time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("postgresql", "clickhouse"), default="postgresql")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-funnel-"))
    pg = EmbeddedPostgres(tmp / "pg")
    dsn = pg.start()
    try:
        upgrade(dsn)
        app_id = secrets.token_hex(16)
        loaded = await load(dsn, app_id, args.events, args.endpoints)
        print(f"loaded {args.events:,} events of {args.endpoints:,} endpoints over 90 days in {loaded:.0f}s")
        engine = make_engine(dsn, pool_size=2)
        ch = None
        if args.backend == "clickhouse":
            ch = clickhouse.connect(f"chdb://{tmp}/chdb")
            await ch.setup()
            copied = await feed_all(engine, ch)
            print(
                f"copied into ClickHouse (chDB) by the feeder in {copied:.0f}s ({args.events / copied:,.0f} events/s)"
            )
        today = datetime.now(UTC).date()
        windows = {
            "90 days": Window(today - timedelta(days=89), today),
            "30 days": Window(today - timedelta(days=29), today),
        }
        print(f"{'funnel':<45} {'range':>8} {'PG s':>7} {'CH s':>7} {'agree':>5}  endpoints per step")
        for name, steps in FUNNELS.items():
            for label, window in windows.items():
                pg_s, table = await timed(engine, app_id, window, steps, None)
                counts = [values[:2] for _, values in table.rows]
                ch_s, agree = "", ""
                if ch is not None:
                    seconds, ch_table = await timed(engine, app_id, window, steps, ch)
                    ch_s, agree = f"{seconds:.3f}", "yes" if [v[:2] for _, v in ch_table.rows] == counts else "NO"
                shown = " > ".join(str(c[0]) for c in counts)
                print(f"{name:<45} {label:>8} {pg_s:>7.2f} {ch_s:>7} {agree:>5}  {shown}")
        if ch is not None:
            await ch.close()
        await engine.dispose()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
