"""A campaign to a large segment through a loopback webhook sink, beside a bare asyncio loop
posting the same messages to the same sink; then event-triggered campaign latency.

    .venv/bin/python bench/campaign.py [--endpoints 1000000] [--concurrency 8] [--events 2000]

Starts an embedded PostgreSQL, a Temporal dev server, the gateway and the worker (`openpoint
api`, `openpoint worker`) and an HTTPS webhook sink as child processes. The sink answers 204 to
every message and handles at most `--concurrency` at a time (default: the campaign's page sends
in flight, activities/campaigns.py SEND_CONCURRENCY). COPYs `--endpoints` CUSTOM endpoints into
a project, creates a segment of all of them and an immediate campaign on the custom channel to
the sink, and prints:

- messages/s end to end (first to last message at the sink, and CreateCampaign to last message),
  the worker's peak RSS (VmHWM) and the CPU each process used;
- the baseline, measured in the same run: a bare asyncio loop (httpx, as the worker) posting the
  same number of signed messages of the same shape to the same sink with the sink's concurrency,
  and the ratio campaign / baseline;
- event-trigger latency: an EVENT campaign on the same segment, PutEvents of `bench.trigger` for
  `--events` random endpoints at 100 events/s, each timed until its message reaches the sink
  (p50, p99); "event trigger: not available" when that path does not deliver.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
import orjson
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.campaigns import SEND_CONCURRENCY  # noqa: E402
from activities.webhook import payload  # noqa: E402
from bench.imports import peak_rss_mb  # noqa: E402
from bench.ingest import signed_request  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402
from openpoint.embedded import EmbeddedPostgres, TemporalDevServer, free_port, wait_for_port  # noqa: E402
from openpoint.keys import store_key  # noqa: E402
from openpoint.settings import Settings  # noqa: E402
from openpoint.vault import Vault  # noqa: E402
from rules.endpoints import cohort_of  # noqa: E402
from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign_webhook, signing_secret  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from workflows.shared import DeliveryBatch, Recipient  # noqa: E402

TRIGGER_EVENT = "bench.trigger"
STALL_SECONDS = 120  # no new message at the sink for this long: the run is broken


# -- the sink: `bench/campaign.py sink PORT CERT KEY LIMIT` in a process of its own ---------------
class Sink:
    """An ASGI webhook receiver: 204 to every POST, at most `limit` handled at a time. Counts the
    messages per path (first and last arrival, wall clock) and, on /trigger, notes when each
    endpoint's message arrived. GET answers those figures as JSON."""

    def __init__(self, limit: int) -> None:
        self.gate = asyncio.Semaphore(limit)
        self.paths: dict[str, list[float]] = {}  # path -> [count, first, last]
        self.arrivals: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            await _answer(send, 200, orjson.dumps({"paths": self.paths, "arrivals": self.arrivals}))
            return
        async with self.gate:
            now = time.time()
            seen = self.paths.setdefault(scope["path"], [0, now, now])
            seen[0] += 1
            seen[2] = now
            if scope["path"] == "/trigger":
                for endpoint_id in orjson.loads(body)["Endpoints"]:
                    self.arrivals[endpoint_id] = now
        await _answer(send, 204, b"")


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_sink(port: str, cert: str, key: str, limit: str) -> None:
    import uvicorn

    uvicorn.run(
        Sink(int(limit)),
        host="127.0.0.1",
        port=int(port),
        ssl_certfile=cert,
        ssl_keyfile=key,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


# -- the audience and the messages ----------------------------------------------------------------
def endpoint_id(i: int) -> str:
    return f"ep-{i:07d}"


async def load_endpoints(dsn: str, app_id: str, count: int) -> None:
    """COPY: the import path is benchmarked on its own (bench/imports.py)."""
    records = [
        (
            app_id,
            endpoint_id(i),
            f"device-{i}",
            "CUSTOM",
            cohort_of(endpoint_id(i)),
            f'{{"Plan": ["bench"], "Name": ["N{i}"]}}',
        )
        for i in range(count)
    ]
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        await conn.copy_records_to_table(
            "endpoints",
            records=records,
            columns=["app_id", "id", "address", "channel_type", "cohort_id", "attributes"],
        )
        await conn.execute("VACUUM ANALYZE endpoints")
    finally:
        await conn.close()


def messages(app_id: str, count: int, secret: str) -> Iterator[tuple[bytes, dict[str, str]]]:
    """The baseline's messages: the campaign's body and headers, built by the same payload()."""
    batch = DeliveryBatch(
        app_id=app_id,
        channel="CUSTOM",
        source="campaign",
        source_id="bare",
        content={},
        recipients=[],
        attributes={"campaign_id": "bare", "treatment_id": "0", "campaign_activity_id": "bare"},
    )
    scheduled = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for i in range(count):
        r = Recipient(
            key=f"campaign-{app_id}-bare/0/{endpoint_id(i)}",
            address=f"device-{i}",
            endpoint_id=endpoint_id(i),
            endpoint={"Attributes": {"Plan": ["bench"], "Name": [f"N{i}"]}},
        )
        body = orjson.dumps(payload(batch, r, f"hello N{i}", scheduled))
        yield (
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "OpenPoint",
                IDEMPOTENCY_HEADER: r.key,
                SIGNATURE_HEADER: sign_webhook(secret, int(time.time()), body),
            },
        )


