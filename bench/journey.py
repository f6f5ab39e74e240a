"""A three-step journey (send, wait, send) for every endpoint of a segment, beside a bare
Temporal workflow of the same shape posting to the same sink in the same run.

    .venv/bin/python bench/journey.py [--participants 10000] [--wait-seconds 60] [--concurrency 50]

Starts an embedded PostgreSQL, a Temporal dev server, the gateway and the worker (`openpoint api`,
`openpoint worker`) through bench/campaign.py's Platform, with an HTTPS webhook sink of this file
that answers 204, handles at most `--concurrency` messages at a time and counts each path's
messages and distinct Idempotency-Keys (a repeated key is a duplicate delivery). COPYs
`--participants` CUSTOM endpoints into a project, makes a segment of all of them and publishes
(CreateJourney, State ACTIVE) the journey send1 (CUSTOM to the sink's /send1) → wait (WaitFor
`--wait-seconds`) → send2 (CUSTOM to /send2). Prints:

- participants/s = N / (publish → the last participant's second message at the sink), and the
  same without the wait; each send's messages at the sink (N expected: missing, duplicates) and
  when the first, median and last of them arrived;
- Temporal events per participant: the mean history length of a sample of participant
  workflows, by event type, and the journey workflow's history (all its continue-as-new runs)
  divided by N; Temporal state transitions (the history service's writes of a workflow's
  mutable state, DescribeWorkflowExecution's state_transition_count) per participant and per
  participant-step (STEPS: send, wait, send); PostgreSQL transactions per participant;
- the worker's RSS sampled while the most participants were between their two messages (with a
  wait longer than entry takes, all N), its peak RSS (VmHWM), and the CPU each process used;
- the baseline, measured in the same run: `BareJourney` below (unsandboxed, like the participant
  workflow) — a regular activity POSTing one message to the sink with aiohttp, `workflow.sleep`
  for the wait, the same activity again — N instances started from this process with the
  engine's start concurrency and run by a bare `temporalio.worker.Worker` in a child process with
  our worker's max_concurrent_activities; its bodies are padded to the journey messages' mean
  size. The same figures, then journey / bare side by side with the ratios, CPU per participant
  of the worker and of the Temporal server included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign_webhook  # noqa: E402

# The bare worker, a child process of this file, must not carry OpenPoint's modules: they would
# add some 70 MB to the RSS it is compared by.
if not (__name__ == "__main__" and sys.argv[1:2] == ["bare-worker"]):
    import asyncpg

    from bench.campaign import Platform, _answer, cpu_line, endpoint_id, load_endpoints, serve_sink
    from bench.imports import peak_rss_mb
    from engine.journeys import START_CONCURRENCY
    from launch.processes import free_port, port_accepts
    from rules.participants import participant_workflow_id
    from store.db import plain_dsn
    from workflows.journey import journey_workflow_id

MAX_ACTIVITIES = 50  # worker/main.py build_worker: max_concurrent_activities
STALL_SECONDS = 120  # no new message at the sink for this long past the wait: the run is broken
BARE_WORKFLOW = "BareJourney"
BARE_POST = "bare_post"
STEPS = 3  # the journey's activities, and the bare workflow's: send, wait, send


# -- the sink: `bench/journey.py sink PORT CERT KEY LIMIT`, in a process of its own --------------
class KeyedSink:
    """An ASGI webhook receiver: 204 to every POST, at most `limit` handled at a time. Per path it
    counts messages, bytes and repeated Idempotency-Keys, and notes when each new key arrived
    (wall clock): GET answers the counts with the first, median and last of those as JSON."""

    def __init__(self, limit: int) -> None:
        self.gate = asyncio.Semaphore(limit)
        self.paths: dict[str, dict[str, float]] = {}
        self.keys: dict[str, set[bytes]] = {}
        self.arrivals: dict[str, list[float]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            for path, seen in self.paths.items():
                times = self.arrivals[path]
                seen.update(first=times[0], median=times[len(times) // 2], last=times[-1])
            await _answer(send, 200, orjson.dumps(self.paths))
            return
        key = dict(scope["headers"]).get(IDEMPOTENCY_HEADER.lower().encode(), b"")
        async with self.gate:
            self._note(scope["path"], key, len(body))
        await _answer(send, 204, b"")

    def _note(self, path: str, key: bytes, size: int) -> None:
        now = time.time()
        seen = self.paths.setdefault(path, {"messages": 0, "duplicates": 0, "bytes": 0})
        keys = self.keys.setdefault(path, set())
        seen["messages"] += 1
        seen["bytes"] += size
        if key in keys:
            seen["duplicates"] += 1
        else:
            keys.add(key)
            self.arrivals.setdefault(path, []).append(now)


# -- the bare workflow: `bench/journey.py bare-worker ADDRESS TASK_QUEUE CERT` --------------------
@dataclass
class BareInput:
    sink_url: str
    wait_seconds: float
    size: int  # body bytes


@dataclass
class BarePost:
    url: str
    key: str
    size: int


@workflow.defn(name=BARE_WORKFLOW, sandboxed=False)
class BareJourney:
    """send, wait, send: two regular activities and a timer, nothing of OpenPoint's."""

    @workflow.run
    async def run(self, job: BareInput) -> None:
        await self._post(job, "bare1")
        await workflow.sleep(job.wait_seconds)
        await self._post(job, "bare2")

    async def _post(self, job: BareInput, path: str) -> None:
        post = BarePost(f"{job.sink_url}/{path}", f"{workflow.info().workflow_id}/{path}", job.size)
        await workflow.execute_activity(BARE_POST, post, start_to_close_timeout=timedelta(seconds=30))


