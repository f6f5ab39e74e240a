"""CreateImportJob throughput end to end, beside a bare asyncpg COPY of the same endpoints.

    .venv/bin/python bench/imports.py [--rows 1000000]

Writes a CSV of `--rows` endpoints (Pinpoint's column names: channel, address, user id and user
attributes, multi-valued custom attributes, metrics, demographics, location, opt-out) into a
temporary file root, starts an embedded PostgreSQL, a Temporal dev server, the gateway
(`openpoint api`) and the worker (`openpoint worker`) as child processes, and imports the file
into a new segment through boto3, polling GetImportJob until it completes. Prints rows/s from
CreateImportJob to COMPLETED, the worker's peak RSS (VmHWM), then COPYs the same endpoint rows
into another project's endpoints with asyncpg, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402
from jobfiles.rows import BatchReader  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from launch.processes import free_port, wait_for_port  # noqa: E402
from launch.temporal import TemporalDevServer  # noqa: E402
from openpoint.vault import Vault  # noqa: E402
from rules.endpoints import merge_endpoint  # noqa: E402
from store.access_keys import store_key  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.driver import jsonb  # noqa: E402
from store.endpoints import COLUMNS  # noqa: E402

HEADER = [
    "Id",
    "ChannelType",
    "Address",
    "User.UserId",
    "User.UserAttributes.FirstName",
    "User.UserAttributes.LastName",
    "Attributes.Interests",
    "Attributes.Interests",
    "Attributes.Plan",
    "Metrics.purchases",
    "Metrics.sessions",
    "Demographic.Platform",
    "Demographic.Timezone",
    "Demographic.Locale",
    "Location.Country",
    "Location.City",
    "Location.PostalCode",
    "OptOut",
]
FIRST = ["Ann", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun"]
LAST = ["Smith", "Garcia", "Kim", "Okafor", "Novak", "Rossi", "Sato", "Dubois"]
INTERESTS = ["shoes", "hats", "travel", "books", "music", "sport", "food", "games"]
PLACES = [
    ("FR", "Paris", "75011", "Europe/Paris", "fr_FR"),
    ("US", "Seattle", "98101", "America/Los_Angeles", "en_US"),
    ("DE", "Berlin", "10115", "Europe/Berlin", "de_DE"),
    ("JP", "Tokyo", "100-0001", "Asia/Tokyo", "ja_JP"),
    ("BR", "Recife", "50010", "America/Recife", "pt_BR"),
]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic file: a fifth of the users have a phone endpoint beside their e-mail one."""
    rng = random.Random(seed)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        user = 0
        for i in range(rows):
            second = i > 0 and rng.random() < 0.2
            if not second:
                user += 1
            country, city, postal, tz, locale = rng.choice(PLACES)
            channel = "SMS" if second else rng.choice(("EMAIL", "EMAIL", "EMAIL", "GCM", "APNS"))
            address = {
                "SMS": f"+1555{i:07d}",
                "EMAIL": f"user{i}@example.com",
                "GCM": f"fcm-{i:012x}",
                "APNS": f"apns-{i:016x}",
            }[channel]
            out.writerow(
                [
                    f"ep-{i:08d}",
                    channel,
                    address,
                    f"user-{user:08d}",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    *rng.sample(INTERESTS, 2),
                    rng.choice(("free", "pro", "team")),
                    rng.randrange(50),
                    rng.randrange(500),
                    "android" if channel == "GCM" else "ios" if channel == "APNS" else "web",
                    tz,
                    locale,
                    country,
                    city,
                    postal,
                    "ALL" if rng.random() < 0.03 else "NONE",
                ]
            )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def copy_records(path: Path, app_id: str) -> list[tuple[Any, ...]]:
    """The endpoint rows the import writes, built with the same parser and merge rules."""
    now = datetime.now(UTC)
    records: list[tuple[Any, ...]] = []
    with path.open("rb") as f:
        reader = BatchReader(f, "CSV", index=0, offset=0, line=0)
        while (batch := reader.next_batch()) is not None:
            for eid, req, _row in batch.endpoints:
                row = merge_endpoint(None, req, app_id=app_id, endpoint_id=eid, now=now, removed={})
                records.append(tuple(jsonb(row[c]) if isinstance(row[c], dict) else row[c] for c in COLUMNS))
    return records


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-imports-"))
    file_root = tmp / "files"
    file_root.mkdir()
    data = file_root / "endpoints.csv"
    t0 = time.perf_counter()
    write_csv(data, args.rows)
    print(f"wrote {args.rows:,} rows ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f}s")

    stats = os.environ.get("BENCH_PG_STATS") == "1"
    pg = EmbeddedPostgres(tmp / "pg", settings={"shared_preload_libraries": "pg_stat_statements"} if stats else None)
    temporal = TemporalDevServer(None, port=free_port(), ui_port=None)
    children: list[subprocess.Popen[bytes]] = []
    try:
        dsn = pg.start()
        temporal_address = temporal.start()
        from store.migrate import upgrade

        upgrade(dsn)
        if stats:
            setup = await asyncpg.connect(plain_dsn(dsn))
            await setup.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await setup.close()
        master = base64.b64encode(secrets.token_bytes(32)).decode()
        key = ("OPBENCH" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30))
        engine = make_engine(dsn, pool_size=1)
        await store_key(engine, Vault(base64.b64decode(master)), *key)
        await engine.dispose()

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_PORT": str(port),
            "OPENPOINT_MASTER_KEY": master,
            "OPENPOINT_DATA_DIR": str(tmp),
            "OPENPOINT_FILE_ROOT": str(file_root),
            "OPENPOINT_TASK_QUEUE": f"bench-{secrets.token_hex(4)}",
        }
        for role in ("api", "worker"):
            log = (tmp / f"{role}.log").open("wb")
            children.append(
                subprocess.Popen([sys.executable, "-m", "launch.cli", role], env=env, cwd=ROOT, stdout=log, stderr=log)
            )
        worker = children[1]
        wait_for_port("127.0.0.1", port, timeout=60)
        pinpoint = boto3.client(
            "pinpoint",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            config=Config(retries={"max_attempts": 1}),
        )
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]

        groups = {"worker": worker.pid, "postgres": pg.pid or 0, "gateway": children[0].pid}
        if temporal.pid:
            groups["temporal"] = temporal.pid
        usage = {name: cpu_seconds(pid) for name, pid in groups.items()}
        t0 = time.perf_counter()
        job = pinpoint.create_import_job(
            ApplicationId=app_id,
            ImportJobRequest={
                "Format": "CSV",
                "S3Url": data.as_uri(),
                "RoleArn": "arn:aws:iam::123456789012:role/import",
                "DefineSegment": True,
                "SegmentName": "bench",
                "RegisterEndpoints": True,
            },
        )["ImportJobResponse"]
        last_report = t0
        while job["JobStatus"] not in ("COMPLETED", "FAILED"):
            time.sleep(0.5)
            job = pinpoint.get_import_job(ApplicationId=app_id, JobId=job["Id"])["ImportJobResponse"]
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                done = job["TotalProcessed"] + job["TotalFailures"]
                print(
                    f"  {done:,} rows after {last_report - t0:.0f}s, worker RSS peak {peak_rss_mb(worker.pid):.0f} MB"
                )
        import_s = time.perf_counter() - t0
        worker_peak = peak_rss_mb(worker.pid)
        usage = {name: cpu_seconds(pid) - usage[name] for name, pid in groups.items()}
        for child in children:
            child.terminate()
        for child in children:
            child.wait(30)

        conn = await asyncpg.connect(plain_dsn(dsn))
        if stats:
            rows = await conn.fetch(
                "SELECT calls, round(total_exec_time::numeric, 1) AS ms, left(query, 100) AS q"
                " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
            )
            for r in rows:
                print(f"{r['ms']:>9} ms {r['calls']:>7} calls  {' '.join(r['q'].split())}")
        stored = await conn.fetchval("SELECT count(*) FROM endpoints WHERE app_id = $1", app_id)
        segment_members = await conn.fetchval("SELECT count(*) FROM segment_members WHERE app_id = $1", app_id)
        # Baseline: the same endpoint rows, straight into the same table with COPY.
        copy_app = secrets.token_hex(16)
        await conn.execute("INSERT INTO apps (id, name) VALUES ($1, 'copy')", copy_app)
        records = copy_records(data, copy_app)
        t1 = time.perf_counter()
        await conn.copy_records_to_table("endpoints", records=records, columns=COLUMNS)
        copy_s = time.perf_counter() - t1
        await conn.close()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        temporal.stop()
        pg.stop()

    rows = job["TotalProcessed"] + job["TotalFailures"]
    import_rate, copy_rate = rows / import_s, len(records) / copy_s
    print(
        f"import job                : {job['JobStatus']}, {rows:,} rows in {import_s:.1f}s"
        f" ({job['TotalFailures']} failed, {stored:,} endpoints, {segment_members:,} segment members)"
    )
    print(f"CreateImportJob end to end: {import_rate:,.0f} rows/s")
    print(f"worker peak RSS (VmHWM)   : {worker_peak:,.0f} MB")
    print(f"asyncpg COPY baseline     : {copy_rate:,.0f} rows/s ({len(records):,} rows in {copy_s:.1f}s)")
    print(f"ratio import / COPY       : {import_rate / copy_rate:.2f}")
    print(
        "CPU during the import     : "
        + ", ".join(f"{name} {secs:.1f}s ({secs / import_s:.0%} of a core)" for name, secs in usage.items())
    )


if __name__ == "__main__":
    asyncio.run(main())