async def bare_loop(
    url: str, work: Iterator[tuple[bytes, dict[str, str]]], concurrency: int, tls: ssl.SSLContext
) -> int:
    """POST every message, `concurrency` in flight over keep-alive connections; returns failures."""
    failures = 0
    async with httpx.AsyncClient(verify=tls, timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def poster() -> None:
            nonlocal failures
            for body, headers in work:  # one shared iterator: each message is posted once
                response = await client.post(url, content=body, headers=headers)
                failures += response.status_code >= 300

        await asyncio.gather(*(poster() for _ in range(concurrency)))
    return failures


# -- event triggers --------------------------------------------------------------------------------
async def _roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def put_events_paced(
    port: int, app_id: str, key: tuple[str, str], endpoint_ids: list[str], rate: float
) -> tuple[dict[str, float], int]:
    """One PutEvents of one `bench.trigger` event per endpoint, `rate` a second, over a few
    keep-alive connections. Returns when each was due (wall clock) and how many failed."""
    connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(8):
        connections.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    due: dict[str, float] = {}
    failures = 0

    async def put(n: int, eid: str) -> None:
        nonlocal failures
        due[eid] = time.time()
        event = {"EventType": TRIGGER_EVENT, "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        body = orjson.dumps({"BatchItem": {eid: {"Endpoint": {}, "Events": {f"trigger-{n}": event}}}})
        request = signed_request("127.0.0.1", port, app_id, body, key)
        reader, writer = await connections.get()
        try:
            failures += await _roundtrip(reader, writer, request) != 202
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            failures += 1  # the gateway dropped the connection: count it, and reconnect
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            connections.put_nowait((reader, writer))

    t0 = time.monotonic()
    tasks = []
    for n, eid in enumerate(endpoint_ids):
        await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(put(n, eid)))
    await asyncio.gather(*tasks)
    while not connections.empty():
        connections.get_nowait()[1].close()
    return due, failures


def create_trigger_campaign(pinpoint: Any, app_id: str, segment: str, sink_url: str) -> datetime | None:
    """The EVENT campaign; returns its StartTime (None when the API refuses it)."""
    # An explicit StartTime: with IMMEDIATE, matching events against the schedule fails.
    start = datetime.now(UTC) + timedelta(seconds=1)
    try:
        pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "bench trigger",
                "SegmentId": segment,
                "Schedule": {
                    "StartTime": start.isoformat(),
                    "Frequency": "EVENT",
                    "EventFilter": {
                        "FilterType": "ENDPOINT",
                        "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": [TRIGGER_EVENT]}},
                    },
                },
                "CustomDeliveryConfiguration": {"DeliveryUri": f"{sink_url}/trigger", "EndpointTypes": ["CUSTOM"]},
                "MessageConfiguration": {"CustomMessage": {"Data": "triggered for {{Attributes.Name}}"}},
            },
        )
    except ClientError as e:
        print(f"event trigger: not available ({e})")
        return None
    return start


