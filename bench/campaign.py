"""A campaign to a large segment through a loopback webhook sink, beside a bare asyncio loop
posting the same messages to the same sink; then event-triggered campaign latency.

    .venv/bin/python bench/campaign.py [--endpoints 1000000] [--concurrency 8] [--events 2000]
        [--channel custom|email] [--workers 1]

Starts an embedded PostgreSQL, a Temporal dev server, the gateway and the worker (`openpoint
api`, `openpoint worker`) and an HTTPS webhook sink as child processes. The sink answers 204 to
every message and handles at most `--concurrency` at a time (default: the campaign's page sends
in flight, sending/fanout.py SEND_CONCURRENCY). COPYs `--endpoints` CUSTOM endpoints into
a project, creates a segment of all of them and an immediate campaign on the custom channel to
the sink, and prints:

- messages/s end to end (first to last message at the sink, and CreateCampaign to last message),
  the worker's peak RSS (VmHWM) and the CPU each process used;
- the baselines, measured in the same run: aiohttp (the worker's HTTP client) posting the same
  number of signed messages of the same shape to the same sink over as many connections, right
  before and right after the campaign, and the ratio campaign / their mean (the machine may be
  shared: a change of load shows as a gap between the two); then a bare asyncio loop (HTTP/1.1
  written by hand on keep-alive TLS connections) doing the same, and the ratio to it;
- with `--channel email`: the same campaign as email through an SMTP sink (bench/campaign_email.py),
  beside aiosmtplib sending as many messages of the same shape over as many connections;
- event-trigger latency: an EVENT campaign on the same segment, PutEvents of `bench.trigger` for
  `--events` random endpoints at `--event-rate` a second (100), each timed until its message
  reaches the sink (p50, p99); "event trigger: not available" when that path does not deliver.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import boto3
import httpx
import orjson
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.imports import peak_rss_mb  # noqa: E402
from bench.ingest import signed_request  # noqa: E402
from bench.procstat import cpu_seconds  # noqa: E402
from channels.webhook import custom_event  # noqa: E402
from launch.postgres import EmbeddedPostgres  # noqa: E402
from launch.processes import free_port, wait_for_port  # noqa: E402
from launch.temporal import TemporalDevServer  # noqa: E402
from openpoint.vault import Vault  # noqa: E402
from rules.endpoints import cohort_of  # noqa: E402
from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign_webhook  # noqa: E402
from sending.fanout import SEND_CONCURRENCY  # noqa: E402
from store.access_keys import store_key  # noqa: E402
from store.db import make_engine, plain_dsn  # noqa: E402
from workflows.shared import DeliveryBatch, Recipient  # noqa: E402

TRIGGER_EVENT = "bench.trigger"
STALL_SECONDS = 120  # no new message at the sink for this long: the run is broken


# -- the sink: `bench/campaign.py sink PORT CERT KEY LIMIT`, in a process of its own -------------
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


def serve_sink(port: str, cert: str, key: str, limit: str, app: Callable[[int], Any] | None = None) -> None:
    """The sink (this file's, or `app(limit)`, an ASGI app) on loopback TLS, in this process."""
    import uvicorn

    uvicorn.run(
        (app or Sink)(int(limit)),
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


# -- the platform under test -----------------------------------------------------------------------
@dataclass
class Platform:
    """PostgreSQL, Temporal, gateway, worker and sink, and how to reach them."""

    tmp: Path
    concurrency: int
    pg: EmbeddedPostgres = field(init=False)
    temporal: TemporalDevServer = field(init=False)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dsn: str = ""
    port: int = 0
    sink_port: int = 0
    sink_url: str = ""
    tls: ssl.SSLContext = field(init=False)  # trusts the sink's self-signed certificate
    master: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode())
    key: tuple[str, str] = field(
        default_factory=lambda: ("OPBENCH" + secrets.token_hex(4).upper(), secrets.token_urlsafe(30))
    )
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. another bench's SMTP sink
    workers: int = 1  # `openpoint worker` processes
    # The sink's command line (after the interpreter), given the sink port, the TLS certificate
    # and key; default: this module's HTTPS webhook sink.
    sink_argv: Callable[[int, Path, Path], list[str]] | None = None

    def __post_init__(self) -> None:
        # A small WAL: a million-endpoint run writes a few GB of rows, the disk may be shared.
        self.pg = EmbeddedPostgres(self.tmp / "pg", settings={"shared_buffers": "1GB", "max_wal_size": "256MB"})
        self.temporal = TemporalDevServer(None, port=free_port(), ui_port=None)

    async def start(self) -> None:
        from store.migrate import upgrade
        from tests.conftest import self_signed_cert  # here: the sink's process need not import it

        cert, cert_key = self_signed_cert(self.tmp)
        self.tls = ssl.create_default_context(cafile=str(cert))
        self.dsn = self.pg.start()
        temporal_address = self.temporal.start()
        upgrade(self.dsn)
        engine = make_engine(self.dsn, pool_size=1)
        await store_key(engine, Vault(base64.b64decode(self.master)), *self.key)
        await engine.dispose()
        self.port, self.sink_port = free_port(), self.sink_port or free_port()
        self.sink_url = f"https://127.0.0.1:{self.sink_port}"
        env = {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_PORT": str(self.port),
            "OPENPOINT_MASTER_KEY": self.master,
            "OPENPOINT_DATA_DIR": str(self.tmp),
            "OPENPOINT_TASK_QUEUE": f"bench-{secrets.token_hex(4)}",
            "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            # The worker keeps as many provider connections busy as the sink handles at once.
            "OPENPOINT_SEND_CONCURRENCY": str(self.concurrency),
            "SSL_CERT_FILE": str(cert),  # the worker trusts the sink's self-signed certificate
            **self.extra_env,
        }
        commands = {
            "gateway": ["-m", "launch.cli", "api"],
            "worker": ["-m", "launch.cli", "worker"],
            "sink": self.sink_argv(self.sink_port, cert, cert_key)
            if self.sink_argv
            else [__file__, "sink", str(self.sink_port), str(cert), str(cert_key), str(self.concurrency)],
            # Further replicas on the same task queue, as production scales workers.
            **{f"worker-{n}": ["-m", "launch.cli", "worker"] for n in range(2, self.workers + 1)},
        }
        for role, argv in commands.items():
            log = (self.tmp / f"{role}.log").open("wb")
            self.children[role] = subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT, stdout=log, stderr=log)
        wait_for_port("127.0.0.1", self.port, timeout=60)
        wait_for_port("127.0.0.1", self.sink_port, timeout=60)
        deadline = time.monotonic() + 60
        while b"worker polling" not in (self.tmp / "worker.log").read_bytes():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {self.tmp}/worker.log")
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        self.temporal.stop()
        self.pg.stop()
        shutil.rmtree(self.tmp / "pg", ignore_errors=True)  # GBs after a large run; the logs stay

    def pinpoint(self) -> Any:
        return boto3.client(
            "pinpoint",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id=self.key[0],
            aws_secret_access_key=self.key[1],
            config=Config(retries={"max_attempts": 1}),
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process (with its children)."""
        pids = {name: child.pid for name, child in self.children.items()}
        pids |= {"postgres": self.pg.pid or 0, "temporal": self.temporal.pid or 0}
        return {name: cpu_seconds(pid) for name, pid in pids.items() if pid}

    async def sink(self) -> dict[str, Any]:
        async with httpx.AsyncClient(verify=self.tls, timeout=30) as client:
            figures: dict[str, Any] = (await client.get(f"{self.sink_url}/stats")).json()
        return figures


def cpu_line(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    # A process tree loses the CPU of children that exited (PostgreSQL backends of closed
    # connections), so a difference can come out slightly negative: shown as 0.
    used = {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after}
    return ", ".join(f"{name} {secs:.1f}s ({secs / seconds:.0%} of a core)" for name, secs in used.items())


# -- the campaign ----------------------------------------------------------------------------------
def endpoint_id(i: int) -> str:
    return f"ep-{i:07d}"


async def load_endpoints(dsn: str, app_id: str, count: int) -> None:
    """COPY: the import path is benchmarked on its own (bench/imports.py)."""
    records = [
        (app_id, endpoint_id(i), f"device-{i}", "CUSTOM", cohort_of(endpoint_id(i)), _attributes(i))
        for i in range(count)
    ]
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        await conn.copy_records_to_table(
            "endpoints", records=records, columns=["app_id", "id", "address", "channel_type", "cohort_id", "attributes"]
        )
        await conn.execute("VACUUM ANALYZE endpoints")
    finally:
        await conn.close()


def _attributes(i: int) -> str:
    return orjson.dumps({"Plan": ["bench"], "Name": [f"N{i}"]}).decode()


def _status(pinpoint: Any, app_id: str, campaign_id: str) -> str:
    status: str = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"]["State"][
        "CampaignStatus"
    ]
    return status


AtSink = Callable[[], Awaitable[tuple[int, float, float]]]  # messages so far, first and last arrival


def custom_message(platform: Platform) -> dict[str, Any]:
    """The campaign's message to the webhook sink (the members of WriteCampaignRequest)."""
    return {
        "CustomDeliveryConfiguration": {"DeliveryUri": f"{platform.sink_url}/campaign", "EndpointTypes": ["CUSTOM"]},
        "MessageConfiguration": {"CustomMessage": {"Data": "hello {{Attributes.Name}}"}},
    }


async def run_campaign(
    platform: Platform, pinpoint: Any, app_id: str, segment: str, message: dict[str, Any], at_sink: AtSink
) -> tuple[int, float]:
    """The campaign to the whole segment; prints its figures, returns (messages, msg/s)."""
    before, created = platform.cpu(), time.time()
    campaign_id = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "bench",
            "SegmentId": segment,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            **message,
        },
    )["CampaignResponse"]["Id"]
    worker = platform.children["worker"].pid
    count, progress, report = 0, time.monotonic(), time.monotonic()
    while _status(pinpoint, app_id, campaign_id) != "COMPLETED":
        await asyncio.sleep(1)
        seen = await at_sink()
        if seen[0] > count:
            count, progress = int(seen[0]), time.monotonic()
        elif time.monotonic() - progress > STALL_SECONDS:
            raise RuntimeError(f"the campaign stalled at {count:,} messages; see {platform.tmp}/worker.log")
        if time.monotonic() - report > 30:
            report = time.monotonic()
            print(f"  {count:,} messages at the sink, worker RSS peak {peak_rss_mb(worker):.0f} MB")
    elapsed, after = time.time() - created, platform.cpu()
    await asyncio.sleep(1)  # the sink's last arrivals written down
    sent, first, last = await at_sink()
    conn = await asyncpg.connect(plain_dsn(platform.dsn))
    statuses = await conn.fetch("SELECT status, count(*) FROM deliveries WHERE app_id = $1 GROUP BY status", app_id)
    await conn.close()
    rate = sent / (last - first)
    print(f"campaign                  : {int(sent):,} messages at the sink, deliveries {dict(list(statuses))}")
    print(f"campaign, first → last    : {rate:,.0f} msg/s ({last - first:.1f}s)")
    print(f"campaign, created → last  : {sent / (last - created):,.0f} msg/s ({last - created:.1f}s)")
    print(f"worker peak RSS (VmHWM)   : {peak_rss_mb(worker):,.0f} MB")
    print(f"CPU during the campaign   : {cpu_line(before, after, elapsed)}")
    return int(sent), rate


