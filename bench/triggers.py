"""Event-triggered email: latency under a steady stream, throughput of a burst, and the same
sends made directly as the baseline.

    .venv/bin/python bench/triggers.py [--rate 100] [--seconds 60] [--burst 10000]

Starts an embedded PostgreSQL, a Temporal dev server, the gateway and the worker (`openpoint api`,
`openpoint worker`, as bench/campaign.py does) and an SMTP sink in a process of its own that
notes when each recipient's message arrives. One project, `rate × seconds + burst` EMAIL
endpoints, a segment of all of them and an EVENT campaign on `bench.trigger`. Prints:

- steady: PutEvents of one event each, `--rate` a second for `--seconds`, each to its own
  endpoint; per event the time from the PutEvents answer to its message at the sink:
  p50 / p95 / p99 / max, and how many messages are missing;
- burst: `--burst` events in PutEvents of 100, sent as fast as 8 connections carry them;
  triggered sends/s from the first request to the last message, and how many are missing;
- baseline, in the same run: the same number of messages sent straight to the same sink with
  aiosmtplib over the worker's concurrency (8 connections, 100 messages each, as the worker's
  delivery sub-batches go), and the ratio burst / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.campaign import Platform, _roundtrip, cpu_line  # noqa: E402
from bench.ingest import signed_request  # noqa: E402
from launch.processes import free_port, wait_for_port  # noqa: E402
from sending.campaign_pages import SUB_BATCH  # noqa: E402
from sending.fanout import SEND_CONCURRENCY  # noqa: E402
from store.db import plain_dsn  # noqa: E402

EVENT = "bench.trigger"
DOMAIN = "bench.test"
STALL_SECONDS = 30  # no new message for this long: the rest are missing


# -- the sink: `bench/triggers.py sink PORT FILE`, in a process of its own ----------------------
def serve_sink(port: int, path: str) -> None:
    """A minimal SMTP server on loopback (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, 250 to
    everything), which appends `<recipient> <arrival wall clock>` per message to `path` — a file,
    not a pipe, so that a busy reader never holds it up. Not aiosmtpd: the bench measures the
    platform, and the sink must not be what limits it (baseline and platform share it)."""
    out = open(path, "a", buffering=1 << 16)  # noqa: SIM115 - open for the process's life

    class Session(asyncio.Protocol):
        def __init__(self) -> None:
            self.buffer = b""
            self.in_data = False
            self.recipients: list[bytes] = []

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            self.transport.write(b"220 bench ESMTP\r\n")  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            replies: list[bytes] = []
            while True:
                if self.in_data:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    self.buffer = self.buffer[end + 5 :]
                    self.in_data = False
                    now = f" {time.time():.6f}\n"
                    out.write("".join(r.decode() + now for r in self.recipients))
                    out.flush()
                    self.recipients = []
                    replies.append(b"250 OK\r\n")
                    continue
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    break
                line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
                verb = line[:4].upper()
                if verb == b"EHLO":
                    replies.append(b"250-bench\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                elif verb == b"RCPT":
                    self.recipients.append(line.split(b":", 1)[1].strip().strip(b"<>").split(b">")[0])
                    replies.append(b"250 OK\r\n")
                elif verb == b"DATA":
                    self.in_data = True
                    replies.append(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    replies.append(b"221 bye\r\n")
                    self.transport.write(b"".join(replies))  # type: ignore[attr-defined]
                    self.transport.close()
                    return
                else:  # HELO, MAIL, RSET, NOOP
                    replies.append(b"250 OK\r\n")
            if replies:
                self.transport.write(b"".join(replies))  # type: ignore[attr-defined]

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Session, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


class Arrivals:
    """When each recipient's message arrived, read from the sink's file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.at: dict[str, float] = {}

    def refresh(self) -> None:
        if not self._path.exists():
            return
        with self._path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            recipient, at = line.split()
            self.at.setdefault(recipient, float(at))

    async def wait_for(self, recipients: list[str]) -> None:
        """Until all arrived, or none more for STALL_SECONDS."""
        seen, changed = -1, time.monotonic()
        while time.monotonic() - changed < STALL_SECONDS:
            self.refresh()
            arrived = sum(1 for r in recipients if r in self.at)
            if arrived == len(recipients):
                return
            if arrived != seen:
                seen, changed = arrived, time.monotonic()
            await asyncio.sleep(0.2)


def address(i: int) -> str:
    return f"r{i}@{DOMAIN}"


