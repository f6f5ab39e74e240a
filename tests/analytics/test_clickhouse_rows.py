"""The ClickHouse backend's pure parts: literals (store/clickhouse.py `lit`, the only way a value
enters its SQL) and the feeder's line of an event (analytics/clickhouse_feed.py `line_of`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson

from analytics.clickhouse_feed import line_of
from store.clickhouse import connect, in_list, lit


def test_literals_escape_quotes_and_backslashes() -> None:
    assert lit("it's") == "'it\\'s'"
    assert lit("a\\' OR 1=1 --") == "'a\\\\\\' OR 1=1 --'"
    assert lit(None) == "NULL"
    assert lit(3) == "3"
    assert lit(date(2026, 12, 1)) == "toDate('2026-12-01')"
    assert lit(datetime(2026, 12, 1, 10, 0, 1, 500000, tzinfo=UTC)) == (
        "toDateTime64('2026-12-01 10:00:01.500', 3, 'UTC')"
    )
    assert lit(["a", "b'"]) == "['a', 'b\\'']"
    assert lit([]) == "CAST([] AS Array(String))"
    assert in_list("endpoint_id", []) == "0"  # a filter that keeps nobody counts nothing


def _feed_row(**profile: str | None) -> dict[str, str | None]:
    """A feed row as store/clickhouse_feed.py reads it: the event's JSON line (without its
    dimensions), and the endpoint's profile as JSON text."""
    row: dict[str, str | None] = {
        "line": '{"app_id" : "a1", "event_type" : "_session.stop", "session_ms" : 60000}',
        "demographic": orjson.dumps({"Platform": "ios", "AppVersion": "1.0"}).decode(),
        "location": orjson.dumps({"Country": "FR"}).decode(),
        "endpoint_attributes": orjson.dumps({"tier": ["gold", "vip"]}).decode(),
        "channel_type": "EMAIL",
    }
    row.update(profile)
    return row


def test_an_event_line_carries_its_endpoints_dimensions() -> None:
    cache: dict[Any, str] = {}
    row = orjson.loads(line_of(_feed_row(), cache))
    assert row["app_id"] == "a1" and row["session_ms"] == 60000
    dims = row["dims"]
    assert ["", ""] in dims  # every endpoint's pair: the unfiltered figures
    for pair in (["platform", "ios"], ["app-version", "1.0"], ["country", "FR"], ["channel", "EMAIL"]):
        assert pair in dims
    assert ["attribute.tier", "gold"] in dims and ["attribute.tier", "vip"] in dims
    assert len(cache) == 1  # computed once per profile of the slice
    line_of(_feed_row(), cache)
    assert len(cache) == 1


def test_an_event_of_an_endpoint_gone_has_only_the_whole_project_dimension() -> None:
    gone = _feed_row(demographic=None, location=None, endpoint_attributes=None, channel_type=None)
    assert orjson.loads(line_of(gone, {}))["dims"] == [["", ""]]


def test_a_server_is_sent_the_statements_chdb_runs() -> None:
    """The HTTP transport (untested against a real server here): what it sends, and how it reads
    the answer, against httpx's mock transport."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b'{"meta": [], "data": [["2026-12-01", "3"]], "rows": 1}')

    async def run() -> list[list[Any]]:
        ch = connect("http://bob:pw@ch.local:8123/analytics", 30, transport=httpx.MockTransport(answer))
        await ch.setup()
        await ch.insert_lines("events", '{"app_id": "a"}', token="feed:1:2")
        rows = await ch.rows(f"SELECT event_date, count() FROM {ch.events} GROUP BY 1")
        await ch.close()
        return rows

    assert asyncio.run(run()) == [["2026-12-01", "3"]]
    create_db, create_table, insert, select = sent
    assert create_db.content == b"CREATE DATABASE IF NOT EXISTS analytics"
    assert b"CREATE TABLE IF NOT EXISTS analytics.events" in create_table.content
    assert b"toIntervalDay(30 + 1)" in create_table.content
    assert insert.url.params["query"] == (
        "INSERT INTO analytics.events SETTINGS insert_deduplication_token = 'feed:1:2' FORMAT JSONEachRow"
    )
    assert insert.content == b'{"app_id": "a"}'
    assert select.content == b"SELECT event_date, count() FROM analytics.events GROUP BY 1"
    assert all(r.url.params["default_format"] == "JSONCompact" for r in sent)
    assert all(r.headers["authorization"].startswith("Basic ") for r in sent)
