"""The console builder's live count over a million endpoints, beside a plain count of the same
project's endpoints.

    .venv/bin/python bench/segment_count.py [--endpoints 1000000] [--timeout-ms 1500]

Starts an embedded PostgreSQL in a temporary directory and COPYs `--endpoints` endpoints with
bench/segments.py's realistic data into one project. Each draft is a builder form
(console.segment_form.Draft) taken the console's whole way: to Pinpoint's WriteSegmentRequest,
decoded against botocore's model, checked by CreateSegment's code (api.segments.check_definition),
then counted under the builder's statement timeout (store.console_segments.count_within). Each
draft is counted twice (the first pass also loads heap pages into the cache); "capped" is what the
browser is shown: the figure, or "too long" past the timeout. The baseline, in the same run, is
`SELECT count(*) FROM endpoints WHERE app_id = $1`.
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
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.segments import check_definition, write_request  # noqa: E402
from bench.segments import COLUMNS, NOW, endpoint_record  # noqa: E402
from console.segment_form import Criterion, Draft, Group, to_request  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from store.console_segments import count_within  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.segment_sql import SegmentDefinition  # noqa: E402


def draft(*criteria: Criterion, kind: str = "ALL") -> Draft:
    return Draft(name="bench", groups=[Group(type=kind, criteria=list(criteria))])


DRAFTS: dict[str, Draft] = {
    "platform ios": draft(Criterion("platform", op="INCLUSIVE", values="ios")),
    "platform ios + attribute Plan pro": draft(
        Criterion("platform", op="INCLUSIVE", values="ios"), Criterion("attribute", name="Plan", values="pro")
    ),
    "country FR + active in 7 days": draft(
        Criterion("country", op="INCLUSIVE", values="FR"), Criterion("recency", op="ACTIVE", values="DAY_7")
    ),
    "metric purchases >= 40": draft(Criterion("metric", name="purchases", op="GREATER_THAN_OR_EQUAL", values="40")),
    "within 50 km of Paris": draft(Criterion("gps", lat="48.86", lon="2.35", km="50")),
    "ANY: user attr Tier gold | Interests golf": draft(
        Criterion("user_attribute", name="Tier", values="gold"),
        Criterion("attribute", name="Interests", values="golf"),
        kind="ANY",
    ),
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--timeout-ms", type=int, default=1500, help="the builder's limit (console/segments.py)")
    parser.add_argument("--shared-buffers", default="2GB")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-countbench-"))
    pg_server = EmbeddedPostgres(tmp / "pg", fast=True, settings={"shared_buffers": args.shared_buffers})
    dsn = pg_server.start()
    try:
        upgrade(dsn)
        app_id = secrets.token_hex(16)
        raw = await asyncpg.connect(plain_dsn(dsn))
        await raw.execute("INSERT INTO apps (id, name) VALUES ($1, 'bench')", app_id)
        rng = random.Random(7)
        t0 = time.perf_counter()
        await raw.copy_records_to_table(
            "endpoints", records=[endpoint_record(rng, app_id) for _ in range(args.endpoints)], columns=COLUMNS
        )
        await raw.execute("VACUUM ANALYZE endpoints")
        print(f"{args.endpoints:,} endpoints loaded in {time.perf_counter() - t0:.1f}s")

        engine = make_engine(dsn, pool_size=1)
        for _ in range(2):  # the first pass warms the table as the first person to open the builder would
            t0 = time.perf_counter()
            total = await raw.fetchval("SELECT count(*) FROM endpoints WHERE app_id = $1", app_id)
            base_s = time.perf_counter() - t0
        print(f"baseline: SELECT count(*) of the project's {total:,} endpoints: {base_s:.2f}s (warm)\n")
        print(f"{'draft':44} {'members':>9} {'first':>8} {'again':>8} {'/ base':>7}  shown")
        for name, d in DRAFTS.items():
            body = write_request(to_request(d))
            definition = SegmentDefinition("DIMENSIONAL", None, body["SegmentGroups"])
            times: list[float] = []
            counted: int | None = None
            for _ in range(2):
                t0 = time.perf_counter()
                async with engine.begin() as conn:
                    await check_definition(conn, app_id, definition, None)
                    counted = await count_within(conn, app_id, definition, now=NOW, timeout_ms=args.timeout_ms)
                times.append(time.perf_counter() - t0)
            shown = f"{counted:,}" if counted is not None else f"too long (> {args.timeout_ms} ms)"
            members = "-" if counted is None else f"{counted:,}"
            print(f"{name:44} {members:>9} {times[0]:>7.2f}s {times[1]:>7.2f}s {times[1] / base_s:>6.1f}x  {shown}")
        await engine.dispose()
        await raw.close()
        print(f"\n{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    finally:
        pg_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
