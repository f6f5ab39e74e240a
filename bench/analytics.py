"""Analytics over 90 days: each page's answer from the rollups, beside the same answer computed
from the raw events in the same run.

    .venv/bin/python bench/analytics.py [--endpoints 1000000] [--events 10000000] [--raw-timeout 120]
        [--backend clickhouse]

Starts an embedded PostgreSQL in a temporary directory, COPYs a project's endpoints and its
events (spread over the last 90 days, day by day, in transactions of --chunk events; a quarter
of them message events of campaigns, a journey and direct sends: bench/analytics_messages.py)
straight into the tables, builds the rollups with the code the worker's rollup loop runs
(analytics.rollups.step, reading the event feed), then times each figure over the full 90 days:
the analytics function (rollups) and a query over the raw events giving the same numbers (the
baseline; cut at --raw-timeout seconds), their ratio, and whether both agree.

`--backend clickhouse`: the ClickHouse feeder (analytics/clickhouse_feed.py) also copies the
events into chDB in the temporary directory (timed), and each figure is also answered by the
ClickHouse backend, its time printed beside the others with whether its table equals the
rollups' (values rounded to 6 digits).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import clickhouse_feed, demographics, events, revenue, rollups, usage  # noqa: E402
from analytics.model import Filters, Table, Window  # noqa: E402
from bench import analytics_messages as message_bench  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from store import analytics_rollups, clickhouse, feed  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.events import EVENT_COLUMNS  # noqa: E402
from store.migrate import upgrade  # noqa: E402

PLATFORMS = ["android", "ios", "web"]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Seattle", "Austin", "Tokyo", "Sydney"]
CUSTOM = ["page.view", "add_to_cart", "search"]
SCREENS = [f"screen-{i}" for i in range(20)]
NONE = Filters()


def endpoints(rng: random.Random, app_id: str, n: int, created: datetime) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(n):
        demographic = {"Platform": rng.choice(PLATFORMS), "AppVersion": f"4.{rng.randrange(5)}", "Make": "Acme"}
        location = {"Country": "FR", "City": rng.choice(CITIES)}
        attributes = {"Plan": [rng.choice(["free", "pro"])]}
        rows.append(
            (
                app_id,
                f"ep-{i:07d}",
                "GCM",
                f"token-{i}",
                orjson.dumps(demographic).decode(),
                orjson.dumps(location).decode(),
                orjson.dumps(attributes).decode(),
                f"user-{i // 2}",
                created,
            )
        )
    return rows


def day_events(
    rng: random.Random, app_id: str, day: date, firsts: list[int], count: int, offset: int
) -> list[tuple[Any, ...]]:
    """`count` events of day `day` (index `offset` of the 90): endpoints that have started by
    then, the newest more active (as in an app that keeps some of its users)."""
    alive = firsts[offset]  # endpoints 0..alive-1 have been seen by this day
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows: list[tuple[Any, ...]] = []
    for k in range(count):
        # Recent endpoints weigh more: an exponential draw over the endpoints alive.
        ep = max(0, alive - 1 - int(rng.expovariate(1 / max(1.0, alive / 6))) % alive)
        kind_draw = rng.random()
        at = start + timedelta(seconds=rng.randrange(86_400))
        attributes: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        session = None
        if kind_draw < 0.15:
            kind, session = "_session.start", f"s-{ep}-{offset}"
        elif kind_draw < 0.30:
            kind, session = "_session.stop", f"s-{ep}-{offset}"
        elif kind_draw < 0.33:
            kind = "_monetization.purchase"
            attributes = {"_currency": rng.choice(["USD", "EUR"]), "_product_id": f"p{rng.randrange(30)}"}
            metrics = {"_item_price": float(rng.randrange(1, 50)), "_quantity": float(rng.randrange(1, 3))}
        else:
            kind = rng.choice(CUSTOM)
            attributes = {"screen": rng.choice(SCREENS)}
            metrics = {"value": float(rng.randrange(100))}
        rows.append(
            (
                app_id,
                f"ep-{ep:07d}",
                f"{offset}-{k}",
                kind,
                at,
                session,
                orjson.dumps(attributes).decode(),
                orjson.dumps(metrics).decode(),
                "{}",
            )
        )
    return rows


# The raw-event baselines: the same figures straight from `events`.
RAW: dict[str, str] = {
    "usage.active (DAU, MAU, stickiness)": """
        WITH days AS (SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date AS day, endpoint_id FROM events
                      WHERE app_id = $1 AND event_time >= $2::date - 29 AND event_time < $3::date + 1)
        SELECT g.day::date, count(DISTINCT d.endpoint_id) FILTER (WHERE d.day = g.day::date) AS dau,
               count(DISTINCT d.endpoint_id) AS mau
        FROM generate_series($2::date, $3::date, interval '1 day') g(day)
        JOIN days d ON d.day BETWEEN g.day::date - 29 AND g.day::date GROUP BY g.day""",
    "usage.daily (DAU, users, new, sessions)": """
        WITH firsts AS (SELECT first, count(*) AS n FROM (SELECT min((event_time AT TIME ZONE 'UTC')::date) AS first
                        FROM events WHERE app_id = $1 GROUP BY endpoint_id) f GROUP BY first),
             daily AS (SELECT (e.event_time AT TIME ZONE 'UTC')::date AS day, count(DISTINCT e.endpoint_id) AS dau,
                       count(DISTINCT p.user_id) AS users,
                       count(*) FILTER (WHERE e.event_type = '_session.start') AS sessions
                       FROM events e LEFT JOIN endpoints p ON p.app_id = e.app_id AND p.id = e.endpoint_id
                       WHERE e.app_id = $1 AND e.event_time >= $2::date AND e.event_time < $3::date + 1 GROUP BY 1)
        SELECT d.day, d.dau, d.users, d.sessions, coalesce(f.n, 0)
        FROM daily d LEFT JOIN firsts f ON f.first = d.day""",
    "usage.sessions_by_hour": """
        SELECT extract(hour FROM event_time AT TIME ZONE 'UTC'), count(*) FROM events WHERE app_id = $1
        AND event_type = '_session.start' AND event_time >= $2::date AND event_time < $3::date + 1 GROUP BY 1""",
    "usage.retention (daily cohorts)": """
        WITH d AS (SELECT DISTINCT endpoint_id, (event_time AT TIME ZONE 'UTC')::date AS day FROM events
                   WHERE app_id = $1),
             f AS (SELECT endpoint_id, min(day) AS first FROM d GROUP BY endpoint_id),
             r AS (SELECT f.endpoint_id, f.first, min(d.day) - f.first AS back FROM f
                   LEFT JOIN d ON d.endpoint_id = f.endpoint_id AND d.day > f.first GROUP BY 1, 2)
        SELECT first, count(*), count(*) FILTER (WHERE back <= 7), count(*) FILTER (WHERE back <= 14),
               count(*) FILTER (WHERE back <= 30) FROM r WHERE first BETWEEN $2 AND $3 GROUP BY first""",
    "revenue.revenue (per day, currency)": """
        SELECT (event_time AT TIME ZONE 'UTC')::date, attributes->>'_currency',
               sum((metrics->>'_item_price')::float8 * coalesce((metrics->>'_quantity')::float8, 1)),
               count(DISTINCT endpoint_id)
        FROM events WHERE app_id = $1 AND event_type = '_monetization.purchase'
        AND event_time >= $2::date AND event_time < $3::date + 1 GROUP BY 1, 2""",
    "revenue.products (top 10)": """
        SELECT attributes->>'_currency', attributes->>'_product_id',
               sum((metrics->>'_item_price')::float8 * coalesce((metrics->>'_quantity')::float8, 1)) AS r
        FROM events WHERE app_id = $1 AND event_type = '_monetization.purchase'
        AND event_time >= $2::date AND event_time < $3::date + 1 GROUP BY 1, 2 ORDER BY r DESC LIMIT 10""",
    "revenue.paying_users": """
        SELECT attributes->>'_currency', count(DISTINCT endpoint_id) FROM events WHERE app_id = $1
        AND event_type = '_monetization.purchase' AND event_time >= $2::date AND event_time < $3::date + 1
        GROUP BY ROLLUP (1)""",
    "events.events (type, attribute filter, metric sum)": """
        SELECT (event_time AT TIME ZONE 'UTC')::date, count(*), sum((metrics->>'value')::float8) FROM events
        WHERE app_id = $1 AND event_type = 'page.view' AND attributes->>'screen' IN ('screen-1', 'screen-2')
        AND event_time >= $2::date AND event_time < $3::date + 1 GROUP BY 1""",
    "demographics (platform)": """
        SELECT p.demographic->>'Platform', count(*) FROM (SELECT DISTINCT endpoint_id FROM events
        WHERE app_id = $1 AND event_time >= $2::date AND event_time < $3::date + 1) e
        JOIN endpoints p ON p.app_id = $1 AND p.id = e.endpoint_id GROUP BY 1""",
    "demographics (city)": """
        SELECT p.location->>'City', count(*) FROM (SELECT DISTINCT endpoint_id FROM events
        WHERE app_id = $1 AND event_time >= $2::date AND event_time < $3::date + 1) e
        JOIN endpoints p ON p.app_id = $1 AND p.id = e.endpoint_id GROUP BY 1""",
}

Figure = Callable[..., Awaitable[Table]]  # (connection, project, window, ch=None)
FIGURES: dict[str, Figure] = {
    "usage.active (DAU, MAU, stickiness)": lambda c, a, w, ch=None: usage.active(c, a, w, NONE, ch=ch),
    "usage.daily (DAU, users, new, sessions)": lambda c, a, w, ch=None: usage.daily(c, a, w, NONE, ch=ch),
    "usage.sessions_by_hour": lambda c, a, w, ch=None: usage.sessions_by_hour(c, a, w, NONE, ch=ch),
    "usage.retention (daily cohorts)": lambda c, a, w, ch=None: usage.retention(c, a, w, NONE, ch=ch),
    "revenue.revenue (per day, currency)": lambda c, a, w, ch=None: revenue.revenue(c, a, w, NONE, ch=ch),
    "revenue.products (top 10)": lambda c, a, w, ch=None: revenue.products(c, a, w, NONE, ch=ch),
    "revenue.paying_users": lambda c, a, w, ch=None: revenue.paying_users(c, a, w, NONE, ch=ch),
    "events.events (type, attribute filter, metric sum)": lambda c, a, w, ch=None: events.events(
        c, a, w, NONE, event_type="page.view", attributes={"screen": ("screen-1", "screen-2")}, metric="value", ch=ch
    ),
    "demographics (platform)": lambda c, a, w, ch=None: demographics.demographics(c, a, w, NONE, "platform", ch=ch),
    "demographics (city)": lambda c, a, w, ch=None: demographics.demographics(c, a, w, NONE, "city", ch=ch),
}


def same_table(a: Table, b: Table) -> str:
    """Whether two answers are the same table (values rounded to 6 significant digits)."""

    def norm(t: Table) -> set[Any]:
        return {(g, tuple(float(f"{float(x):.6g}") if isinstance(x, float | int) else x for x in v)) for g, v in t.rows}

    got, want = norm(a), norm(b)
    return "yes" if got == want else f"NO ({len(got ^ want)} rows differ)"


async def on_clickhouse(engine: Any, tmp: Path, keep_days: int) -> clickhouse.ClickHouse:
    """chDB in `tmp`, the feeder run until it has copied every event."""
    ch = clickhouse.connect(f"chdb://{tmp}/chdb", keep_days)
    await ch.setup()
    t0 = time.perf_counter()
    copied = 0
    while not await clickhouse_feed.caught_up(engine):
        copied += await clickhouse_feed.step(engine, ch, batch=100_000, keep_days=keep_days)
    took = time.perf_counter() - t0
    print(f"copied into ClickHouse (chDB) by the feeder in {took:.0f}s ({copied / took:,.0f} events/s)")
    return ch


def agree(name: str, table: Table, raw: list[asyncpg.Record]) -> str:
    """Whether the rollup answer and the raw one give the same headline numbers."""
    got: set[Any]
    want: set[Any]
    try:
        if name.startswith("usage.active"):
            got = {(g[0], int(v[0] or 0), int(v[1] or 0)) for g, v in table.rows}
            want = {(r[0].isoformat(), int(r[1]), int(r[2])) for r in raw}
        elif name.startswith("usage.daily"):
            got = {(g[0], v[0], v[2], v[3]) for g, v in table.rows}
            want = {(r[0].isoformat(), r[1], r[4], r[3]) for r in raw}
        elif name.startswith("usage.sessions"):
            got = {(int(g[0]), v[0]) for g, v in table.rows if v[0]}
            want = {(int(r[0]), r[1]) for r in raw}
        elif name.startswith("usage.retention"):
            got = {(g[0], v[0], round(float(v[1] or 0) * float(v[0] or 0))) for g, v in table.rows}
            want = {(r[0].isoformat(), r[1], r[2]) for r in raw}
        elif name.startswith("revenue.revenue"):
            got = {(g[0], g[1], round(float(v[0] or 0), 2), v[3]) for g, v in table.rows}
            want = {(r[0].isoformat(), r[1], round(r[2], 2), r[3]) for r in raw}
        elif name.startswith("revenue.products"):
            got = {(g[0], g[1], round(float(v[0] or 0), 2)) for g, v in table.rows}
            want = {(r[0], r[1], round(r[2], 2)) for r in raw}
        elif name.startswith("revenue.paying"):
            got = {(g[0], v[0]) for g, v in table.rows}
            want = {(r[0] or "", r[1]) for r in raw}
        elif name.startswith("events"):
            got = {(g[0], v[0], round(float(v[2] or 0), 2)) for g, v in table.rows}
            want = {(r[0].isoformat(), r[1], round(r[2], 2)) for r in raw}
        else:
            got = {(g[0], v[0]) for g, v in table.rows}
            want = {(r[0], r[1]) for r in raw}
    except Exception as e:  # noqa: BLE001 - a bench reports, it does not stop
        return f"? ({e})"
    return "yes" if got == want else f"NO ({len(got ^ want)} rows differ)"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--chunk", type=int, default=20_000, help="events per COPY transaction (and fold)")
    parser.add_argument("--raw-timeout", type=float, default=120.0)
    parser.add_argument("--backend", choices=("postgresql", "clickhouse"), default="postgresql")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-analytics-"))
    pg = EmbeddedPostgres(tmp / "pg", settings={"max_wal_size": "4GB", "work_mem": "64MB"})
    dsn = pg.start()
    try:
        upgrade(dsn)
        engine = make_engine(dsn, pool_size=2)
        conn = await asyncpg.connect(plain_dsn(dsn))
        app_id = "b" * 32
        await conn.execute("INSERT INTO apps (id, name) VALUES ($1, 'bench')", app_id)
        async with engine.begin() as c:  # the rollups start now: what follows comes through the feed
            await analytics_rollups.start_cursor(c, await feed.start(c), backfill=False)
        rng = random.Random(7)
        today = datetime.now(UTC).date()
        first_day = today - timedelta(days=args.days - 1)
        await message_bench.setup(conn, app_id, first_day, args.days)
        t0 = time.perf_counter()
        created = datetime.now(UTC)  # made by PutEvents: after their first events (stamped earlier)
        rows = endpoints(rng, app_id, args.endpoints, created)
        await conn.copy_records_to_table(
            "endpoints",
            records=rows,
            columns=[
                "app_id",
                "id",
                "channel_type",
                "address",
                "demographic",
                "location",
                "attributes",
                "user_id",
                "created_at",
            ],
        )
        del rows
        # Endpoints arrive over the 90 days (each is new on its first day): a sqrt curve.
        firsts = [max(1, int(args.endpoints * math.sqrt((d + 1) / args.days))) for d in range(args.days)]
        per_day = args.events // args.days
        load_s = fold_s = 0.0
        folded = 0
        per_day_messages = int(per_day * message_bench.SHARE)
        for offset in range(args.days):
            day = first_day + timedelta(days=offset)
            rows = day_events(rng, app_id, day, firsts, per_day - per_day_messages, offset)
            rows += message_bench.day_messages(rng, app_id, day, firsts[offset], per_day_messages, offset)
            t1 = time.perf_counter()
            for i in range(0, len(rows), args.chunk):
                await conn.copy_records_to_table("events", records=rows[i : i + args.chunk], columns=EVENT_COLUMNS)
            load_s += time.perf_counter() - t1
            t1 = time.perf_counter()
            while True:  # the worker's loop body, until the feed is read
                n = await rollups.step(engine, batch=args.chunk, keep_days=args.days + 1)
                if n == 0:
                    break
                folded += n
            fold_s += time.perf_counter() - t1
            if offset % 10 == 9:
                print(f"  day {offset + 1}/{args.days}: {folded:,} events folded", file=sys.stderr, flush=True)
        total_s = time.perf_counter() - t0
        await conn.execute("ANALYZE")
        sizes = await conn.fetch(
            "SELECT p.relname, sum(pg_total_relation_size(c.oid))::bigint AS bytes, sum(c.reltuples)::bigint AS n"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname LIKE 'an_%' AND c.relkind = 'r' GROUP BY 1 ORDER BY 2 DESC"
        )
        print(
            f"loaded {args.endpoints:,} endpoints and {folded:,} events over {args.days} days in {total_s:.0f}s"
            f" (COPY {load_s:.0f}s; rollups built by analytics.rollups.step: {fold_s:.0f}s,"
            f" {folded / max(fold_s, 1e-9):,.0f} events/s)"
        )
        messages_n = await conn.fetchval(
            "SELECT count(*) FROM events WHERE app_id = $1 AND event_type ~ '^_(email|SMS|push|campaign)[.]'",
            app_id,
        )
        print(
            f"of which {messages_n:,} message events (campaigns, journey, direct sends), folded into the message"
            " rollups by the same step"
        )
        print("rollup tables: " + ", ".join(f"{r['relname']} {r['n']:,} rows" for r in sizes))
        window = Window(first_day, today)
        ch = await on_clickhouse(engine, tmp, args.days + 1) if args.backend == "clickhouse" else None
        await conn.execute(f"SET statement_timeout = '{int(args.raw_timeout * 1000)}'")
        head = f"{'figure (90 days)':<52} {'rollups':>9} {'raw events':>11} {'ratio':>8}  agree"
        print("\n" + head + ("   ClickHouse  = rollups" if ch else ""))
        for name, figure in FIGURES.items():
            async with engine.connect() as c:
                await figure(c, app_id, window)  # warm
                t1 = time.perf_counter()
                table = await figure(c, app_id, window)
                fast = time.perf_counter() - t1
            t1 = time.perf_counter()
            try:
                raw = await conn.fetch(RAW[name], app_id, window.first, window.last)
                slow = time.perf_counter() - t1
                slow_text, ratio, same = f"{slow:.2f}s", f"{slow / fast:,.0f}x", agree(name, table, raw)
            except asyncpg.QueryCanceledError:
                slow_text, ratio, same = f">{args.raw_timeout:.0f}s", f">{args.raw_timeout / fast:,.0f}x", "-"
            line = f"{name:<52} {fast * 1000:>7.0f}ms {slow_text:>11} {ratio:>8}  {same:<5}"
            if ch is not None:
                async with engine.connect() as c:
                    await figure(c, app_id, window, ch=ch)  # warm
                    t1 = time.perf_counter()
                    on_ch = await figure(c, app_id, window, ch=ch)
                    line += f" {(time.perf_counter() - t1) * 1000:>9.0f}ms  {same_table(on_ch, table)}"
            print(line, flush=True)
        # The message pages: from the message rollups, and as analytics/messages.py read raw events.
        await message_bench.report(engine, app_id, window, args.raw_timeout, ch)
        await conn.close()
        await engine.dispose()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # gigabytes at 10M events


if __name__ == "__main__":
    asyncio.run(main())