# -- the baseline ----------------------------------------------------------------------------------
def messages(app_id: str, count: int, secret: str) -> Iterator[tuple[bytes, dict[str, str]]]:
    """The campaign's messages, body and headers, built by the same custom_event() and signature."""
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
        body = orjson.dumps(custom_event(batch, [r], f"hello N{i}", scheduled))
        yield (
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "OpenPoint",
                IDEMPOTENCY_HEADER: r.key,
                SIGNATURE_HEADER: sign_webhook(secret, int(time.time()), body),
            },
        )


Messages = Iterator[tuple[bytes, dict[str, str]]]


async def raw_posts(platform: Platform, work: Messages) -> int:
    """The bare loop: one keep-alive TLS connection, HTTP/1.1 written by hand; returns failures."""
    reader, writer = await asyncio.open_connection("127.0.0.1", platform.sink_port, ssl=platform.tls)
    failures = 0
    try:
        for body, headers in work:  # shared by all connections: each message is posted once
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            request = (
                f"POST /bare HTTP/1.1\r\nHost: 127.0.0.1:{platform.sink_port}\r\n"
                f"Content-Length: {len(body)}\r\n{head}\r\n"
            ).encode() + body
            failures += await _roundtrip(reader, writer, request) >= 300
    finally:
        writer.close()
    return failures


