"""ClickHouse, the optional analytics backend (`OPENPOINT_ANALYTICS_URL`, docs/analytics.md
"ClickHouse backend"): one client over two transports that speak the same SQL.

- `chdb:///abs/dir`: chDB, ClickHouse's engine in this process, its tables under `dir`. A chDB
  data directory is opened by one process at a time, so the process that serves the analytics
  pages owns it and also runs the feeder (analytics/clickhouse_feed.py). chDB calls block: they
  run in a thread, one at a time (a session is not shared across threads at once).
- `http(s)://host:8123/db`: a ClickHouse server's HTTP interface (httpx). UNTESTED against a real
  server here (no server in the test environment); it sends the same statements as chDB.

Every statement is built with `lit()` literals (strings escaped, never user text spliced raw),
answered as JSONCompact rows. Schema: `events`, one row per event with what the pages need of the
endpoint (its user, creation day, dimensions) and of its session (stopped sessions' time), as the
feeder copied them from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

DATABASE = "openpoint"  # chDB's database, and a server's when its URL names none

# MergeTree in the pages' read order: a project's days, then event type (funnels, the events and
# revenue pages read a few types), then endpoint. An insert names its feed slice
# (insert_deduplication_token): the same slice inserted again after a crash is dropped
# (non_replicated_deduplication_window remembers the last 10,000 inserts' tokens).
EVENT_COLUMNS = (
    ("app_id", "LowCardinality(String)"),
    ("event_date", "Date"),
    ("event_time", "DateTime64(3, 'UTC')"),
    ("endpoint_id", "String"),
    ("event_id", "String"),
    ("event_type", "LowCardinality(String)"),
    ("session_id", "String"),
    ("session_ms", "Nullable(Int64)"),  # a stopped session's time (on `_session.stop`)
    ("attributes", "Map(String, String)"),
    ("metrics", "Map(String, Float64)"),
    ("user_id", "String"),  # the endpoint's, when the event was copied
    ("created_date", "Nullable(Date)"),  # the endpoint's creation day
    ("dims", "Array(Tuple(String, String))"),  # the endpoint's dimensions (analytics/rollups.py)
    ("xid", "UInt64"),  # the PostgreSQL transaction that stored the event
)
STRUCTURE = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS)
SCHEMA = (
    "CREATE DATABASE IF NOT EXISTS {database}",
    f"""CREATE TABLE IF NOT EXISTS {{database}}.events ({STRUCTURE})
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(event_date)
    ORDER BY (app_id, event_date, event_type, endpoint_id, event_time)
    TTL event_date + toIntervalDay({{keep_days}} + 1)
    SETTINGS non_replicated_deduplication_window = 10000""",
)


def lit(value: Any) -> str:
    """A ClickHouse literal: strings quoted and escaped, dates and instants as functions,
    lists and tuples as arrays."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}', 3, 'UTC')"
    if isinstance(value, date):
        return f"toDate('{value.isoformat()}')"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(lit(v) for v in items) + "]" if items else "CAST([] AS Array(String))"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


class Transport(Protocol):
    async def run(self, sql: str, body: bytes = b"") -> bytes: ...

    async def insert(self, table: str, token: str, lines: str) -> None: ...

    async def close(self) -> None: ...


class Chdb:
    """chDB in this process: blocking calls in a thread, one at a time."""

    def __init__(self, path: str) -> None:
        try:  # imported here: a deployment without OPENPOINT_ANALYTICS_URL=chdb://... needs no chDB
            from chdb import session
        except ImportError as e:
            raise RuntimeError(
                "OPENPOINT_ANALYTICS_URL=chdb://... needs chDB: pip install 'openpoint[clickhouse]' (or chdb)"
            ) from e

        Path(path).mkdir(parents=True, exist_ok=True)
        self.path = path
        self._session = session.Session(path)  # type: ignore[no-untyped-call]
        self._lock = threading.RLock()
        self._inserts = itertools.count()

    def _run(self, sql: str, body: bytes) -> bytes:
        statement = sql + ("\n" + body.decode() if body else "")
        with self._lock:
            result = self._session.query(statement, "JSONCompact")  # type: ignore[no-untyped-call]
        raw = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return bytes(raw)

    async def run(self, sql: str, body: bytes = b"") -> bytes:
        return await asyncio.to_thread(self._run, sql, body)

    def _insert(self, table: str, token: str, lines: str) -> None:
        # From a file: chDB parses rows given inline in the statement ~4x slower. A new name each
        # time (never a file ClickHouse may have read before), written and read under the lock.
        path = Path(self.path) / f"insert-{os.getpid()}-{next(self._inserts)}.jsonl"
        with self._lock:
            path.write_text(lines)
            try:
                self._run(
                    f"INSERT INTO {table} SETTINGS insert_deduplication_token = {lit(token)}"
                    f" SELECT * FROM file({lit(str(path))}, JSONEachRow, {lit(STRUCTURE)})",
                    b"",
                )
            finally:
                path.unlink(missing_ok=True)

    async def insert(self, table: str, token: str, lines: str) -> None:
        await asyncio.to_thread(self._insert, table, token, lines)

    async def close(self) -> None:
        await asyncio.to_thread(self._session.close)