def setup(platform: Platform, count: int) -> str:
    pinpoint = platform.pinpoint()
    app_id: str = pinpoint.create_app(CreateApplicationRequest={"Name": "bench triggers"})["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"Enabled": True, "FromAddress": f"bench@{DOMAIN}", "Identity": DOMAIN},
    )
    for start in range(0, count, 100):
        items = [
            {"Id": f"e{i}", "ChannelType": "EMAIL", "Address": address(i), "Attributes": {"Plan": ["bench"]}}
            for i in range(start, min(start + 100, count))
        ]
        pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "everyone",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["bench"]}}},
        },
    )["SegmentResponse"]["Id"]
    pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "bench trigger",
            "SegmentId": segment,
            "Schedule": {
                "StartTime": "IMMEDIATE",
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": [EVENT]}},
                },
            },
            "MessageConfiguration": {
                "EmailMessage": {"Title": "Hello {{Attributes.Plan}}", "HtmlBody": "<p>Your event arrived.</p>"}
            },
        },
    )
    return app_id


def _body(indexes: list[int], tag: str) -> bytes:
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {
            "BatchItem": {
                f"e{i}": {"Endpoint": {}, "Events": {f"{tag}-{i}": {"EventType": EVENT, "Timestamp": stamp}}}
                for i in indexes
            }
        }
    )


async def steady(platform: Platform, app_id: str, arrivals: Arrivals, indexes: list[int], rate: float) -> None:
    connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(8):
        connections.put_nowait(await asyncio.open_connection("127.0.0.1", platform.port))
    answered: dict[str, float] = {}
    failed = 0

    async def put(i: int) -> None:
        nonlocal failed
        request = signed_request("127.0.0.1", platform.port, app_id, _body([i], "steady"), platform.key)
        reader, writer = await connections.get()
        try:
            if await _roundtrip(reader, writer, request) == 202:
                answered[address(i)] = time.time()
            else:
                failed += 1
        finally:
            connections.put_nowait((reader, writer))

    before, t0 = platform.cpu(), time.monotonic()
    tasks = []
    for n, i in enumerate(indexes):
        await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(put(i)))
    await asyncio.gather(*tasks)
    await arrivals.wait_for(list(answered))
    span = time.monotonic() - t0
    after = platform.cpu()
    while not connections.empty():
        connections.get_nowait()[1].close()
    latencies = [arrivals.at[r] - t for r, t in answered.items() if r in arrivals.at]
    if len(latencies) < 2:
        print(f"steady: only {len(latencies)} messages arrived")
        return
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    logged = await delivery_log_times(platform, list(answered))
    to_log = [logged[r] - t for r, t in answered.items() if r in logged]
    log_cuts = statistics.quantiles(to_log, n=100, method="inclusive") if len(to_log) > 1 else [float("nan")] * 99
    print(
        f"steady {rate:.0f} events/s for {len(indexes) / rate:.0f}s: {len(indexes):,} events,"
        f" {failed} PutEvents failed, {len(answered) - len(latencies)} messages missing"
    )
    print(
        f"  PutEvents answer → message at the sink: p50 {cuts[49] * 1000:,.0f} ms, p95 {cuts[94] * 1000:,.0f} ms,"
        f" p99 {cuts[98] * 1000:,.0f} ms, max {max(latencies) * 1000:,.0f} ms"
    )
    print(
        f"  of which PutEvents answer → delivery logged by the worker: p50 {log_cuts[49] * 1000:,.0f} ms,"
        f" p99 {log_cuts[98] * 1000:,.0f} ms"
    )
    print(f"  CPU: {cpu_line(before, after, span)}")