async def client_posts(client: aiohttp.ClientSession, url: str, work: Messages) -> int:
    """The same through aiohttp, the worker's HTTP client (channels/webhook.py)."""
    failures = 0
    for body, headers in work:
        async with client.post(url, data=body, headers=headers) as response:
            await response.read()
            failures += response.status >= 300
    return failures


async def run_baseline(
    platform: Platform, label: str, app_id: str, count: int, posts: Callable[[Messages], Awaitable[int]]
) -> float:
    """`count` messages through `concurrency` posting loops; prints and returns msg/s."""
    work = messages(app_id, count, secrets.token_hex(32))
    before, own, t0 = platform.cpu(), time.process_time(), time.perf_counter()
    failures = sum(await asyncio.gather(*(posts(work) for _ in range(platform.concurrency))))
    elapsed = time.perf_counter() - t0
    after = {"bench": time.process_time() - own, "sink": platform.cpu()["sink"]}
    print(
        f"{label:<26}: {count / elapsed:,.0f} msg/s ({count:,} posts, {platform.concurrency} in flight,"
        f" {elapsed:.1f}s, {failures} failed); CPU {cpu_line({'sink': before['sink']}, after, elapsed)}"
    )
    return count / elapsed


# -- event triggers --------------------------------------------------------------------------------
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


