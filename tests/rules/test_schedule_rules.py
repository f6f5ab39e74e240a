"""Campaign run times: offsets, recurrences in local wall clock, DST, month ends, local-time waves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.schedules import (
    local_run_instant,
    next_run,
    parse_timezone,
    reach,
    resolve_start,
    run_times,
    run_wall_clock,
    timezone_waves,
    wall_instants,
    within_schedule,
)

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def schedule(start: str, frequency: str = "ONCE", **extra: Any) -> dict[str, Any]:
    return {"StartTime": start, "Frequency": frequency, **extra}


def local_times(runs: list[datetime], tz: ZoneInfo) -> list[str]:
    return [r.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for r in runs]


class TestParseTimezone:
    @pytest.mark.parametrize(
        ("label", "hours"),
        [
            ("UTC", 0),
            ("UTC+01", 1),
            ("UTC-11", -11),
            ("UTC+13", 13),
            ("UTC+05:30", 5.5),
            ("UTC+05:45", 5.75),
            ("UTC+08:45", 8.75),
            ("UTC+09:30", 9.5),
            ("UTC+12:45", 12.75),
            ("UTC+13:45", 13.75),
            ("UTC-02:30", -2.5),
            ("UTC-03:30", -3.5),
            ("UTC-09:30", -9.5),
        ],
    )
    def test_offset_labels_are_fixed_offsets(self, label: str, hours: float) -> None:
        tz = parse_timezone(label)
        for moment in (datetime(2026, 1, 15), datetime(2026, 7, 15)):
            assert tz.utcoffset(moment) == timedelta(hours=hours)

    def test_iana_names_follow_daylight_saving(self) -> None:
        tz = parse_timezone("America/New_York")
        assert tz.utcoffset(datetime(2026, 1, 15)) == timedelta(hours=-5)
        assert tz.utcoffset(datetime(2026, 7, 15)) == timedelta(hours=-4)

    @pytest.mark.parametrize(
        "label",
        [
            "",
            "utc",
            "UTC+1",
            "UTC+5:30",
            "UTC+15",
            "UTC+05:20",
            "UTC+05:60",
            "GMT+01",
            "Mars/Olympus",
            "../etc/passwd",
            "/usr/share/zoneinfo/UTC",
            "zone.tab",
            "America",
        ],
    )
    def test_anything_else_is_refused(self, label: str) -> None:
        with pytest.raises(ValueError):
            parse_timezone(label)


class TestOnce:
    def test_one_run_at_start_time(self) -> None:
        s = schedule("2026-05-01T10:00:00Z")
        assert run_times(s, after=LONG_AGO, limit=5) == [utc(2026, 5, 1, 10)]
        assert next_run(s, after=utc(2026, 5, 1, 10)) is None  # strictly after

    def test_an_offset_start_time_names_its_instant(self) -> None:
        s = schedule("2026-05-01T10:00:00+05:30", Timezone="UTC-08")
        assert next_run(s, after=LONG_AGO) == utc(2026, 5, 1, 4, 30)

    def test_immediate_resolves_to_the_creation_instant(self) -> None:
        created = datetime(2026, 5, 1, 12, 0, 5, tzinfo=timezone(timedelta(hours=2)))
        s = resolve_start(schedule("IMMEDIATE"), created=created)
        assert next_run(s, after=LONG_AGO) == utc(2026, 5, 1, 10, 0, 5)
        with pytest.raises(ValueError, match="resolve_start"):
            run_times(schedule("IMMEDIATE"), after=LONG_AGO, limit=1)

    def test_a_resolved_schedule_is_left_alone(self) -> None:
        s = schedule("2026-05-01T10:00:00Z")
        assert resolve_start(s, created=utc(2020, 1, 1)) is s

    def test_after_must_be_aware(self) -> None:
        with pytest.raises(ValueError):
            run_times(schedule("2026-05-01T10:00:00Z"), after=datetime(2026, 1, 1), limit=1)


class TestRecurring:
    def test_hourly_runs_until_end_time_exclusive(self) -> None:
        s = schedule("2026-05-01T10:00:00Z", "HOURLY", EndTime="2026-05-01T13:00:00Z")
        assert run_times(s, after=LONG_AGO, limit=10) == [utc(2026, 5, 1, 10), utc(2026, 5, 1, 11), utc(2026, 5, 1, 12)]

    def test_weekly_keeps_the_weekday(self) -> None:
        s = schedule("2026-05-04T08:00:00Z", "WEEKLY")  # a Monday
        runs = run_times(s, after=LONG_AGO, limit=4)
        assert [r.strftime("%a %d") for r in runs] == ["Mon 04", "Mon 11", "Mon 18", "Mon 25"]

    def test_runs_strictly_after_a_point_far_into_the_schedule(self) -> None:
        s = schedule("2020-01-01T00:30:00Z", "HOURLY")
        assert run_times(s, after=utc(2026, 1, 1, 0, 30), limit=2) == [utc(2026, 1, 1, 1, 30), utc(2026, 1, 1, 2, 30)]
        daily = schedule("2000-02-29T23:00:00Z", "DAILY")
        assert next_run(daily, after=utc(2026, 6, 1, 22)) == utc(2026, 6, 1, 23)

    def test_the_schedule_ends_before_year_10000(self) -> None:
        s = schedule("9999-10-31T00:00:00Z", "MONTHLY")
        assert len(run_times(s, after=LONG_AGO, limit=10)) == 3

    def test_event_schedules_have_no_runs_but_a_window(self) -> None:
        s = schedule("2026-05-01T10:00:00Z", "EVENT", EndTime="2026-06-01T00:00:00Z")
        assert run_times(s, after=LONG_AGO, limit=3) == []
        assert not within_schedule(s, utc(2026, 5, 1, 9, 59))
        assert within_schedule(s, utc(2026, 5, 1, 10))
        assert not within_schedule(s, utc(2026, 6, 1))
        assert within_schedule(schedule("2026-05-01T10:00:00Z", "EVENT"), utc(2030, 1, 1))


class TestDaylightSaving:
    def test_daily_keeps_nine_local_across_march_in_new_york(self) -> None:
        s = schedule("2026-03-06T14:00:00Z", "DAILY", Timezone="America/New_York")
        runs = run_times(s, after=LONG_AGO, limit=4)
        assert local_times(runs, NEW_YORK) == [
            "2026-03-06 09:00 EST",
            "2026-03-07 09:00 EST",
            "2026-03-08 09:00 EDT",
            "2026-03-09 09:00 EDT",
        ]
        assert runs[2] - runs[1] == timedelta(hours=23)

    def test_daily_keeps_nine_local_across_november_in_new_york(self) -> None:
        s = schedule("2026-10-31T13:00:00Z", "DAILY", Timezone="America/New_York")
        runs = run_times(s, after=LONG_AGO, limit=3)
        assert local_times(runs, NEW_YORK) == ["2026-10-31 09:00 EDT", "2026-11-01 09:00 EST", "2026-11-02 09:00 EST"]
        assert runs[1] - runs[0] == timedelta(hours=25)

    def test_daily_in_paris_across_both_changes(self) -> None:
        s = schedule("2026-03-28T07:30:00Z", "DAILY", Timezone="Europe/Paris")
        assert local_times(run_times(s, after=LONG_AGO, limit=2), PARIS) == [
            "2026-03-28 08:30 CET",
            "2026-03-29 08:30 CEST",
        ]
        autumn = schedule("2026-10-24T06:30:00Z", "DAILY", Timezone="Europe/Paris")
        assert local_times(run_times(autumn, after=LONG_AGO, limit=2), PARIS) == [
            "2026-10-24 08:30 CEST",
            "2026-10-25 08:30 CET",
        ]

    def test_a_run_in_the_skipped_hour_runs_when_the_clock_jumps(self) -> None:
        s = schedule("2026-03-07T07:30:00Z", "DAILY", Timezone="America/New_York")  # 02:30 EST
        runs = run_times(s, after=LONG_AGO, limit=3)
        assert local_times(runs, NEW_YORK) == ["2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]

    def test_a_run_in_the_repeated_hour_runs_the_first_time(self) -> None:
        s = schedule("2026-10-31T05:30:00Z", "DAILY", Timezone="America/New_York")  # 01:30 EDT
        runs = run_times(s, after=LONG_AGO, limit=3)
        assert local_times(runs, NEW_YORK) == ["2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]

    def test_hourly_counts_elapsed_hours_across_the_change(self) -> None:
        s = schedule("2026-11-01T04:00:00Z", "HOURLY", Timezone="America/New_York")  # 00:00 EDT
        runs = run_times(s, after=LONG_AGO, limit=4)
        assert local_times(runs, NEW_YORK) == [
            "2026-11-01 00:00 EDT",
            "2026-11-01 01:00 EDT",
            "2026-11-01 01:00 EST",
            "2026-11-01 02:00 EST",
        ]

    def test_fixed_offset_labels_have_no_daylight_saving(self) -> None:
        s = schedule("2026-03-06T14:00:00Z", "DAILY", Timezone="UTC-05")
        runs = run_times(s, after=LONG_AGO, limit=4)
        assert {r.hour for r in runs} == {14}


class TestMonthEnds:
    def test_the_31st_falls_on_the_last_day_and_returns(self) -> None:
        s = schedule("2026-01-31T09:00:00Z", "MONTHLY")
        days = [r.date().isoformat() for r in run_times(s, after=LONG_AGO, limit=5)]
        assert days == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]

    def test_leap_years_get_the_29th(self) -> None:
        s = schedule("2028-01-31T09:00:00Z", "MONTHLY")
        assert [r.day for r in run_times(s, after=LONG_AGO, limit=3)] == [31, 29, 31]

    def test_a_start_on_the_29th_of_february_keeps_the_29th(self) -> None:
        s = schedule("2028-02-29T09:00:00Z", "MONTHLY", EndTime="2029-03-01T00:00:00Z")
        runs = run_times(s, after=LONG_AGO, limit=20)
        assert len(runs) == 13 and runs[-1] == utc(2029, 2, 28, 9) and runs[1] == utc(2028, 3, 29, 9)

    def test_month_ends_are_local_dates(self) -> None:
        # 31 Jan 23:00 in New York is already 1 Feb in UTC; the month end is New York's.
        s = schedule("2026-02-01T04:00:00Z", "MONTHLY", Timezone="America/New_York")
        runs = run_times(s, after=LONG_AGO, limit=3)
        assert local_times(runs, NEW_YORK) == ["2026-01-31 23:00 EST", "2026-02-28 23:00 EST", "2026-03-31 23:00 EDT"]

    def test_half_hour_offsets(self) -> None:
        s = schedule("2026-01-31T03:30:00Z", "MONTHLY", Timezone="UTC+05:30")  # 09:00 local
        runs = run_times(s, after=LONG_AGO, limit=2)
        assert runs == [utc(2026, 1, 31, 3, 30), utc(2026, 2, 28, 3, 30)]
        assert run_wall_clock(s, runs[1]) == datetime(2026, 2, 28, 9, 0)


class TestLocalTime:
    def test_the_run_reaches_each_zone_at_its_own_wall_clock(self) -> None:
        run = datetime(2026, 6, 1, 9, 0)
        assert local_run_instant(run, "Asia/Kolkata") == utc(2026, 6, 1, 3, 30)
        assert local_run_instant(run, "Asia/Kathmandu") == utc(2026, 6, 1, 3, 15)
        assert local_run_instant(run, "America/New_York") == utc(2026, 6, 1, 13)

    @pytest.mark.parametrize("zone", [None, "", "Mars/Olympus", "UTC+01", "../../etc/passwd", "x" * 200])
    def test_endpoints_without_a_valid_zone_are_not_reached(self, zone: str | None) -> None:
        assert local_run_instant(datetime(2026, 6, 1, 9), zone) is None

    def test_gaps_and_folds(self) -> None:
        assert local_run_instant(datetime(2026, 3, 8, 2, 30), "America/New_York") == utc(2026, 3, 8, 7)
        assert local_run_instant(datetime(2026, 11, 1, 1, 30), "America/New_York") == utc(2026, 11, 1, 5, 30)
        assert local_run_instant(datetime(2026, 3, 29, 2, 15), "Europe/Paris") == utc(2026, 3, 29, 1)

    def test_waves_roll_east_to_west(self) -> None:
        zones = ["America/New_York", "Europe/Paris", "Asia/Kolkata", "Europe/Berlin", "Nowhere", "Europe/Paris"]
        assert timezone_waves(datetime(2026, 6, 1, 9), zones) == [
            (utc(2026, 6, 1, 3, 30), ["Asia/Kolkata"]),
            (utc(2026, 6, 1, 7), ["Europe/Berlin", "Europe/Paris"]),
            (utc(2026, 6, 1, 13), ["America/New_York"]),
        ]

    def test_the_wall_clock_must_be_naive(self) -> None:
        with pytest.raises(ValueError):
            local_run_instant(utc(2026, 6, 1, 9), "Europe/Paris")


ZONES = [NEW_YORK, PARIS, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/Santiago"), ZoneInfo("Asia/Kolkata")]
walls = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1))


@settings(max_examples=100, deadline=None)
@given(wall=walls, tz=st.sampled_from(ZONES))
def test_reach_is_the_first_instant_the_clock_reads_the_wall_or_later(wall: datetime, tz: ZoneInfo) -> None:
    instant = reach(wall, tz)
    assert instant.astimezone(tz).replace(tzinfo=None) >= wall
    assert (instant - timedelta(microseconds=1)).astimezone(tz).replace(tzinfo=None) < wall
    for found in wall_instants(wall, tz):
        assert found.astimezone(tz).replace(tzinfo=None) == wall


frequencies = st.sampled_from(["HOURLY", "DAILY", "WEEKLY", "MONTHLY"])
labels = st.sampled_from(["UTC", "UTC+05:45", "UTC-09:30", "America/New_York", "Europe/Paris", "Australia/Lord_Howe"])


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    frequency=frequencies,
    label=labels,
    skip=st.integers(min_value=0, max_value=40),
)
def test_runs_after_any_point_are_the_tail_of_the_full_list(
    start: datetime, frequency: str, label: str, skip: int
) -> None:
    s = schedule(start.isoformat(), frequency, Timezone=label)
    runs = run_times(s, after=start - timedelta(seconds=1), limit=50)
    assert runs[0] == start and runs == sorted(set(runs))
    after = runs[skip] + timedelta(seconds=1) if skip % 2 else runs[skip]
    assert run_times(s, after=after, limit=50 - skip - 1) == runs[skip + 1 :]
    if frequency != "HOURLY":  # the wall clock holds, except on days the clock jumps over it
        wall, tz = run_wall_clock(s, start).time(), parse_timezone(label)
        for run in runs:
            local = run.astimezone(tz)
            assert local.time() == wall or not wall_instants(datetime.combine(local.date(), wall), tz)
