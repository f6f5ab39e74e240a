"""rules/instants.py: the readings other tests reach through their callers, pinned on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from openpoint.errors import BadRequest
from rules.instants import as_utc, aware_utc, checked_instant, parse_instant, read_bounded, read_iso

PLUS_2 = timezone(timedelta(hours=2))


def test_read_iso_keeps_the_offset_and_reads_none_as_utc() -> None:
    assert read_iso("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 10, tzinfo=PLUS_2)
    assert read_iso("2026-03-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert read_iso("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert read_iso("2026-03-01T10:00:00").tzinfo == UTC
    with pytest.raises(ValueError):
        read_iso("yesterday")


def test_read_bounded_refuses_what_the_bounds_refuse() -> None:
    assert read_bounded("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert read_bounded("1969-12-31T23:59:59Z") is None
    assert read_bounded("not a time") is None


def test_parse_instant_takes_only_text_in_the_strict_grammar() -> None:
    assert parse_instant("2026-03-01T10:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_instant(None) is None
    assert parse_instant(20260301) is None
    assert parse_instant("2026-03-01T10:00:00+02:00\n") is None


def test_as_utc_and_aware_utc() -> None:
    assert as_utc("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert as_utc("2026-03-01T10:00:00+02:00").tzinfo == UTC
    assert as_utc(datetime(2026, 3, 1, 10)) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert aware_utc(datetime(2026, 3, 1, 10, tzinfo=PLUS_2), "now").tzinfo == UTC
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        aware_utc(datetime(2026, 3, 1, 10), "now")


def test_checked_instant_names_the_member() -> None:
    assert checked_instant("2026-03-01T10:00:00Z", "X.StartTime") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(BadRequest, match=r"^Invalid value for X.StartTime: 'soon' is not an ISO-8601 date and time\.$"):
        checked_instant("soon", "X.StartTime")
    with pytest.raises(BadRequest, match="is not IMMEDIATE or an ISO-8601"):
        checked_instant("soon", "X.StartTime", expected="IMMEDIATE or an ISO-8601 date and time")
    with pytest.raises(BadRequest, match="'9999-12-31T00:00:00Z' must lie between"):
        checked_instant("9999-12-31T00:00:00Z", "X.EndTime")