async def put_events_paced(platform: Platform, app_id: str, endpoint_ids: list[str], rate: float) -> dict[str, float]:
    """One PutEvents of one `bench.trigger` event per endpoint, `rate` a second, over a few
    keep-alive connections. Returns when each was due (wall clock); failed ones are left out."""
    connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(8):
        connections.put_nowait(await asyncio.open_connection("127.0.0.1", platform.port))
    due: dict[str, float] = {}

    async def put(n: int, eid: str) -> None:
        at = time.time()
        event = {"EventType": TRIGGER_EVENT, "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        body = orjson.dumps({"BatchItem": {eid: {"Endpoint": {}, "Events": {f"trigger-{n}": event}}}})
        request = signed_request("127.0.0.1", platform.port, app_id, body, platform.key)
        reader, writer = await connections.get()
        try:
            if await _roundtrip(reader, writer, request) == 202:
                due[eid] = at
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            writer.close()  # the gateway dropped the connection: count the event failed, reconnect
            reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
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
    return due


async def run_triggers(
    platform: Platform, pinpoint: Any, app_id: str, segment: str, chosen: list[str], rate: float
) -> None:
    start = create_trigger_campaign(pinpoint, app_id, segment, platform.sink_url)
    if start is None:
        return
    # Past StartTime, and past the second for which the gateway caches a project's triggers.
    await asyncio.sleep((start - datetime.now(UTC)).total_seconds() + 1.5)
    before = platform.cpu()
    due = await put_events_paced(platform, app_id, chosen, rate)
    arrived: dict[str, float] = {}
    changed = time.monotonic()
    while len(arrived) < len(due) and time.monotonic() - changed < 30:
        await asyncio.sleep(0.5)
        now_arrived = (await platform.sink())["arrivals"]
        if len(now_arrived) > len(arrived):
            arrived, changed = now_arrived, time.monotonic()
    after = platform.cpu()
    latencies = [arrived[e] - due[e] for e in due if e in arrived]
    if len(latencies) < 2:
        print(f"event trigger: not available ({len(arrived)} of {len(chosen)} messages reached the sink)")
        return
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    span = max(arrived.values()) - min(due.values())
    print(
        f"event trigger latency     : p50 {cuts[49] * 1000:,.0f} ms, p99 {cuts[98] * 1000:,.0f} ms,"
        f" max {max(latencies) * 1000:,.0f} ms (PutEvents → message at the sink)"
    )
    print(
        f"event trigger load        : {len(chosen):,} events offered at {rate:.0f}/s,"
        f" {len(chosen) - len(due)} PutEvents failed, {len(due) - len(latencies)} messages missing;"
        f" {len(latencies) / span:,.0f} triggered msg/s sustained over {span:.1f}s"
    )
    print(f"CPU during the triggers   : {cpu_line(before, after, span)}")


# -- the run ---------------------------------------------------------------------------------------
async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=SEND_CONCURRENCY, help="the sink's own limit")
    parser.add_argument("--events", type=int, default=2000, help="event-triggered sends to time")
    parser.add_argument("--event-rate", type=float, default=100.0, help="PutEvents per second")
    parser.add_argument("--channel", choices=["custom", "email"], default="custom")
    parser.add_argument("--workers", type=int, default=1, help="`openpoint worker` processes")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-campaign-"))
    if args.channel == "email":
        await email_campaign(tmp, args)
        return
    platform = Platform(tmp, args.concurrency, workers=args.workers)
    try:
        await platform.start()
        pinpoint = platform.pinpoint()
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        t0 = time.perf_counter()
        await load_endpoints(platform.dsn, app_id, args.endpoints)
        print(f"loaded {args.endpoints:,} endpoints (COPY, VACUUM ANALYZE) in {time.perf_counter() - t0:.0f}s")
        segment = everyone(pinpoint, app_id)

        async def at_sink() -> tuple[int, float, float]:
            count, first, last = (await platform.sink())["paths"].get("/campaign", [0, 0.0, 0.0])
            return int(count), first, last

        async def with_aiohttp(label: str, count: int) -> float:
            # Where the gap goes: the same posts through the worker's HTTP client, nothing else.
            connector = aiohttp.TCPConnector(ssl=platform.tls, limit=platform.concurrency)
            async with aiohttp.ClientSession(connector=connector) as client:
                post = partial(client_posts, client, f"{platform.sink_url}/bare")
                return await run_baseline(platform, label, app_id, count, post)

        # The machine is shared: the aiohttp loop runs right before the campaign and right after
        # it, and the ratio is to their mean, so that a change of load meanwhile shows.
        ahead = await with_aiohttp("aiohttp loop, before", args.endpoints)
        sent, rate = await run_campaign(platform, pinpoint, app_id, segment, custom_message(platform), at_sink)
        behind = await with_aiohttp("aiohttp loop, after", sent)
        print(f"ratio campaign / aiohttp  : {rate / ((ahead + behind) / 2):.2f} (to the mean of before and after)")
        bare = await run_baseline(platform, "bare asyncio loop", app_id, sent, partial(raw_posts, platform))
        print(f"ratio campaign / bare     : {rate / bare:.2f}")
        chosen = random.Random(7).sample(range(args.endpoints), min(args.events, args.endpoints))
        await run_triggers(platform, pinpoint, app_id, segment, [endpoint_id(i) for i in chosen], args.event_rate)
    finally:
        platform.stop()