async def delivery_log_times(platform: Platform, addresses: list[str]) -> dict[str, float]:
    """When the worker logged each address's message, just before handing it to the sink."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(platform.dsn))
    try:
        rows = await conn.fetch(
            "SELECT address, extract(epoch FROM created_at) AS at FROM deliveries WHERE address = ANY($1::text[])",
            addresses,
        )
    finally:
        await conn.close()
    return {r["address"]: float(r["at"]) for r in rows}


async def burst(platform: Platform, app_id: str, arrivals: Arrivals, indexes: list[int]) -> float:
    requests = [
        signed_request("127.0.0.1", platform.port, app_id, _body(indexes[k : k + 100], "burst"), platform.key)
        for k in range(0, len(indexes), 100)
    ]
    queue = list(reversed(requests))
    failed = 0

    async def connection() -> None:
        nonlocal failed
        reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
        while queue:
            if await _roundtrip(reader, writer, queue.pop()) != 202:
                failed += 1
        writer.close()

    recipients = [address(i) for i in indexes]
    before, t0, wall0 = platform.cpu(), time.monotonic(), time.time()
    await asyncio.gather(*(connection() for _ in range(8)))
    accepted = time.monotonic() - t0
    await arrivals.wait_for(recipients)
    after = platform.cpu()
    arrived = [arrivals.at[r] for r in recipients if r in arrivals.at]
    span = max(arrived) - wall0 if arrived else float("nan")
    rate = len(arrived) / span
    print(
        f"burst of {len(indexes):,} events: PutEvents accepted them in {accepted:.1f}s ({failed} failed);"
        f" {len(arrived):,} messages, {len(indexes) - len(arrived)} missing, last after {span:.1f}s"
    )
    print(f"  triggered sends/s       : {rate:,.0f}")
    print(f"  CPU: {cpu_line(before, after, span)}")
    return rate


async def baseline(platform: Platform, arrivals: Arrivals, count: int, smtp_port: int) -> float:
    """The same number of messages straight to the sink: SEND_CONCURRENCY connections, one per
    SUB_BATCH messages, as the worker's delivery sub-batches use them."""
    work = [f"direct{i}@{DOMAIN}" for i in range(count)]
    batches = [work[k : k + SUB_BATCH] for k in range(0, count, SUB_BATCH)]
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(batch: list[str]) -> None:
        async with gate:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port)
            await smtp.connect()
            for rcpt in batch:
                message = EmailMessage()
                message["From"], message["To"], message["Subject"] = f"bench@{DOMAIN}", rcpt, "Hello bench"
                message.set_content("<p>Your event arrived.</p>", subtype="html")
                await smtp.send_message(message)
            await smtp.quit()

    wall0 = time.time()
    await asyncio.gather(*(one(b) for b in batches))
    await arrivals.wait_for(work)
    arrived = [arrivals.at[r] for r in work if r in arrivals.at]
    rate = len(arrived) / (max(arrived) - wall0)
    print(f"baseline: {count:,} messages straight to the sink (aiosmtplib, {SEND_CONCURRENCY} connections)")
    print(f"  direct sends/s          : {rate:,.0f}")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0, help="steady events per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="`openpoint worker` processes (replicas)")
    args = parser.parse_args()
    steady_count = int(args.rate * args.seconds)
    smtp_port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-triggers-"))
    arrivals_file = tmp / "arrivals.txt"
    platform = Platform(
        tmp,
        SEND_CONCURRENCY,
        extra_env={"OPENPOINT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}"},
        sink_argv=lambda port, cert, key: [__file__, "sink", str(port), str(arrivals_file)],
        workers=args.workers,
    )
    platform.sink_port = smtp_port
    try:
        await start(platform, smtp_port)
        arrivals = Arrivals(arrivals_file)
        t0 = time.perf_counter()
        app_id = await asyncio.to_thread(setup, platform, steady_count + args.burst)
        print(f"{steady_count + args.burst:,} endpoints and the EVENT campaign in {time.perf_counter() - t0:.0f}s")
        await asyncio.sleep(1.5)  # past the second for which the gateway caches a project's triggers
        await steady(platform, app_id, arrivals, list(range(steady_count)), args.rate)
        rate = await burst(platform, app_id, arrivals, list(range(steady_count, steady_count + args.burst)))
        direct = await baseline(platform, arrivals, args.burst, smtp_port)
        print(f"ratio burst / baseline    : {rate / direct:.2f}")
        await report_outbox(platform)
    finally:
        platform.stop()


async def start(platform: Platform, smtp_port: int) -> None:
    await platform.start()
    wait_for_port("127.0.0.1", smtp_port, timeout=30)


async def report_outbox(platform: Platform) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(platform.dsn))
    try:
        waiting = await conn.fetchval("SELECT count(*) FROM trigger_outbox")
        outcomes = await conn.fetch("SELECT outcome, count(*) AS n FROM trigger_outcomes GROUP BY outcome")
    finally:
        await conn.close()
    print(f"outbox rows left: {waiting}; outcomes: " + ", ".join(f"{r['outcome']} {r['n']:,}" for r in outcomes))


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        serve_sink(int(sys.argv[2]), sys.argv[3])
    else:
        asyncio.run(main())
