"""Journey timing: quiet time, open hours and closed days in the participant's zone (DST included),
waits, LocalTime windows and the stable random choice behind RandomSplit and Holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.journey_timing import (
    CLOSED_DAY,
    OUTSIDE_OPEN_HOURS,
    QUIET_TIME,
    WEEKDAYS,
    choose,
    local_window,
    next_send_time,
    parse_duration,
    sending_blocked,
    wait_deadline,
)

NY = "America/New_York"
NIGHT = {"Start": "22:00", "End": "07:00"}
# Two windows on Mondays and one on Wednesdays; every other day is closed.
OFFICE = {
    "MONDAY": [{"StartTime": "09:00", "EndTime": "11:00"}, {"StartTime": "14:00", "EndTime": "16:00"}],
    "WEDNESDAY": [{"StartTime": "10:00", "EndTime": "12:00"}],
}


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """An instant given as a wall clock in `zone` (`fold=1`: the second time a set-back clock reads it)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def send_time(now: datetime, zone: str | None = NY, **rules: Any) -> datetime | None:
    return next_send_time(
        now,
        zone,
        quiet=rules.get("quiet"),
        open_hours=rules.get("open_hours"),
        closed_days=rules.get("closed_days"),
    )


def blocked(now: datetime, zone: str | None = NY, **rules: Any) -> str | None:
    return sending_blocked(
        now,
        zone,
        quiet=rules.get("quiet"),
        open_hours=rules.get("open_hours"),
        closed_days=rules.get("closed_days"),
    )


def closed(start: str, end: str) -> dict[str, str]:
    return {"Name": "holiday", "StartDateTime": start, "EndDateTime": end}


class TestQuietTime:
    @pytest.mark.parametrize(("hour", "minute"), [(22, 0), (23, 30), (0, 0), (3, 15), (7, 0)])
    def test_a_step_arriving_in_a_window_that_wraps_midnight_sends_when_it_ends(self, hour: int, minute: int) -> None:
        day = 2 if hour >= 22 else 3  # the night of June 2-3, 2026
        assert send_time(at(NY, 2026, 6, day, hour, minute), quiet=NIGHT) == at(NY, 2026, 6, 3, 7, 1)
        assert blocked(at(NY, 2026, 6, day, hour, minute), quiet=NIGHT) == QUIET_TIME

    @pytest.mark.parametrize(("hour", "minute"), [(7, 1), (12, 0), (21, 59)])
    def test_a_step_outside_the_window_sends_now(self, hour: int, minute: int) -> None:
        assert send_time(at(NY, 2026, 6, 2, hour, minute), quiet=NIGHT) is None
        assert blocked(at(NY, 2026, 6, 2, hour, minute), quiet=NIGHT) is None

    def test_the_window_is_in_the_participants_own_zone(self) -> None:
        moment = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)  # 23:00 in New York, 08:30 in Kolkata
        assert send_time(moment, NY, quiet=NIGHT) == at(NY, 2026, 6, 2, 7, 1)
        assert send_time(moment, "Asia/Kolkata", quiet=NIGHT) is None

    def test_a_window_whose_end_the_clock_jumps_over_ends_at_the_jump(self) -> None:
        # New York springs forward on March 8, 2026: 02:00 EST becomes 03:00 EDT.
        quiet = {"Start": "01:00", "End": "02:15"}
        assert send_time(at(NY, 2026, 3, 8, 1, 30), quiet=quiet) == at(NY, 2026, 3, 8, 3, 0)

    def test_after_the_clock_is_set_back_the_window_ends_at_the_second_end(self) -> None:
        # November 1, 2026: 02:00 EDT becomes 01:00 EST, so 01:00-01:59 happens twice.
        quiet = {"Start": "00:30", "End": "01:30"}
        assert send_time(at(NY, 2026, 11, 1, 1, 15), quiet=quiet) == at(NY, 2026, 11, 1, 1, 31)
        assert send_time(at(NY, 2026, 11, 1, 1, 15, fold=1), quiet=quiet) == at(NY, 2026, 11, 1, 1, 31, fold=1)
        # Between the two passes (01:45 EDT) the step sends; at 01:00 EST it is quiet again.
        assert send_time(at(NY, 2026, 11, 1, 1, 45), quiet=quiet) is None
        assert blocked(at(NY, 2026, 11, 1, 1, 0, fold=1), quiet=quiet) == QUIET_TIME

    def test_a_window_that_never_ends_leaves_no_time(self) -> None:
        with pytest.raises(ValueError, match="no time to send"):
            send_time(at(NY, 2026, 6, 2, 12), quiet={"Start": "00:00", "End": "23:59"})