def everyone(pinpoint: Any, app_id: str) -> str:
    segment: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "everyone",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["bench"]}}},
        },
    )["SegmentResponse"]["Id"]
    return segment


async def email_campaign(tmp: Path, args: argparse.Namespace) -> None:
    """`--channel email`: the campaign through the SMTP channel to an SMTP sink, beside
    aiosmtplib sending the same number of messages over the same number of connections."""
    from bench import campaign_email as email

    arrivals = tmp / "arrivals.txt"
    smtp_port = free_port()
    platform = Platform(
        tmp,
        args.concurrency,
        extra_env={"OPENPOINT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}"},
        sink_argv=email.sink_argv(arrivals),
        workers=args.workers,
    )
    platform.sink_port = smtp_port
    counter = email.Counter(arrivals)
    try:
        await platform.start()
        pinpoint = platform.pinpoint()
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        email.enable_channel(pinpoint, app_id)
        t0 = time.perf_counter()
        await email.load_endpoints(platform.dsn, app_id, args.endpoints, endpoint_id, _attributes)
        print(f"loaded {args.endpoints:,} endpoints (COPY, VACUUM ANALYZE) in {time.perf_counter() - t0:.0f}s")

        async def at_sink() -> tuple[int, float, float]:
            return counter.refresh()

        segment = everyone(pinpoint, app_id)
        sent, rate = await run_campaign(platform, pinpoint, app_id, segment, email.MESSAGE, at_sink)
        bare = await email.baseline(smtp_port, app_id, sent, platform.concurrency, counter)
        print(f"ratio campaign / aiosmtplib: {rate / bare:.2f}")
    finally:
        platform.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        port, cert, key, limit = sys.argv[2:6]
        serve_sink(port, cert, key, limit)
    else:
        asyncio.run(main())
