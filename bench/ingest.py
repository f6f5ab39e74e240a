"""PutEvents throughput through the gateway, beside a bare asyncpg COPY of the same rows.

    .venv/bin/python bench/ingest.py [--events 1000000] [--concurrency 16] [--api-workers 1] [--rollups]


Starts an embedded PostgreSQL in a temporary directory and the gateway (`openpoint api`) as a
child process, signs every request beforehand (so the load generator spends its CPU on the
wire, not on HMACs), sends 100-event batches over keep-alive connections, then COPYs the
same events into the same table with asyncpg. Prints events/s for both and the ratio, the
request latencies (p50, p99) at full load, and again with the last quarter of the requests sent
at half the measured rate (the p99 target is at half load). `--api-workers N` runs the gateway as
N processes (OPENPOINT_API_WORKERS), counted apart from one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstat import cpu_seconds  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from launch.processes import free_port, wait_for_port  # noqa: E402
from openpoint.vault import Vault  # noqa: E402
from rules.events import event_row  # noqa: E402
from store.access_keys import store_key  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from store.events import EVENT_COLUMNS, copy_records  # noqa: E402
from store.migrate import upgrade  # noqa: E402

ROLLUP_LOOP = """
import asyncio, sys
from store.db import make_engine
from worker.rollups import RollupLoop
asyncio.run(RollupLoop(make_engine(sys.argv[1], pool_size=1)).run())
"""
EVENT_TYPES = ["_session.start", "_session.stop", "page.view", "add_to_cart", "purchase", "search", "_userauth.sign_in"]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Seattle", "Austin", "Tokyo", "Sydney"]
ENDPOINTS_PER_REQUEST = 10
EVENTS_PER_ENDPOINT = 10


def batch(rng: random.Random, n_endpoints: int, start: datetime) -> dict[str, Any]:
    """One EventsRequest: 10 endpoints with 10 events each, as a mobile SDK would send."""
    items: dict[str, Any] = {}
    for n in rng.sample(range(n_endpoints), ENDPOINTS_PER_REQUEST):
        eid = f"ep-{n:07d}"
        session = {"Id": secrets.token_hex(8), "StartTimestamp": start.isoformat().replace("+00:00", "Z")}
        events = {}
        for j in range(EVENTS_PER_ENDPOINT):
            ts = start + timedelta(seconds=rng.randrange(86_400))
            events[secrets.token_hex(8)] = {
                "EventType": rng.choice(EVENT_TYPES),
                "Timestamp": ts.isoformat().replace("+00:00", "Z"),
                "Attributes": {"screen": f"screen-{rng.randrange(40)}", "campaign": f"c{rng.randrange(5)}"},
                "Metrics": {"value": round(rng.random() * 100, 2), "position": float(j)},
                "AppPackageName": "com.example.shop",
                "AppVersionCode": "4.2.0",
                "SdkName": "aws-amplify-js",
                "Session": session,
            }
        items[eid] = {
            "Endpoint": {
                "ChannelType": "GCM",
                "Address": f"token-{eid}",
                "Attributes": {"City": [rng.choice(CITIES)], "Interests": rng.sample(["a", "b", "c", "d"], 2)},
                "Demographic": {"Platform": "android", "AppVersion": "4.2.0", "Timezone": "Europe/Paris"},
                "Metrics": {"sessions": float(rng.randrange(100))},
            },
            "Events": events,
        }
    return {"BatchItem": items}


def signed_request(host: str, port: int, app_id: str, body: bytes, key: tuple[str, str]) -> bytes:
    path = f"/v1/apps/{app_id}/events"
    req = AWSRequest(
        method="POST", url=f"http://{host}:{port}{path}", data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(*key), "mobiletargeting", "us-east-1").add_auth(req)
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length")]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def drive(
    host: str, port: int, requests: list[bytes], concurrency: int, rate: float | None = None
) -> tuple[int, list[float]]:
    """Send the pre-signed requests over `concurrency` keep-alive connections, as fast as they
    are answered or, with `rate`, the i-th not before i / rate seconds; returns the failures and
    each request's latency (seconds, from its sending to the end of its answer)."""
    queue = list(reversed(requests))
    failures = 0
    latencies: list[float] = []
    start = time.perf_counter()
    sent = 0

    async def connection() -> None:
        nonlocal failures, sent
        reader, writer = await asyncio.open_connection(host, port)
        while queue:
            request = queue.pop()
            if rate is not None:
                due = start + sent / rate
                sent += 1
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if b" 202 " not in status_line:
                failures += 1
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return failures, latencies