class TestOpenHours:
    def test_between_two_windows_of_a_day_the_step_waits_for_the_second(self) -> None:
        assert send_time(at(NY, 2026, 6, 1, 12, 0), open_hours=OFFICE) == at(NY, 2026, 6, 1, 14, 0)
        assert blocked(at(NY, 2026, 6, 1, 12, 0), open_hours=OFFICE) == OUTSIDE_OPEN_HOURS

    def test_the_end_minute_is_open(self) -> None:
        assert send_time(at(NY, 2026, 6, 1, 16, 0), open_hours=OFFICE) is None
        assert send_time(at(NY, 2026, 6, 1, 16, 1), open_hours=OFFICE) == at(NY, 2026, 6, 3, 10, 0)

    def test_days_missing_from_the_map_are_closed(self) -> None:
        # Wednesday 12:01 → the next window is Monday 09:00.
        assert send_time(at(NY, 2026, 6, 3, 12, 1), open_hours=OFFICE) == at(NY, 2026, 6, 8, 9, 0)
        assert send_time(at(NY, 2026, 6, 6, 10, 0), open_hours=OFFICE) == at(NY, 2026, 6, 8, 9, 0)

    @pytest.mark.parametrize("open_hours", [None, {}])
    def test_no_open_hours_means_always_open(self, open_hours: dict[str, Any] | None) -> None:
        assert send_time(at(NY, 2026, 6, 6, 3, 0), open_hours=open_hours) is None

    def test_a_window_that_wraps_midnight_runs_into_the_next_day(self) -> None:
        late = {"FRIDAY": [{"StartTime": "22:00", "EndTime": "02:00"}]}
        assert send_time(at(NY, 2026, 6, 6, 1, 30), open_hours=late) is None  # Saturday 01:30
        assert send_time(at(NY, 2026, 6, 5, 1, 30), open_hours=late) == at(NY, 2026, 6, 5, 22, 0)  # Friday 01:30
        assert send_time(at(NY, 2026, 6, 6, 2, 1), open_hours=late) == at(NY, 2026, 6, 12, 22, 0)

    def test_open_hours_and_quiet_time_together(self) -> None:
        early = {"MONDAY": [{"StartTime": "06:00", "EndTime": "10:00"}]}
        # Open from 06:00 but quiet through 07:00; quiet time is the reason given.
        assert send_time(at(NY, 2026, 6, 1, 6, 30), quiet=NIGHT, open_hours=early) == at(NY, 2026, 6, 1, 7, 1)
        assert blocked(at(NY, 2026, 6, 1, 6, 30), quiet=NIGHT, open_hours=early) == QUIET_TIME
        # Quiet time over at 07:01, the office still closed until 09:00.
        assert send_time(at(NY, 2026, 6, 1, 6, 30), quiet=NIGHT, open_hours=OFFICE) == at(NY, 2026, 6, 1, 9, 0)

    def test_a_window_starting_in_a_spring_forward_gap_opens_at_the_jump(self) -> None:
        sunday = {"SUNDAY": [{"StartTime": "02:30", "EndTime": "03:30"}]}
        assert send_time(at(NY, 2026, 3, 8, 1, 0), open_hours=sunday) == at(NY, 2026, 3, 8, 3, 0)

    def test_a_window_the_gap_swallows_whole_waits_a_week(self) -> None:
        sunday = {"SUNDAY": [{"StartTime": "02:00", "EndTime": "02:30"}]}
        assert send_time(at(NY, 2026, 3, 8, 1, 0), open_hours=sunday) == at(NY, 2026, 3, 15, 2, 0)

    def test_a_clock_set_back_into_a_window_reopens_it(self) -> None:
        sunday = {"SUNDAY": [{"StartTime": "00:30", "EndTime": "01:30"}]}
        # 01:45 EDT is past the window, but at what would be 02:00 EDT the clock reads 01:00 EST.
        assert send_time(at(NY, 2026, 11, 1, 1, 45), open_hours=sunday) == at(NY, 2026, 11, 1, 1, 0, fold=1)

    def test_open_hours_inside_quiet_time_leave_no_time(self) -> None:
        never = {day: [{"StartTime": "23:00", "EndTime": "23:30"}] for day in WEEKDAYS}
        with pytest.raises(ValueError, match="no time to send"):
            send_time(at(NY, 2026, 6, 1, 12, 0), quiet=NIGHT, open_hours=never)

    def test_a_map_with_no_window_on_any_day_leaves_no_time(self) -> None:
        assert blocked(at(NY, 2026, 6, 1, 12, 0), open_hours={"MONDAY": []}) == OUTSIDE_OPEN_HOURS
        with pytest.raises(ValueError):
            send_time(at(NY, 2026, 6, 1, 12, 0), open_hours={"MONDAY": []})


