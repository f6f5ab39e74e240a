"""Funnel answer time over raw events (analytics/funnels.py).

    .venv/bin/python bench/funnel.py [--events 10000000] [--endpoints 1000000]

Starts an embedded PostgreSQL in a temporary directory, loads one project's events with
`INSERT ... SELECT generate_series` (7 event types at random, uniformly over the last 90 days
in arrival order as ingestion writes them, a `plan` attribute), ANALYZEs, then times each
funnel over the whole 90 days and over the last 30 (best of 2, after one warm-up run) and
prints the counts with the times.
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

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.funnels import funnel  # noqa: E402
from analytics.model import Filters, Window  # noqa: E402
from analytics.queries import Step  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
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
    step = 1_000_000
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-funnel-"))
    pg = EmbeddedPostgres(tmp / "pg")
    dsn = pg.start()
    try:
        upgrade(dsn)
        app_id = secrets.token_hex(16)
        loaded = await load(dsn, app_id, args.events, args.endpoints)
        print(f"loaded {args.events:,} events of {args.endpoints:,} endpoints over 90 days in {loaded:.0f}s")
        engine = make_engine(dsn, pool_size=1)
        today = datetime.now(UTC).date()
        windows = {
            "90 days": Window(today - timedelta(days=89), today),
            "30 days": Window(today - timedelta(days=29), today),
        }
        print(f"{'funnel':<45} {'range':>8} {'best s':>8}  endpoints per step")
        for name, steps in FUNNELS.items():
            for label, window in windows.items():
                times = []
                async with engine.connect() as conn:
                    for _ in range(3):
                        t0 = time.perf_counter()
                        table = await funnel(conn, app_id, window, Filters(), steps)
                        times.append(time.perf_counter() - t0)
                counts = [str(values[0]) for _, values in table.rows]
                print(f"{name:<45} {label:>8} {min(times[1:]):>8.2f}  {' > '.join(counts)}")
        await engine.dispose()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