class Http:
    """A ClickHouse server's HTTP interface. Untested against a real server (docs/analytics.md)."""

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        parts = urlsplit(url)
        self._url = f"{parts.scheme}://{parts.hostname}:{parts.port or 8123}/"
        self._auth = (parts.username or "default", parts.password or "")
        self.database = parts.path.strip("/") or DATABASE  # every statement names it
        self._client = httpx.AsyncClient(timeout=300, transport=transport)

    async def run(self, sql: str, body: bytes = b"") -> bytes:
        # A statement alone goes as the body; an INSERT's data goes as the body, its statement
        # in `query`. Answers in the format chDB gives (default_format).
        params = {"default_format": "JSONCompact"}
        if body:
            params["query"] = sql
        resp = await self._client.post(self._url, params=params, content=body or sql.encode(), auth=self._auth)
        if resp.status_code != 200:
            raise RuntimeError(f"ClickHouse: {resp.status_code} {resp.text[:500]}")
        return resp.content

    async def insert(self, table: str, token: str, lines: str) -> None:
        await self.run(
            f"INSERT INTO {table} SETTINGS insert_deduplication_token = {lit(token)} FORMAT JSONEachRow",
            lines.encode(),
        )

    async def close(self) -> None:
        await self._client.aclose()


class ClickHouse:
    """The analytics backend's connection: statements in, rows out."""

    def __init__(self, transport: Transport, url: str, keep_days: int = 90, database: str = DATABASE) -> None:
        self._transport = transport
        self.url = url
        self.database = database
        self.events = f"{database}.events"  # the table every statement reads
        self.keep_days = keep_days  # the analytics retention: the feeder copies no older day

    async def setup(self) -> None:
        """The tables (the events' TTL: the retention, as the rollups drop their old months)."""
        for statement in SCHEMA:
            await self._transport.run(
                statement.replace("{keep_days}", str(int(self.keep_days))).replace("{database}", self.database)
            )

    async def rows(self, sql: str) -> list[list[Any]]:
        """The rows of a SELECT (JSONCompact: 64-bit integers may come as strings; callers cast)."""
        raw = await self._transport.run(sql)
        if not raw.strip():
            return []
        data: list[list[Any]] = orjson.loads(raw).get("data", [])
        return data

    async def insert_lines(self, table: str, lines: str, token: str) -> None:
        """Insert JSONEachRow lines (the table's columns) as one insert named `token`: inserting
        the same token again is a no-op (the feeder's crash between insert and cursor commit)."""
        if lines:
            await self._transport.insert(f"{self.database}.{table}", token, lines)

    async def execute(self, sql: str) -> None:
        await self._transport.run(sql)

    async def close(self) -> None:
        await self._transport.close()


def connect(url: str, keep_days: int = 90, transport: httpx.AsyncBaseTransport | None = None) -> ClickHouse:
    """A client for `chdb:///abs/dir` or `http(s)://host:port/db` (`transport`: httpx's, for tests)."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        if not parts.path.startswith("/"):
            raise ValueError(f"OPENPOINT_ANALYTICS_URL: chdb needs an absolute directory (chdb:///abs/dir), got {url}")
        return ClickHouse(Chdb(parts.path), url, keep_days)
    if parts.scheme in ("http", "https"):
        http = Http(url, transport)
        return ClickHouse(http, url, keep_days, http.database)
    raise ValueError(f"OPENPOINT_ANALYTICS_URL: {url} is neither chdb:///dir nor http(s)://host:8123/db")


def drop_local(url: str) -> None:
    """Remove a chDB directory (tests and benches start from empty)."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        shutil.rmtree(parts.path, ignore_errors=True)


def in_list(column: str, values: Sequence[str]) -> str:
    """`column IN (...)` for a set resolved elsewhere (the filtered endpoints)."""
    return f"{column} IN ({', '.join(lit(v) for v in values)})" if values else "0"