class TestClosedDays:
    def test_a_closed_day_spanning_the_next_window_moves_to_the_window_after(self) -> None:
        # Monday 16:01: the next window (Wednesday 10:00) falls in the closure, which ends on
        # Tuesday the 9th; the next window after that is Wednesday the 10th.
        holiday = [closed("2026-06-03T00:00:00-04:00", "2026-06-09T00:00:00-04:00")]
        assert send_time(at(NY, 2026, 6, 1, 16, 1), open_hours=OFFICE, closed_days=holiday) == at(NY, 2026, 6, 10, 10)

    def test_the_end_is_exclusive(self) -> None:
        holiday = [closed("2026-06-03T00:00:00Z", "2026-06-04T00:00:00Z")]
        assert send_time(datetime(2026, 6, 3, 12, tzinfo=UTC), closed_days=holiday) == datetime(2026, 6, 4, tzinfo=UTC)
        assert blocked(datetime(2026, 6, 3, 12, tzinfo=UTC), closed_days=holiday) == CLOSED_DAY
        assert send_time(datetime(2026, 6, 4, tzinfo=UTC), closed_days=holiday) is None

    def test_overlapping_closures_chain(self) -> None:
        days = [closed("2026-06-03T00:00:00", "2026-06-05T00:00:00"), closed("2026-06-04T12:00:00", "2026-06-06T00:00")]
        assert send_time(datetime(2026, 6, 3, tzinfo=UTC), closed_days=days) == datetime(2026, 6, 6, tzinfo=UTC)

    def test_a_closure_ending_in_quiet_time_sends_when_quiet_time_ends(self) -> None:
        holiday = [closed("2026-06-03T00:00:00-04:00", "2026-06-04T00:00:00-04:00")]
        now = at(NY, 2026, 6, 3, 12)
        assert send_time(now, quiet=NIGHT, closed_days=holiday) == at(NY, 2026, 6, 4, 7, 1)

    def test_closures_past_a_year_are_searched_beyond(self) -> None:
        long = [closed("2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z")]
        assert send_time(datetime(2026, 1, 2, tzinfo=UTC), closed_days=long) == datetime(2026, 12, 1, tzinfo=UTC)
        longer = [closed("2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z")]
        with pytest.raises(ValueError):
            send_time(datetime(2026, 1, 2, tzinfo=UTC), closed_days=longer)


