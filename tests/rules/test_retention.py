"""Event partitions are named by the day they were received and expire whole."""

from __future__ import annotations

from datetime import date

from rules.retention import expired, partition_name, received_until


def test_a_day_partition_holds_one_received_day() -> None:
    assert partition_name(date(2026, 9, 1)) == "events_r_20260901"
    assert received_until("events_r_20260901") == date(2026, 9, 2)


def test_the_carried_over_partition_ends_at_its_day() -> None:
    assert received_until("events_r_before_20261206") == date(2026, 12, 6)


def test_names_of_other_schemes_are_left_alone() -> None:
    for name in ("events_20260901", "events_r_2026091", "events_r_20261341", "other"):
        assert received_until(name) is None
    assert expired(["events_20200101", "other"], date(2026, 12, 6)) == []


def test_partitions_expire_once_every_row_is_older_than_the_retention() -> None:
    today = date(2026, 12, 6)  # cutoff 2026-09-07
    names = [
        "events_r_20260905",  # ends 09-06: expired
        "events_r_20260906",  # ends 09-07: expired (every row received > 90 days ago)
        "events_r_20260907",  # ends 09-08: kept
        "events_r_20261206",
        "events_r_before_20260907",  # ends 09-07: expired
        "events_r_before_20260908",  # kept
    ]
    assert expired(names, today) == ["events_r_20260905", "events_r_20260906", "events_r_before_20260907"]


def test_retention_is_a_parameter() -> None:
    assert expired(["events_r_20261204"], date(2026, 12, 6), keep_days=1) == ["events_r_20261204"]
    assert expired(["events_r_20261205"], date(2026, 12, 6), keep_days=1) == []
