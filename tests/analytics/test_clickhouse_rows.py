"""The ClickHouse backend's pure parts: literals (store/clickhouse.py `lit`, the only way a value
enters its SQL) and the feeder's row of an event (analytics/clickhouse_feed.py `row_of`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson

from analytics.clickhouse_feed import row_of
from store.clickhouse import in_list, lit


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


def _feed_row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "app_id": "a1",
        "endpoint_id": "ep",
        "event_id": "ev",
        "event_type": "_session.stop",
        "event_time": datetime(2026, 12, 1, 23, 59, 59, 999000, tzinfo=UTC),
        "session_id": "s1",
        "attributes": orjson.dumps({"page": "home", "n": 3, "ok": True, "gone": None}).decode(),
        "metrics": orjson.dumps({"ms": 12, "text": "4.5", "bad": "x", "nan": "nan"}).decode(),
        "xid": "981",
        "user_id": "u1",
        "created_at": datetime(2026, 11, 30, 8, tzinfo=UTC),
        "demographic": orjson.dumps({"Platform": "ios", "AppVersion": "1.0"}).decode(),
        "location": orjson.dumps({"Country": "FR"}).decode(),
        "endpoint_attributes": orjson.dumps({"tier": ["gold", "vip"]}).decode(),
        "channel_type": "EMAIL",
        "session_ms": 60000,
    }
    row.update(over)
    return row


def test_an_event_row_carries_its_endpoint_and_session() -> None:
    row = row_of(_feed_row())
    assert row["event_date"] == "2026-12-01"
    assert row["event_time"] == "2026-12-01 23:59:59.999"
    # Attributes as PostgreSQL's ->> reads them; JSON nulls are absent, as ->> gives NULL.
    assert row["attributes"] == {"page": "home", "n": "3", "ok": "true"}
    # Metrics that are numbers or read as numbers (as the rollups' fold).
    assert row["metrics"] == {"ms": 12.0, "text": 4.5}
    assert row["created_date"] == "2026-11-30"
    assert row["session_ms"] == 60000
    assert row["xid"] == 981
    assert ["", ""] in row["dims"]
    assert ["platform", "ios"] in row["dims"]
    assert ["country", "FR"] in row["dims"]
    assert ["channel", "EMAIL"] in row["dims"]
    assert ["attribute.tier", "gold"] in row["dims"] and ["attribute.tier", "vip"] in row["dims"]


def test_an_event_of_an_endpoint_gone_has_only_the_whole_project_dimension() -> None:
    row = row_of(
        _feed_row(
            user_id="",
            created_at=None,
            demographic=None,
            location=None,
            endpoint_attributes=None,
            channel_type=None,
            attributes=None,
            metrics=None,
        )
    )
    assert row["dims"] == [["", ""]]
    assert row["created_date"] is None
    assert row["attributes"] == {} and row["metrics"] == {}
