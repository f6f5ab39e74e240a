"""Segment resolution over a million endpoints, beside a plain scan of the same table.

    .venv/bin/python bench/segments.py [--endpoints 1000000] [--page 10000] [--explain]

Starts an embedded PostgreSQL in a temporary directory, COPYs `--endpoints` endpoints with
realistic data into one project (random ids, so id order is not insertion order), ANALYZEs,
then resolves five typical segments through store.segment_sql: every page of `--page` ids via
resolve_page (as a campaign streams its audience), and count(). The baseline, measured in the
same run, streams `SELECT id FROM endpoints WHERE app_id = $1` by the same keyset pages.
(Loading is a plain COPY: the import path is benchmarked on its own.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launch.postgres import EmbeddedPostgres  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.driver import driver  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.segment_sql import SegmentDefinition, compile_where, count, resolve_page  # noqa: E402

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
# (city, country, latitude, longitude): the population clusters around these.
CITIES = [
    ("Paris", "FR", 48.86, 2.35),
    ("Lyon", "FR", 45.76, 4.84),
    ("Marseille", "FR", 43.30, 5.37),
    ("Toulouse", "FR", 43.60, 1.44),
    ("Nice", "FR", 43.70, 7.27),
    ("Nantes", "FR", 47.22, -1.55),
    ("Strasbourg", "FR", 48.57, 7.75),
    ("Lille", "FR", 50.63, 3.06),
    ("Bordeaux", "FR", 44.84, -0.58),
    ("Rennes", "FR", 48.11, -1.68),
    ("Berlin", "DE", 52.52, 13.40),
    ("Hamburg", "DE", 53.55, 9.99),
    ("Munich", "DE", 48.14, 11.58),
    ("Cologne", "DE", 50.94, 6.96),
    ("Frankfurt", "DE", 50.11, 8.68),
    ("Stuttgart", "DE", 48.78, 9.18),
    ("Dusseldorf", "DE", 51.23, 6.77),
    ("Leipzig", "DE", 51.34, 12.37),
    ("Dresden", "DE", 51.05, 13.74),
    ("Bremen", "DE", 53.08, 8.80),
    ("Madrid", "ES", 40.42, -3.70),
    ("Barcelona", "ES", 41.39, 2.17),
    ("Valencia", "ES", 39.47, -0.38),
    ("Seville", "ES", 37.39, -5.98),
    ("Bilbao", "ES", 43.26, -2.93),
    ("Malaga", "ES", 36.72, -4.42),
    ("Zaragoza", "ES", 41.65, -0.89),
    ("Palma", "ES", 39.57, 2.65),
    ("London", "GB", 51.51, -0.13),
    ("Manchester", "GB", 53.48, -2.24),
    ("Birmingham", "GB", 52.49, -1.89),
    ("Leeds", "GB", 53.80, -1.55),
    ("Glasgow", "GB", 55.86, -4.25),
    ("Liverpool", "GB", 53.41, -2.98),
    ("Bristol", "GB", 51.45, -2.59),
    ("Edinburgh", "GB", 55.95, -3.19),
    ("New York", "US", 40.71, -74.01),
    ("Los Angeles", "US", 34.05, -118.24),
    ("Chicago", "US", 41.88, -87.63),
    ("Houston", "US", 29.76, -95.37),
    ("Phoenix", "US", 33.45, -112.07),
    ("Philadelphia", "US", 39.95, -75.17),
    ("San Antonio", "US", 29.42, -98.49),
    ("San Diego", "US", 32.72, -117.16),
    ("Dallas", "US", 32.78, -96.80),
    ("Seattle", "US", 47.61, -122.33),
    ("Boston", "US", 42.36, -71.06),
    ("Denver", "US", 39.74, -104.99),
    ("Austin", "US", 30.27, -97.74),
    ("Miami", "US", 25.76, -80.19),
]
TIMEZONES = {
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "GB": "Europe/London",
    "US": "America/New_York",
}
INTERESTS = [
    "golf",
    "wine",
    "hiking",
    "cooking",
    "travel",
    "music",
    "cinema",
    "running",
    "books",
    "tech",
    "art",
    "yoga",
]
PLANS = ["free"] * 6 + ["pro"] * 3 + ["team"]
PLATFORMS = [
    ("ios", "Apple", "iPhone"),
    ("android", "Samsung", "Galaxy"),
    ("android", "Google", "Pixel"),
    ("web", "", ""),
]
CHANNELS = {"ios": "APNS", "android": "GCM", "web": "EMAIL"}
COLUMNS = [
    "app_id",
    "id",
    "address",
    "channel_type",
    "endpoint_status",
    "opt_out",
    "user_id",
    "cohort_id",
    "attributes",
    "user_attributes",
    "metrics",
    "demographic",
    "location",
    "created_at",
    "updated_at",
    "last_active_at",
]


def endpoint_record(rng: random.Random, app_id: str) -> tuple[Any, ...]:
    city, country, lat, lon = rng.choice(CITIES)
    platform, make, model = rng.choice(PLATFORMS)
    eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    purchases = rng.randint(0, 50)
    last_active = NOW - timedelta(seconds=rng.randrange(60 * 86_400))
    demographic = {
        "Platform": platform,
        "AppVersion": rng.choice(["4.1.0", "4.2.0", "4.2.1"]),
        "Timezone": TIMEZONES[country],
    }
    if make:
        demographic |= {"Make": make, "Model": model}
    return (
        app_id,
        eid,
        f"token-{eid}" if platform != "web" else f"{eid[:8]}@example.com",
        CHANNELS[platform],
        "ACTIVE" if rng.random() < 0.97 else "INACTIVE",
        "ALL" if rng.random() < 0.05 else "NONE",
        f"user-{rng.randrange(800_000)}",
        rng.randrange(100),
        orjson.dumps(
            {"City": [city], "Interests": rng.sample(INTERESTS, rng.randint(1, 4)), "Plan": [rng.choice(PLANS)]}
        ).decode(),
        orjson.dumps(
            {"Tier": [rng.choice(["bronze", "silver", "gold"])], "Language": [rng.choice(["en", "fr", "de"])]}
        ).decode(),
        orjson.dumps({"purchases": purchases, "spend": round(purchases * rng.uniform(5, 40), 2)}).decode(),
        orjson.dumps(demographic).decode(),
        orjson.dumps(
            {
                "City": city,
                "Country": country,
                # Spread around the city (sigma ~ 25 km), rounded as Pinpoint stores them.
                "Latitude": round(lat + rng.gauss(0, 0.22), 1),
                "Longitude": round(lon + rng.gauss(0, 0.3), 1),
            }
        ).decode(),
        last_active - timedelta(days=rng.randrange(300)),
        last_active,
        last_active,
    )


def attr(kind: str, *values: str) -> dict[str, Any]:
    return {"AttributeType": kind, "Values": list(values)}


SEGMENTS: dict[str, SegmentDefinition] = {
    "attribute INCLUSIVE (Interests golf)": SegmentDefinition(
        "DIMENSIONAL", {"Attributes": {"Interests": attr("INCLUSIVE", "golf")}}, None
    ),
    "metrics (purchases >= 40, spend < 1000)": SegmentDefinition(
        "DIMENSIONAL",
        {
            "Metrics": {
                "purchases": {"ComparisonOperator": "GREATER_THAN_OR_EQUAL", "Value": 40},
                "spend": {"ComparisonOperator": "LESS_THAN", "Value": 1000},
            }
        },
        None,
    ),
    "recency ACTIVE DAY_7": SegmentDefinition(
        "DIMENSIONAL", {"Behavior": {"Recency": {"Duration": "DAY_7", "RecencyType": "ACTIVE"}}}, None
    ),
    "GPS 50 km around Paris": SegmentDefinition(
        "DIMENSIONAL",
        {"Location": {"GPSPoint": {"Coordinates": {"Latitude": 48.86, "Longitude": 2.35}, "RangeInKilometers": 50}}},
        None,
    ),
    "3 groups, Include ALL, one Type NONE": SegmentDefinition(
        "DIMENSIONAL",
        None,
        {
            "Include": "ALL",
            "Groups": [
                {"Dimensions": [{"Demographic": {"Platform": {"Values": ["ios", "android"]}}}]},
                {
                    "Type": "ANY",
                    "Dimensions": [
                        {"Attributes": {"Plan": attr("INCLUSIVE", "pro", "team")}},
                        {"Metrics": {"purchases": {"ComparisonOperator": "GREATER_THAN", "Value": 45}}},
                    ],
                },
                {
                    "Type": "NONE",
                    "Dimensions": [
                        {"Location": {"Country": {"Values": ["DE"]}}},
                        {"Behavior": {"Recency": {"Duration": "DAY_30", "RecencyType": "INACTIVE"}}},
                    ],
                },
            ],
        },
    ),
}


async def timed(work: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = await work()
    return n, time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument(
        "--shared-buffers",
        default="2GB",
        help="PostgreSQL shared_buffers (2GB holds the table; the server's default is 128MB)",
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each first page")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-segbench-"))
    pg_server = EmbeddedPostgres(tmp / "pg", fast=True, settings={"shared_buffers": args.shared_buffers})
    dsn = pg_server.start()
    try:
        upgrade(dsn)
        app_id = secrets.token_hex(16)
        raw = await asyncpg.connect(plain_dsn(dsn))
        await raw.execute("INSERT INTO apps (id, name) VALUES ($1, 'bench')", app_id)
        rng = random.Random(7)
        t0 = time.perf_counter()
        records = [endpoint_record(rng, app_id) for _ in range(args.endpoints)]
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        await raw.copy_records_to_table("endpoints", records=records, columns=COLUMNS)
        copy_s = time.perf_counter() - t0
        del records
        t0 = time.perf_counter()
        await raw.execute("VACUUM ANALYZE endpoints")
        analyze_s = time.perf_counter() - t0
        size = await raw.fetchval("SELECT pg_size_pretty(pg_total_relation_size('endpoints'))")
        await raw.close()
        print(
            f"{args.endpoints:,} endpoints: generated in {gen_s:.1f}s, COPY {copy_s:.1f}s,"
            f" VACUUM ANALYZE {analyze_s:.1f}s; table + indexes {size}; shared_buffers {args.shared_buffers}"
        )

        engine = make_engine(dsn, pool_size=1)
        async with engine.connect() as conn:
            pg = await driver(conn)

            async def baseline() -> int:
                n, after = 0, ""
                while ids := await pg.fetch(
                    "SELECT id FROM endpoints WHERE app_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    app_id,
                    after,
                    args.page,
                ):
                    n += len(ids)
                    after = ids[-1]["id"]
                return n

            await baseline()  # warm the index the same way for every measurement
            total, base_s = await timed(baseline)
            print(f"\nbaseline: stream all {total:,} ids in pages of {args.page:,}: {base_s:.2f}s")
            print("(each segment is resolved twice: the first pass also loads its heap pages into the cache)\n")
            print(f"{'segment':42} {'members':>9} {'count()':>9} {'resolve':>9} {'again':>9} {'/ base':>7}")
            for name, definition in SEGMENTS.items():

                async def stream(definition: SegmentDefinition = definition) -> int:
                    # As a campaign would: a page shorter than the limit is the last one.
                    n, after = 0, None
                    while True:
                        ids = await resolve_page(conn, app_id, definition, after=after, limit=args.page, now=NOW)
                        n += len(ids)
                        if len(ids) < args.page:
                            return n
                        after = ids[-1]

                async def counted(definition: SegmentDefinition = definition) -> int:
                    return await count(conn, app_id, definition, now=NOW)

                members, cold_s = await timed(stream)
                again, warm_s = await timed(stream)
                counted_n, count_s = await timed(counted)
                assert counted_n == members == again, (name, counted_n, members, again)
                print(
                    f"{name:42} {members:>9,} {count_s:>8.2f}s {cold_s:>8.2f}s {warm_s:>8.2f}s {warm_s / base_s:>6.1f}x"
                )
                if args.explain:
                    where, params = await compile_where(conn, app_id, definition, now=NOW)
                    plan = await pg.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS) SELECT e.id FROM endpoints e"
                        f" WHERE e.app_id = $1 AND ({where}) ORDER BY e.id LIMIT {args.page}",
                        *params,
                    )
                    print("\n".join("    " + r[0] for r in plan))
        await engine.dispose()
        print(f"\n{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    finally:
        pg_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