def percentiles(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--api-workers", type=int, default=1, help="gateway processes (OPENPOINT_API_WORKERS)")
    parser.add_argument(
        "--rollups", action="store_true", help="run the worker's analytics rollup loop beside the gateway meanwhile"
    )
    args = parser.parse_args()
    n_requests = args.events // (ENDPOINTS_PER_REQUEST * EVENTS_PER_ENDPOINT)
    load_start = os.getloadavg()[0]

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-"))
    stats = os.environ.get("BENCH_PG_STATS") == "1"
    pg = EmbeddedPostgres(tmp / "pg", settings={"shared_preload_libraries": "pg_stat_statements"} if stats else None)
    dsn = pg.start()
    try:
        upgrade(dsn)
        master = base64.b64encode(secrets.token_bytes(32)).decode()
        key = ("OPBENCH" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30))
        engine = make_engine(dsn, pool_size=1)
        await store_key(engine, Vault(base64.b64decode(master)), *key)
        await engine.dispose()
        app_id, copy_app = secrets.token_hex(16), secrets.token_hex(16)
        conn = await asyncpg.connect(plain_dsn(dsn))
        if stats:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.executemany("INSERT INTO apps (id, name) VALUES ($1, $2)", [(app_id, "bench"), (copy_app, "copy")])

        rng = random.Random(7)
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        bodies = [orjson.dumps(batch(rng, args.endpoints, start)) for _ in range(n_requests)]

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "OPENPOINT_PORT": str(port),
            "OPENPOINT_MASTER_KEY": master,
            "OPENPOINT_DATA_DIR": str(tmp),
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
            "OPENPOINT_API_WORKERS": str(args.api_workers),
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "launch.cli", "api"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The analytics rollup loop as the worker runs it (worker/rollups.py), in its own process.
        loop = (
            subprocess.Popen([sys.executable, "-c", ROLLUP_LOOP, dsn], cwd=ROOT, stdout=subprocess.DEVNULL)
            if args.rollups
            else None
        )
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
            signed = [signed_request("127.0.0.1", port, app_id, b, key) for b in bodies]
            # Warm-up: partitions, connection pool, caches.
            await drive("127.0.0.1", port, signed[:20], 4)
            # The last quarter is sent afterwards at half the rate the rest was answered at.
            paced_from = 20 + (len(signed) - 20) * 3 // 4
            groups = {"gateway": gateway.pid, "postgres": pg.pid or 0}
            usage = {name: cpu_seconds(pid) for name, pid in groups.items()}
            own = time.process_time()
            t0 = time.perf_counter()
            failures, latencies = await drive("127.0.0.1", port, signed[20:paced_from], args.concurrency)
            gateway_s = time.perf_counter() - t0
            usage = {name: cpu_seconds(pid) - usage[name] for name, pid in groups.items()}
            usage["load generator"] = time.process_time() - own
            if loop is not None:
                usage["rollup loop"] = cpu_seconds(loop.pid)
            half = (paced_from - 20) / gateway_s / 2
            paced_failures, paced = await drive("127.0.0.1", port, signed[paced_from:], args.concurrency, rate=half)
            failures += paced_failures
        finally:
            gateway.terminate()
            gateway.wait(30)
            if loop is not None:
                loop.terminate()
                loop.wait(30)
        sent = (paced_from - 20) * ENDPOINTS_PER_REQUEST * EVENTS_PER_ENDPOINT
        stored = await conn.fetchval("SELECT count(*) FROM events WHERE app_id = $1", app_id)
        folded = await conn.fetchval("SELECT coalesce(sum(n), 0) FROM an_events WHERE attr = '' AND metric = ''")

        if stats:
            rows = await conn.fetch(
                "SELECT calls, round(total_exec_time::numeric, 1) AS ms, left(query, 100) AS q"
                " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 14"
            )
            for r in rows:
                print(f"{r['ms']:>9} ms {r['calls']:>7} calls  {' '.join(r['q'].split())}")
        # Baseline: the same rows, straight into the same table with COPY.
        rows = [
            event_row(copy_app, eid, ev_id, ev)
            for body in bodies[20:]
            for eid, item in orjson.loads(body)["BatchItem"].items()
            for ev_id, ev in item["Events"].items()
        ]
        records = copy_records(rows)
        t0 = time.perf_counter()
        await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
        copy_s = time.perf_counter() - t0
        await conn.close()
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # half a gigabyte of database per run

    print(f"load average (1 min) at start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f}")
    if args.rollups:
        print(f"events folded by the rollup loop meanwhile: {folded:,}")
    gw_rate, copy_rate = sent / gateway_s, len(records) / copy_s
    print(
        f"events sent through the gateway : {sent:,} in {gateway_s:.1f}s, then"
        f" {(len(signed) - paced_from) * ENDPOINTS_PER_REQUEST * EVENTS_PER_ENDPOINT:,} at half that rate"
        f" ({failures} failed requests, {stored:,} stored; {args.api_workers} gateway process(es))"
    )
    print(f"gateway PutEvents               : {gw_rate:,.0f} events/s")
    print(f"asyncpg COPY baseline           : {copy_rate:,.0f} events/s ({len(records):,} rows in {copy_s:.1f}s)")
    print(f"ratio gateway / COPY            : {gw_rate / copy_rate:.2f}")
    print(f"request latency at full load    : {percentiles(latencies)} ({args.concurrency} connections)")
    print(f"request latency at half load    : {percentiles(paced)} ({half:,.0f} requests/s)")
    print(
        "CPU during the gateway run     : "
        + ", ".join(f"{name} {secs:.1f}s ({secs / gateway_s:.0%} of a core)" for name, secs in usage.items())
    )


if __name__ == "__main__":
    asyncio.run(main())