async def trigger_latency(
    stats: Callable[[], Awaitable[dict[str, Any]]],
    port: int,
    app_id: str,
    key: tuple[str, str],
    endpoint_ids: list[str],
    rate: float,
) -> None:
    due, failures = await put_events_paced(port, app_id, key, endpoint_ids, rate)
    arrived: dict[str, float] = {}
    last_change = time.monotonic()
    while len(arrived) < len(due) and time.monotonic() - last_change < 30:
        await asyncio.sleep(0.5)
        now_arrived = (await stats())["arrivals"]
        if len(now_arrived) > len(arrived):
            arrived, last_change = now_arrived, time.monotonic()
    if len(arrived) < 2:
        print(f"event trigger: not available ({len(arrived)} of {len(due)} messages reached the sink)")
        return
    latencies = [arrived[e] - due[e] for e in due if e in arrived]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"event trigger latency     : p50 {cuts[49] * 1000:,.0f} ms, p99 {cuts[98] * 1000:,.0f} ms,"
        f" max {max(latencies) * 1000:,.0f} ms (PutEvents → sink, {len(due):,} events at {rate:.0f}/s;"
        f" {len(due) - len(latencies)} messages missing, {failures} PutEvents failed)"
    )


# -- the run ---------------------------------------------------------------------------------------
def _cpu_line(usage: dict[str, float], seconds: float) -> str:
    return ", ".join(f"{name} {secs:.1f}s ({secs / seconds:.0%} of a core)" for name, secs in usage.items())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=SEND_CONCURRENCY, help="the sink's own limit")
    parser.add_argument("--events", type=int, default=2000, help="event-triggered sends to time")
    parser.add_argument("--event-rate", type=float, default=100.0, help="PutEvents per second")
    args = parser.parse_args()

    from tests.conftest import self_signed_cert  # here: the sink process need not import the test stack

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-campaign-"))
    cert, cert_key = self_signed_cert(tmp)
    tls = ssl.create_default_context(cafile=str(cert))
    pg = EmbeddedPostgres(tmp / "pg", settings={"shared_buffers": "1GB"})
    temporal = TemporalDevServer(None, port=free_port(), ui_port=None)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        dsn = pg.start()
        temporal_address = temporal.start()
        from store.migrate import upgrade

        upgrade(dsn)
        master = base64.b64encode(secrets.token_bytes(32)).decode()
        vault = Vault(base64.b64decode(master))
        key = ("OPBENCH" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30))
        engine = make_engine(dsn, pool_size=1)
        await store_key(engine, vault, *key)
        await engine.dispose()

        port, sink_port = free_port(), free_port()
        sink_url = f"https://127.0.0.1:{sink_port}"
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_PORT": str(port),
            "OPENPOINT_MASTER_KEY": master,
            "OPENPOINT_DATA_DIR": str(tmp),
            "OPENPOINT_TASK_QUEUE": f"bench-{secrets.token_hex(4)}",
            "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SSL_CERT_FILE": str(cert),  # the worker trusts the sink's self-signed certificate
        }
        commands = {
            "gateway": ["-m", "openpoint.cli", "api"],
            "worker": ["-m", "openpoint.cli", "worker"],
            "sink": [__file__, "sink", str(sink_port), str(cert), str(cert_key), str(args.concurrency)],
        }
        for role, argv in commands.items():
            log = (tmp / f"{role}.log").open("wb")
            children[role] = subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT, stdout=log, stderr=log)
        wait_for_port("127.0.0.1", port, timeout=60)
        wait_for_port("127.0.0.1", sink_port, timeout=60)
        pinpoint = boto3.client(
            "pinpoint",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            config=Config(retries={"max_attempts": 1}),
        )
        async with httpx.AsyncClient(verify=tls, timeout=30) as sink_client:

            async def stats() -> dict[str, Any]:
                figures: dict[str, Any] = (await sink_client.get(f"{sink_url}/stats")).json()
                return figures

            app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
            t0 = time.perf_counter()
            await load_endpoints(dsn, app_id, args.endpoints)
            print(f"loaded {args.endpoints:,} endpoints (COPY, VACUUM ANALYZE) in {time.perf_counter() - t0:.0f}s")
            segment = pinpoint.create_segment(
                ApplicationId=app_id,
                WriteSegmentRequest={
                    "Name": "everyone",
                    "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["bench"]}}},
                },
            )["SegmentResponse"]["Id"]

            # -- the campaign
            groups = {name: child.pid for name, child in children.items()} | {"postgres": pg.pid or 0}
            if temporal.pid:
                groups["temporal"] = temporal.pid
            usage = {name: cpu_seconds(pid) for name, pid in groups.items()}
            created = time.time()
            campaign_id = pinpoint.create_campaign(
                ApplicationId=app_id,
                WriteCampaignRequest={
                    "Name": "bench",
                    "SegmentId": segment,
                    "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
                    "CustomDeliveryConfiguration": {"DeliveryUri": f"{sink_url}/campaign", "EndpointTypes": ["CUSTOM"]},
                    "MessageConfiguration": {"CustomMessage": {"Data": "hello {{Attributes.Name}}"}},
                },
            )["CampaignResponse"]["Id"]
            count, progress, last_report = 0, time.monotonic(), time.monotonic()
            while True:
                await asyncio.sleep(1)
                seen = (await stats())["paths"].get("/campaign", [0, created, created])
                state = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"]["State"]
                if state["CampaignStatus"] == "COMPLETED":
                    break
                if seen[0] > count:
                    count, progress = int(seen[0]), time.monotonic()
                elif time.monotonic() - progress > STALL_SECONDS:
                    raise RuntimeError(f"the campaign stalled at {count:,} messages; see {tmp}/worker.log")
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    print(
                        f"  {count:,} messages at the sink,"
                        f" worker RSS peak {peak_rss_mb(children['worker'].pid):.0f} MB"
                    )
            worker_peak = peak_rss_mb(children["worker"].pid)
            usage = {name: cpu_seconds(pid) - usage[name] for name, pid in groups.items()}
            sent, first, last = int(seen[0]), seen[1], seen[2]
            conn = await asyncpg.connect(plain_dsn(dsn))
            statuses = dict(
                await conn.fetch("SELECT status, count(*) FROM deliveries WHERE app_id = $1 GROUP BY status", app_id)
            )
            await conn.close()
            print(f"campaign                  : {sent:,} messages at the sink, deliveries {statuses}")
            print(f"campaign, first → last    : {sent / (last - first):,.0f} msg/s ({last - first:.1f}s)")
            print(f"campaign, created → last  : {sent / (last - created):,.0f} msg/s ({last - created:.1f}s)")
            print(f"worker peak RSS (VmHWM)   : {worker_peak:,.0f} MB")
            print(f"CPU during the campaign   : {_cpu_line(usage, last - created)}")

            # -- the baseline: the same sink, the same number of messages, a bare loop
            secret = signing_secret(Settings(master_key=master), vault)
            usage = {"sink": cpu_seconds(children["sink"].pid)}
            own = time.process_time()
            t0 = time.perf_counter()
            failures = await bare_loop(f"{sink_url}/bare", messages(app_id, sent, secret), args.concurrency, tls)
            bare_s = time.perf_counter() - t0
            usage = {"bare loop": time.process_time() - own, "sink": cpu_seconds(children["sink"].pid) - usage["sink"]}
            rate, bare_rate = sent / (last - first), sent / bare_s
            print(
                f"bare asyncio loop         : {bare_rate:,.0f} msg/s ({sent:,} posts, {args.concurrency} in flight,"
                f" {bare_s:.1f}s, {failures} failed); CPU {_cpu_line(usage, bare_s)}"
            )
            print(f"ratio campaign / bare     : {rate / bare_rate:.2f}")

            # -- event-triggered sends
            start = create_trigger_campaign(pinpoint, app_id, segment, sink_url)
            if start is not None:
                # Past StartTime, and past the second for which the gateway caches a project's triggers.
                await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 1.5)
                chosen = random.Random(7).sample(range(args.endpoints), min(args.events, args.endpoints))
                await trigger_latency(stats, port, app_id, key, [endpoint_id(i) for i in chosen], args.event_rate)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        temporal.stop()
        pg.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        serve_sink(*sys.argv[2:6])
    else:
        asyncio.run(main())