class TestWithoutAZone:
    @pytest.mark.parametrize("zone", [None, "", "Mars/Olympus_Mons", "UTC+09"])
    def test_quiet_time_and_open_hours_do_not_apply(self, zone: str | None) -> None:
        now = datetime(2026, 6, 6, 3, tzinfo=UTC)
        assert send_time(now, zone, quiet={"Start": "00:00", "End": "23:59"}, open_hours=OFFICE) is None
        assert blocked(now, zone, quiet={"Start": "00:00", "End": "23:59"}, open_hours=OFFICE) is None

    def test_closed_days_still_do(self) -> None:
        holiday = [closed("2026-06-06T00:00:00Z", "2026-06-07T00:00:00Z")]
        now = datetime(2026, 6, 6, 3, tzinfo=UTC)
        assert send_time(now, None, quiet=NIGHT, closed_days=holiday) == datetime(2026, 6, 7, tzinfo=UTC)

    def test_now_must_be_aware(self) -> None:
        with pytest.raises(ValueError):
            send_time(datetime(2026, 6, 6, 3), quiet=NIGHT)


_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns"]
_HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 59]))
_WINDOW = st.fixed_dictionaries({"StartTime": _HHMM, "EndTime": _HHMM})


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(_ZONES),
    now=st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    quiet=st.none() | st.fixed_dictionaries({"Start": _HHMM, "End": _HHMM}),
    open_hours=st.none() | st.dictionaries(st.sampled_from(WEEKDAYS), st.lists(_WINDOW, max_size=2), max_size=7),
    closed_hours=st.lists(st.tuples(st.integers(-48, 24 * 20), st.integers(1, 24 * 10)), max_size=2),
    probe=st.floats(0, 1, exclude_max=True),
)
def test_the_send_time_is_the_first_instant_nothing_blocks(
    zone: str,
    now: datetime,
    quiet: dict[str, str] | None,
    open_hours: dict[str, Any] | None,
    closed_hours: list[tuple[int, int]],
    probe: float,
) -> None:
    days = [
        closed((now + timedelta(hours=s)).isoformat(), (now + timedelta(hours=s + n)).isoformat())
        for s, n in closed_hours
    ]
    rules = {"quiet": quiet, "open_hours": open_hours, "closed_days": days}
    try:
        sent = send_time(now, zone, **rules)
    except ValueError:
        return  # the rules leave no time; covered by the examples above
    if sent is None:
        assert blocked(now, zone, **rules) is None
        return
    assert sent > now and blocked(sent, zone, **rules) is None
    assert blocked(sent - timedelta(microseconds=1), zone, **rules) is not None
    point = now + (sent - now) * probe  # anywhere before it, something blocks
    assert point >= sent or blocked(point, zone, **rules) is not None


class TestParseDuration:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("PT1H", timedelta(hours=1)),
            ("P3D", timedelta(days=3)),
            ("P2W", timedelta(weeks=2)),
            ("P1DT12H30M", timedelta(days=1, hours=12, minutes=30)),
            ("PT0.5S", timedelta(milliseconds=500)),
            ("PT1,25S", timedelta(seconds=1.25)),
            ("PT90M", timedelta(minutes=90)),
            ("pt1h30m", timedelta(hours=1, minutes=30)),
            ("P1W2D", timedelta(days=9)),
        ],
    )
    def test_durations(self, value: str, expected: timedelta) -> None:
        assert parse_duration(value) == expected

    @pytest.mark.parametrize("value", ["P1M", "P1Y", "P1Y2M3D", "p6m"])
    def test_months_and_years_are_refused(self, value: str) -> None:
        with pytest.raises(ValueError, match="months and years"):
            parse_duration(value)

    @pytest.mark.parametrize("value", ["", "P", "PT", "1H", "P1H", "PT1.5H", "P1DT", "-P1D", "P99999999999D"])
    def test_malformed_durations_are_refused(self, value: str) -> None:
        with pytest.raises(ValueError):
            parse_duration(value)