class BarePoster:
    """The bare activity: one signed JSON POST of `size` bytes through one aiohttp session."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._secret = secrets.token_hex(32)
        self._client: aiohttp.ClientSession | None = None

    @activity.defn(name=BARE_POST)
    async def post(self, job: BarePost) -> None:
        if self._client is None:
            self._client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._tls, limit=64))
        body = padded_body(job.key, job.size)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "bare",
            IDEMPOTENCY_HEADER: job.key,
            SIGNATURE_HEADER: sign_webhook(self._secret, int(time.time()), body),
        }
        async with self._client.post(job.url, data=body, headers=headers) as response:
            await response.read()
            if response.status >= 300:
                raise ApplicationError(f"the sink answered HTTP {response.status}")


def padded_body(key: str, size: int) -> bytes:
    def body(data: str) -> bytes:
        return orjson.dumps({"Data": data, "Endpoints": {key: {"ChannelType": "CUSTOM"}}})

    return body("x" * max(0, size - len(body(""))))


async def bare_worker(address: str, task_queue: str, cert: str) -> None:
    client = await Client.connect(address)
    poster = BarePoster(ssl.create_default_context(cafile=cert))
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BareJourney],
        activities=[poster.post],
        max_concurrent_activities=MAX_ACTIVITIES,
    )
    print("bare worker polling", flush=True)
    await worker.run()


# -- children of this file beside the platform's ---------------------------------------------------
async def start_child(platform: Platform, role: str, argv: list[str], ready: Callable[[], bool]) -> None:
    """Start `bench/journey.py *argv`; it is stopped and CPU-accounted with the platform's."""
    log = (platform.tmp / f"{role}.log").open("wb")
    platform.children[role] = subprocess.Popen(
        [sys.executable, __file__, *argv], cwd=ROOT, env=os.environ, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while not ready():
        if time.monotonic() > deadline or platform.children[role].poll() is not None:
            raise RuntimeError(f"{role} did not start; see {platform.tmp}/{role}.log")
        await asyncio.sleep(0.2)


async def use_keyed_sink(platform: Platform) -> None:
    """Replace the platform's sink (bench/campaign.py's counts no keys) by this file's, on the
    self-signed certificate the worker already trusts."""
    old = platform.children.pop("sink")
    old.terminate()
    old.wait(20)
    port = free_port()
    files = [str(platform.tmp / "cert.pem"), str(platform.tmp / "key.pem")]
    argv = ["sink", str(port), *files, str(platform.concurrency)]
    await start_child(platform, "sink", argv, lambda: port_accepts("127.0.0.1", port))
    platform.sink_port, platform.sink_url = port, f"https://127.0.0.1:{port}"


# -- following one side at the sink ---------------------------------------------------------------
@dataclass
class Run:
    """One side of the comparison: N participants, two sink paths, the worker that runs them."""

    label: str
    paths: tuple[str, str]
    role: str  # the worker's name among the platform's children
    worker: int  # its pid
    started: float = 0.0  # wall clock: publish, or the first bare start
    waiting_peak: int = 0  # most participants between their two messages at one sample
    rss_waiting_mb: float = 0.0  # the worker's RSS at that sample
    rss_idle_mb: float = 0.0  # its RSS before the run
    peak_rss_mb: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used by each process
    cpu_line: str = ""
    sink: dict[str, dict[str, float]] = field(default_factory=dict)
    events: float = 0.0  # mean per participant workflow
    transitions: float = 0.0  # mean state transitions per participant workflow
    shared_events: float = 0.0  # per participant, of the journey workflow that admits them all
    shared_transitions: float = 0.0  # the same for its state transitions
    by_type: dict[str, float] = field(default_factory=dict)
    starts: tuple[float, float] = (0.0, 0.0)  # the sampled workflows' earliest and latest start

    def distinct(self, path: str) -> int:
        seen = self.sink.get(path) or {}
        return int(seen.get("messages", 0) - seen.get("duplicates", 0))

    def elapsed(self) -> float:
        """Start to the last participant's second message."""
        return (self.sink.get(self.paths[1]) or {}).get("last", float("nan")) - self.started

    def rss_growth(self) -> float:
        return self.rss_waiting_mb - self.rss_idle_mb

    def rate(self, count: int, minus: float = 0.0) -> float:
        return count / (self.elapsed() - minus)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_now(platform: Platform) -> dict[str, float]:
    return platform.cpu() | {"bench": time.process_time()}


async def follow(platform: Platform, run: Run, count: int, wait: float) -> None:
    """Poll the sink until `count` distinct messages reached the second path (RuntimeError when
    nothing new came for the wait plus STALL_SECONDS), sampling the worker's RSS while the most participants were
    between their two messages; then note its peak RSS and the CPU used."""
    before, run.rss_idle_mb = cpu_now(platform), rss_mb(run.worker)
    progress, changed, report = 0, time.monotonic(), time.monotonic()
    while True:
        await asyncio.sleep(1)
        run.sink = await platform.sink()
        first, second = (run.distinct(p) for p in run.paths)
        if first - second >= run.waiting_peak:
            run.waiting_peak, run.rss_waiting_mb = first - second, rss_mb(run.worker)
        if second >= count:
            break
        if first + second > progress:
            progress, changed = first + second, time.monotonic()
        elif time.monotonic() - changed > wait + STALL_SECONDS:
            raise RuntimeError(f"{run.label} stalled at {first:,} + {second:,} messages; see {platform.tmp}")
        if time.monotonic() - report > 30:
            report = time.monotonic()
            print(
                f"  {run.label}: {first:,} first and {second:,} second messages, worker RSS {rss_mb(run.worker):.0f} MB"
            )
    after = cpu_now(platform)
    run.cpu = {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after}
    run.cpu_line = cpu_line(before, after, time.time() - run.started)
    run.peak_rss_mb = peak_rss_mb(run.worker)


# -- Temporal histories ---------------------------------------------------------------------------
async def history_events(client: Client, workflow_id: str) -> tuple[list[str], float, int]:
    """Event types of a finished workflow's history, all its continue-as-new runs included, when
    it started (wall clock), and its state transitions (all runs)."""
    await client.get_workflow_handle(workflow_id).result()
    names: list[str] = []
    transitions = 0
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        described = await handle.describe()
        transitions += described.raw_description.workflow_execution_info.state_transition_count
        names += [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events]
        started = history.events[0]
        previous = started.workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            return names, started.event_time.ToDatetime(UTC).timestamp(), transitions
        run_id = previous


async def sample_events(client: Client, run: Run, workflow_ids: list[str]) -> None:
    """The mean history length over a sample of the side's workflows, per event type, and when
    the earliest and the latest of them started."""
    histories = [await history_events(client, w) for w in workflow_ids]
    run.events = statistics.mean(len(names) for names, _, _ in histories)
    run.transitions = statistics.mean(t for _, _, t in histories)
    counts = Counter(name for names, _, _ in histories for name in names)
    run.by_type = {name: n / len(histories) for name, n in counts.most_common()}
    run.starts = (min(at for _, at, _ in histories) - run.started, max(at for _, at, _ in histories) - run.started)


# -- the two sides --------------------------------------------------------------------------------
def journey_request(sink_url: str, segment: str, wait: int) -> dict[str, Any]:
    def send(path: str, then: dict[str, str]) -> dict[str, Any]:
        return {
            "CUSTOM": {
                "DeliveryUri": f"{sink_url}/{path}",
                "EndpointTypes": ["CUSTOM"],
                "MessageConfig": {"Data": "hello {{Attributes.Name}}"},
                **then,
            }
        }

    return {
        "Name": "bench",
        "State": "ACTIVE",  # published: entry starts now (no Schedule)
        "StartCondition": {"SegmentStartCondition": {"SegmentId": segment}},
        "StartActivity": "send1",
        "Activities": {
            "send1": send("send1", {"NextActivity": "wait"}),
            "wait": {"Wait": {"WaitTime": {"WaitFor": f"PT{wait}S"}, "NextActivity": "send2"}},
            "send2": send("send2", {}),
        },
    }


async def query(platform: Platform, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(plain_dsn(platform.dsn))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


TRANSACTIONS = "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"


async def run_journey(
    platform: Platform, client: Client, app_id: str, segment: str, count: int, wait: int, sample: list[int]
) -> Run:
    pinpoint = platform.pinpoint()
    transactions = (await query(platform, TRANSACTIONS))[0][0]
    run = Run("journey", ("/send1", "/send2"), "worker", platform.children["worker"].pid, started=time.time())
    journey_id = pinpoint.create_journey(
        ApplicationId=app_id, WriteJourneyRequest=journey_request(platform.sink_url, segment, wait)
    )["JourneyResponse"]["Id"]
    await follow(platform, run, count, wait)
    await sample_events(
        client, run, [participant_workflow_id(app_id, journey_id, endpoint_id(i), "run-0") for i in sample]
    )
    journey_events, _, journey_transitions = await history_events(client, journey_workflow_id(app_id, journey_id))
    run.shared_transitions = journey_transitions / count
    run.shared_events = len(journey_events) / count
    transactions = (await query(platform, TRANSACTIONS))[0][0] - transactions
    statuses = await query(
        platform, "SELECT status, count(*) FROM journey_participants WHERE app_id = $1 GROUP BY status", app_id
    )
    report(run, count, wait)
    print(f"journey participants      : {dict(map(tuple, statuses))}")
    print(
        f"journey workflow events   : {len(journey_events):,} ({len(journey_events) / count:.3f} per participant,"
        f" all runs); {journey_transitions:,} state transitions ({journey_transitions / count:.3f} per participant)"
    )
    print(f"PostgreSQL transactions   : {transactions:,} ({transactions / count:.1f} per participant)")
    return run


async def run_bare(platform: Platform, client: Client, count: int, wait: int, size: int, sample: list[int]) -> Run:
    queue = f"bare-{secrets.token_hex(4)}"
    log = platform.tmp / "bare-worker.log"
    argv = ["bare-worker", platform.temporal.address, queue, str(platform.tmp / "cert.pem")]
    await start_child(platform, "bare-worker", argv, lambda: log.exists() and b"polling" in log.read_bytes())
    worker = platform.children["bare-worker"].pid
    run = Run("bare", ("/bare1", "/bare2"), "bare-worker", worker, started=time.time())
    gate = asyncio.Semaphore(START_CONCURRENCY)  # the journey's page admits this many at a time

    async def start(i: int) -> None:
        async with gate:
            job = BareInput(platform.sink_url, wait, size)
            await client.start_workflow(BARE_WORKFLOW, job, id=f"bare-{i}", task_queue=queue)

    await asyncio.gather(follow(platform, run, count, wait), *(start(i) for i in range(count)))
    await sample_events(client, run, [f"bare-{i}" for i in sample])
    report(run, count, wait)
    return run


# -- printing -------------------------------------------------------------------------------------
def report(run: Run, count: int, wait: int) -> None:
    name = run.label
    sends = []
    for path in run.paths:
        seen = run.sink.get(path) or {"messages": 0, "duplicates": 0, "bytes": 0}
        mean = seen["bytes"] / seen["messages"] if seen["messages"] else 0
        missing = count - run.distinct(path)
        duplicates = int(seen["duplicates"])
        sends.append(f"{path} {int(seen['messages']):,} ({missing:,} missing, {duplicates} duplicates, {mean:.0f} B)")
    print(f"{name + ' messages':<26}: " + "; ".join(sends))
    print(f"{name + ', start → last':<26}: {run.rate(count):,.1f} participants/s ({run.elapsed():.1f}s)")
    print(
        f"{name + ', without the wait':<26}: {run.rate(count, wait):,.1f} participants/s ({run.elapsed() - wait:.1f}s)"
    )
    print(
        f"{name + ' worker RSS':<26}: {run.rss_waiting_mb:,.0f} MB with {run.waiting_peak:,} participants waiting"
        f" ({run.rss_growth():+,.0f} MB over idle); peak (VmHWM) {run.peak_rss_mb:,.0f} MB"
    )
    print(f"{name + ' CPU':<26}: {run.cpu_line}")
    timeline = [f"sampled workflows started +{run.starts[0]:.1f}s to +{run.starts[1]:.1f}s"]
    for path in run.paths:
        seen = run.sink.get(path) or {}
        at = [f"+{seen[k] - run.started:.1f}s" for k in ("first", "median", "last") if k in seen]
        timeline.append(f"{path} first/median/last {'/'.join(at)}")
    print(f"{name + ' timeline':<26}: " + "; ".join(timeline))
    kinds = ", ".join(f"{kind} {n:g}" for kind, n in run.by_type.items())
    print(f"{name + ' events':<26}: {run.events:.1f} per participant workflow ({kinds})")
    print(
        f"{name + ' state transitions':<26}: {run.transitions:.1f} per participant workflow,"
        f" {run.transitions / STEPS:.2f} per participant-step ({STEPS} steps)"
    )


def side_by_side(journey: Run, bare: Run, count: int, wait: int) -> None:
    def cpu_ms(run: Run, process: str) -> float:
        return run.cpu.get(process, 0.0) * 1000 / count

    rows = [
        ("participants/s, start → last", journey.rate(count), bare.rate(count)),
        ("participants/s, without the wait", journey.rate(count, wait), bare.rate(count, wait)),
        ("Temporal events per participant", journey.events, bare.events),
        ("  with the journey workflow's share", journey.events + journey.shared_events, bare.events),
        ("Temporal state transitions / participant", journey.transitions, bare.transitions),
        ("  per participant-step", journey.transitions / STEPS, bare.transitions / STEPS),
        (
            "  with the journey workflow's share",
            journey.transitions + journey.shared_transitions,
            bare.transitions,
        ),
        ("worker CPU ms per participant", cpu_ms(journey, journey.role), cpu_ms(bare, bare.role)),
        ("Temporal CPU ms per participant", cpu_ms(journey, "temporal"), cpu_ms(bare, "temporal")),
        ("worker RSS while waiting, MB", journey.rss_waiting_mb, bare.rss_waiting_mb),
        ("  of which over idle, MB", journey.rss_growth(), bare.rss_growth()),
        ("worker peak RSS (VmHWM), MB", journey.peak_rss_mb, bare.peak_rss_mb),
    ]
    print(f"\n{'':<42}{'journey':>10}{'bare':>10}{'journey/bare':>14}")
    for label, ours, theirs in rows:
        print(f"{label:<42}{ours:>10,.1f}{theirs:>10,.1f}{ours / theirs:>14.2f}")


def engine_version() -> str:
    """The commit measured, and how many tracked files differ from it: others edit the tree
    while a benchmark runs, and the worker runs what it imported when it started."""

    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no").splitlines()
    return f"engine: git {git('rev-parse', '--short', 'HEAD')}" + (f", {len(changed)} files changed" if changed else "")


# -- the run --------------------------------------------------------------------------------------
async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--wait-seconds", type=int, default=60, help="the journey's Wait and the bare timer")
    parser.add_argument("--concurrency", type=int, default=MAX_ACTIVITIES, help="the sink's own limit")
    parser.add_argument("--sample", type=int, default=50, help="workflow histories read per side")
    args = parser.parse_args()
    count, wait = args.participants, args.wait_seconds

    platform = Platform(Path(tempfile.mkdtemp(prefix="openpoint-bench-journey-")), args.concurrency)
    print(engine_version())
    try:
        await platform.start()
        await use_keyed_sink(platform)
        pinpoint = platform.pinpoint()
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench"})["ApplicationResponse"]["Id"]
        t0 = time.perf_counter()
        await load_endpoints(platform.dsn, app_id, count)
        print(f"loaded {count:,} endpoints (COPY, VACUUM ANALYZE) in {time.perf_counter() - t0:.0f}s")
        segment = pinpoint.create_segment(
            ApplicationId=app_id,
            WriteSegmentRequest={
                "Name": "everyone",
                "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["bench"]}}},
            },
        )["SegmentResponse"]["Id"]
        client = await Client.connect(platform.temporal.address)
        sample = random.Random(7).sample(range(count), min(args.sample, count))

        journey = await run_journey(platform, client, app_id, segment, count, wait, sample)
        first = journey.sink.get("/send1") or {}
        size = int(first["bytes"] / first["messages"]) if first.get("messages") else 600
        bare = await run_bare(platform, client, count, wait, size, sample)
        side_by_side(journey, bare, count, wait)
    finally:
        platform.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        port, cert, key, limit = sys.argv[2:6]
        serve_sink(port, cert, key, limit, app=KeyedSink)
    elif sys.argv[1:2] == ["bare-worker"]:
        asyncio.run(bare_worker(*sys.argv[2:5]))
    else:
        asyncio.run(main())
