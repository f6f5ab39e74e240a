"""Event-stream lag: events put at a steady rate through the real path, timed until their record
can be read from the Kinesis stream, beside records put straight to the same server.

    .venv/bin/python bench/streams.py [--rate 1000] [--seconds 30] [--endpoints 1000]

Starts an embedded PostgreSQL, a Temporal dev server, the gateway and the worker (`openpoint
api`, `openpoint worker`, as bench/campaign.py does) and moto's server (Kinesis on loopback) in
child processes. One project whose event stream is a 4-shard Kinesis stream on moto. Prints:

- platform: boto3 PutEvents of 50 events each, `--rate` events a second for `--seconds`, over
  `--endpoints` endpoints; per event the time from its PutEvents answer to the moment a reader
  polling every shard (get_records) sees its record — the gateway, the feed, the streamer
  (worker/streamer.py) and Kinesis — p50 / p95 / p99 / max, how many are missing, and the
  highest lag the status route (`GET /v1/apps/{app}/eventstream/status`) reported meanwhile;
- baseline, in the same run: boto3 put_records of 50 records of the same size straight to a
  second stream on the same moto server at the same rate from one producer (as the streamer is
  for a stream), read back by the same reader;
- the ratio platform / baseline (p50 and p95).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.campaign import Platform  # noqa: E402
from launch.processes import free_port  # noqa: E402
from tests.raw import send  # noqa: E402 - a signed GET of the status route

PER_REQUEST = 50  # events per PutEvents (records per put_records): 20 calls a second at 1,000/s
STALL_SECONDS = 30  # nothing new for this long: the rest are missing
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class Reader:
    """Polls every shard of a stream from the start; notes when each event id is first seen."""

    def __init__(self, kinesis: Any, stream: str, id_of: Callable[[bytes], str]) -> None:
        self.seen: dict[str, float] = {}
        self._kinesis, self._stream, self._id_of = kinesis, stream, id_of
        self._stop = threading.Event()
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        self._threads = [threading.Thread(target=self._poll, args=(s["ShardId"],), daemon=True) for s in shards]
        for t in self._threads:
            t.start()

    def _poll(self, shard: str) -> None:
        it = self._kinesis.get_shard_iterator(StreamName=self._stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while not self._stop.is_set():
            try:
                page = self._kinesis.get_records(ShardIterator=it, Limit=10000)
            except Exception:  # noqa: BLE001 - the server stops under a reader that was told to stop
                if self._stop.is_set():
                    return
                raise
            now = time.time()
            for r in page["Records"]:
                self.seen.setdefault(self._id_of(r["Data"]), now)
            it = page["NextShardIterator"]
            if not page["Records"]:
                time.sleep(0.02)

    def wait_for(self, ids: list[str]) -> None:
        count, changed = -1, time.monotonic()
        while time.monotonic() - changed < STALL_SECONDS:
            n = sum(1 for i in ids if i in self.seen)
            if n == len(ids):
                return
            if n != count:
                count, changed = n, time.monotonic()
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()


def steady(
    rate: float, seconds: float, put: Callable[[int], list[tuple[str, float]]], threads: int = 32
) -> dict[str, float]:
    """Call put(k) (PER_REQUEST events) rate / PER_REQUEST times a second from `threads` threads;
    when each id was answered."""
    answered: dict[str, float] = {}
    calls = int(rate * seconds / PER_REQUEST)
    interval = PER_REQUEST / rate
    start = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        futures = []
        for k in range(calls):
            delay = start + k * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(put, k))
        for f in futures:
            answered.update(f.result())
    took = time.monotonic() - start
    print(f"  sent {len(answered):,} events in {took:.1f}s ({len(answered) / took:,.0f}/s)")
    return answered


def report(name: str, answered: dict[str, float], seen: dict[str, float]) -> list[float]:
    lags = sorted(max(seen[i] - t, 0.0) for i, t in answered.items() if i in seen)
    missing = len(answered) - len(lags)
    if not lags:
        print(f"{name}: nothing arrived")
        return [0.0]
    q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [lags[0]] * 99
    print(
        f"{name}: lag p50 {q[49] * 1000:,.0f} ms, p95 {q[94] * 1000:,.0f} ms, p99 {q[98] * 1000:,.0f} ms,"
        f" max {lags[-1] * 1000:,.0f} ms; missing {missing}"
    )
    return [q[49], q[94]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--endpoints", type=int, default=1000)
    args = parser.parse_args()
    kinesis_port = free_port()
    kinesis_url = f"http://127.0.0.1:{kinesis_port}"
    tmp = Path(tempfile.mkdtemp(prefix="openpoint-bench-streams-"))
    platform = Platform(
        tmp,
        1,
        extra_env={**AWS, "OPENPOINT_KINESIS_ENDPOINT_URL": kinesis_url},
        sink_argv=lambda port, cert, key: ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
    )
    platform.sink_port = kinesis_port
    try:
        asyncio.run(platform.start())
        run(platform, kinesis_url, args)
    finally:
        platform.stop()
        print(f"logs: {tmp}")


def run(platform: Platform, kinesis_url: str, args: argparse.Namespace) -> None:
    config = Config(retries={"max_attempts": 3}, max_pool_connections=64)
    kinesis = boto3.client("kinesis", endpoint_url=kinesis_url, config=config, **_aws())
    pinpoint = boto3.client(
        "pinpoint",
        endpoint_url=f"http://127.0.0.1:{platform.port}",
        region_name="us-east-1",
        aws_access_key_id=platform.key[0],
        aws_secret_access_key=platform.key[1],
        config=config,
    )
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "bench-streams"})["ApplicationResponse"]["Id"]
    streams = {"platform": f"events-{secrets.token_hex(3)}", "baseline": f"direct-{secrets.token_hex(3)}"}
    for name in streams.values():
        kinesis.create_stream(StreamName=name, ShardCount=4)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    pinpoint.put_event_stream(
        ApplicationId=app_id,
        WriteEventStream={
            "DestinationStreamArn": f"arn:aws:kinesis:us-east-1:123456789012:stream/{streams['platform']}",
            "RoleArn": "",
        },
    )
    endpoints = [f"ep-{i:05d}" for i in range(args.endpoints)]
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={"Item": [{"Id": e, "ChannelType": "CUSTOM", "Address": e} for e in endpoints[:100]]},
    )

    def event_id(data: bytes) -> str:
        return str(orjson.loads(data)["event_id"])

    print(f"platform: PutEvents → gateway → feed → streamer → Kinesis, {args.rate:,.0f} events/s")
    reader = Reader(kinesis, streams["platform"], event_id)
    peak = {"events": 0, "seconds": 0.0}
    watching = threading.Event()

    def watch() -> None:
        class _Stack:
            url = f"http://127.0.0.1:{platform.port}"
            access_key_id, secret_access_key = platform.key

        while not watching.is_set():
            body = send(_Stack(), "GET", f"/v1/apps/{app_id}/eventstream/status").body  # type: ignore[arg-type]
            peak["events"] = max(peak["events"], int(body.get("LagEvents", 0)))
            peak["seconds"] = max(peak["seconds"], float(body.get("LagSeconds", 0)))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def put_events(k: int) -> list[tuple[str, float]]:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        batch: dict[str, Any] = {}
        ids = []
        for j in range(PER_REQUEST):
            ep = endpoints[(k * PER_REQUEST + j) % len(endpoints)]
            eid = f"b{k}-{j}"
            ids.append(eid)
            item = batch.setdefault(ep, {"Endpoint": {}, "Events": {}})
            item["Events"][eid] = {"EventType": "bench.stream", "Timestamp": now, "Attributes": {"k": str(k)}}
        pinpoint.put_events(ApplicationId=app_id, EventsRequest={"BatchItem": batch})
        t = time.time()
        return [(i, t) for i in ids]

    answered = steady(args.rate, args.seconds, put_events)
    reader.wait_for(list(answered))
    reader.stop()
    watching.set()
    platform_q = report("platform", answered, reader.seen)
    print(f"  status route: peak lag {peak['events']:,} events, {peak['seconds']:.2f} s")

    print(f"baseline: boto3 put_records of {PER_REQUEST} straight to moto, {args.rate:,.0f} records/s")
    sample = b'{"event_type":"bench.stream","event_id":"%s",' + b'"x":"' + b"y" * 700 + b'"}'
    base_reader = Reader(kinesis, streams["baseline"], event_id)

    def put_records(k: int) -> list[tuple[str, float]]:
        ids = [f"d{k}-{j}" for j in range(PER_REQUEST)]
        records = [
            {"Data": sample % i.encode(), "PartitionKey": endpoints[(k * PER_REQUEST + j) % len(endpoints)]}
            for j, i in enumerate(ids)
        ]
        kinesis.put_records(StreamName=streams["baseline"], Records=records)
        t = time.time()
        return [(i, t) for i in ids]

    # One producer, as the streamer is for a stream (and moto's shards take concurrent puts to one
    # shard out of order, which loses records for a reader that follows an iterator).
    direct = steady(args.rate, args.seconds, put_records, threads=1)
    base_reader.wait_for(list(direct))
    base_reader.stop()
    base_q = report("baseline", direct, base_reader.seen)
    print(
        f"ratio platform / baseline: p50 {platform_q[0] / max(base_q[0], 1e-6):.1f}x,"
        f" p95 {platform_q[1] / max(base_q[1], 1e-6):.1f}x"
    )


def _aws() -> dict[str, str]:
    return {
        "region_name": AWS["AWS_DEFAULT_REGION"],
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
    }


if __name__ == "__main__":
    main()