class TestWaitDeadline:
    ARRIVED = datetime(2026, 3, 7, 12, tzinfo=UTC)

    def test_wait_for_is_elapsed_time(self) -> None:
        # Across New York's spring-forward night too: a day is 24 hours.
        assert wait_deadline({"WaitFor": "P1D"}, self.ARRIVED) == datetime(2026, 3, 8, 12, tzinfo=UTC)
        assert wait_deadline({"WaitFor": "PT1H"}, self.ARRIVED) == datetime(2026, 3, 7, 13, tzinfo=UTC)

    def test_wait_until_is_the_instant(self) -> None:
        until = {"WaitUntil": "2026-03-10T09:00:00+09:00"}
        assert wait_deadline(until, self.ARRIVED) == datetime(2026, 3, 10, 0, tzinfo=UTC)

    def test_a_wait_until_already_past_ends_on_arrival(self) -> None:
        assert wait_deadline({"WaitUntil": "2026-01-01T00:00:00Z"}, self.ARRIVED) == self.ARRIVED

    @pytest.mark.parametrize(
        "wait",
        [{}, {"WaitFor": "PT1H", "WaitUntil": "2026-03-10T00:00:00Z"}, {"WaitUntil": "soon"}, {"WaitFor": "P1M"}],
    )
    def test_a_wait_must_name_one_valid_end(self, wait: dict[str, str]) -> None:
        with pytest.raises(ValueError):
            wait_deadline(wait, self.ARRIVED)


class TestLocalWindow:
    SCHEDULE = {"StartTime": "2026-12-01T09:00:00+09:00", "EndTime": "2026-12-05T18:00:00+09:00", "Timezone": "UTC+09"}

    def test_the_same_wall_clock_reaches_each_zone_in_turn(self) -> None:
        tokyo = local_window(self.SCHEDULE, "Asia/Tokyo")
        new_york = local_window(self.SCHEDULE, "America/New_York")
        assert tokyo == (datetime(2026, 12, 1, 0, tzinfo=UTC), datetime(2026, 12, 5, 9, tzinfo=UTC))
        assert new_york == (at(NY, 2026, 12, 1, 9), at(NY, 2026, 12, 5, 18))
        assert new_york[0] is not None and new_york[0] - datetime(2026, 12, 1, 0, tzinfo=UTC) == timedelta(hours=14)

    def test_the_wall_clock_is_read_in_the_schedules_time_zone(self) -> None:
        # 00:00Z read in UTC+09 is 09:00, whatever offset the instant was written with.
        schedule = {**self.SCHEDULE, "StartTime": "2026-12-01T00:00:00Z"}
        assert local_window(schedule, "Europe/Paris")[0] == at("Europe/Paris", 2026, 12, 1, 9)

    def test_a_wall_clock_in_a_dst_gap_starts_at_the_jump(self) -> None:
        schedule = {"StartTime": "2026-03-08T02:30:00Z", "Timezone": "UTC"}
        assert local_window(schedule, NY) == (at(NY, 2026, 3, 8, 3, 0), None)

    @pytest.mark.parametrize("zone", [None, "Nowhere/Special"])
    def test_participants_without_a_zone_get_no_window(self, zone: str | None) -> None:
        assert local_window(self.SCHEDULE, zone) == (None, None)

    def test_missing_members(self) -> None:
        assert local_window({"Timezone": "UTC+09"}, "Asia/Tokyo") == (None, None)


class TestChoose:
    def test_the_same_seed_always_takes_the_same_branch(self) -> None:
        picks = {seed: choose(seed, [20, 30, 50]) for seed in (f"journey-1/endpoint-{n}/split" for n in range(200))}
        assert all(choose(seed, [20, 30, 50]) == branch for seed, branch in picks.items())
        assert set(picks.values()) == {0, 1, 2}

    @pytest.mark.parametrize("percentages", [[50, 50], [10, 20, 70], [5, 15, 25, 25, 30], [1, 99]])
    def test_shares_follow_the_percentages(self, percentages: list[int]) -> None:
        counts = [0] * len(percentages)
        for n in range(10_000):
            counts[choose(f"endpoint-{n}", percentages)] += 1
        for count, percentage in zip(counts, percentages, strict=True):
            assert abs(count / 100 - percentage) <= 3

    def test_a_zero_percent_branch_is_never_taken(self) -> None:
        assert {choose(str(n), [0, 100]) for n in range(1000)} == {1}
        assert {choose(str(n), [100, 0]) for n in range(1000)} == {0}

    @pytest.mark.parametrize("percentages", [[], [50, 40], [60, 50], [-10, 110]])
    def test_percentages_must_add_up_to_100(self, percentages: list[int]) -> None:
        with pytest.raises(ValueError):
            choose("seed", percentages)
