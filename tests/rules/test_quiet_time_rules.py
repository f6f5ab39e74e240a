"""Quiet time in the endpoint's own zone: windows, midnight wraps, DST, endpoints without a zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpoint.errors import BadRequest
from rules.quiet_time import check_quiet_time, in_quiet_time, parse_hhmm, quiet_end

NIGHT = {"Start": "22:00", "End": "07:00"}
LUNCH = {"Start": "12:00", "End": "13:30"}
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """An instant given as a wall clock in `zone` (first occurrence)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


class TestInQuietTime:
    @pytest.mark.parametrize(
        ("hour", "minute", "quiet"),
        [(21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (6, 59, True), (7, 0, True), (7, 1, False)],
    )
    def test_a_window_wraps_past_midnight_and_includes_both_ends(self, hour: int, minute: int, quiet: bool) -> None:
        assert in_quiet_time(NIGHT, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, hour, minute)) is quiet

    def test_the_end_minute_is_quiet_to_its_last_second(self) -> None:
        assert in_quiet_time(NIGHT, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 7, 0, 59))

    @pytest.mark.parametrize(
        ("hour", "minute", "quiet"), [(11, 59, False), (12, 0, True), (13, 30, True), (13, 31, False)]
    )
    def test_a_daytime_window(self, hour: int, minute: int, quiet: bool) -> None:
        assert in_quiet_time(LUNCH, "Asia/Kolkata", at("Asia/Kolkata", 2026, 6, 1, hour, minute)) is quiet

    def test_it_is_the_endpoints_local_time_that_counts(self) -> None:
        moment = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # 05:00 in Paris, 23:00 in New York, 08:30 in Kolkata
        assert in_quiet_time(NIGHT, "Europe/Paris", moment)
        assert in_quiet_time(NIGHT, "America/New_York", moment)
        assert not in_quiet_time(NIGHT, "Asia/Kolkata", moment)

    @pytest.mark.parametrize("zone", [None, "", "Nowhere/Special", "UTC+01", "../../etc/passwd"])
    def test_endpoints_without_a_valid_zone_get_messages(self, zone: str | None) -> None:
        assert not in_quiet_time({"Start": "00:00", "End": "23:59"}, zone, datetime(2026, 6, 1, tzinfo=UTC))
        assert quiet_end({"Start": "00:00", "End": "23:59"}, zone, datetime(2026, 6, 1, tzinfo=UTC)) is None

    @pytest.mark.parametrize("quiet", [None, {}, {"Start": "", "End": "07:00"}, {"Start": "22:00"}, {"End": "x"}])
    def test_no_window_means_no_quiet_time(self, quiet: dict[str, str] | None) -> None:
        assert not in_quiet_time(quiet, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 23, 0))

    def test_the_window_keeps_its_wall_clock_hours_across_dst(self) -> None:
        # 02:30 UTC is 21:30 EST in winter (not quiet) and 22:30 EDT in summer (quiet).
        assert not in_quiet_time(NIGHT, "America/New_York", datetime(2026, 1, 15, 2, 30, tzinfo=UTC))
        assert in_quiet_time(NIGHT, "America/New_York", datetime(2026, 7, 15, 2, 30, tzinfo=UTC))

    def test_a_start_equal_to_the_end_is_one_minute(self) -> None:
        quiet = {"Start": "03:00", "End": "03:00"}
        assert in_quiet_time(quiet, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 3, 0, 30))
        assert not in_quiet_time(quiet, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 3, 1))

    def test_at_must_be_aware(self) -> None:
        with pytest.raises(ValueError):
            in_quiet_time(NIGHT, "Europe/Paris", datetime(2026, 6, 1))


class TestQuietEnd:
    def test_evening_part_of_a_wrapping_window_ends_next_morning(self) -> None:
        end = quiet_end(NIGHT, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 23, 15))
        assert end == at("Europe/Paris", 2026, 6, 2, 7, 1)

    def test_morning_part_ends_the_same_morning(self) -> None:
        assert quiet_end(NIGHT, "Europe/Paris", at("Europe/Paris", 2026, 6, 2, 5, 0)) == at(
            "Europe/Paris", 2026, 6, 2, 7, 1
        )

    def test_not_in_quiet_time_means_no_end(self) -> None:
        assert quiet_end(NIGHT, "Europe/Paris", at("Europe/Paris", 2026, 6, 2, 12, 0)) is None

    def test_a_night_shortened_by_spring_forward(self) -> None:
        end = quiet_end(NIGHT, "America/New_York", at("America/New_York", 2026, 3, 7, 23, 0))
        assert end == at("America/New_York", 2026, 3, 8, 7, 1)
        assert end is not None and end - at("America/New_York", 2026, 3, 7, 23, 0) == timedelta(hours=7, minutes=1)

    def test_an_end_the_clock_jumps_over_ends_at_the_jump(self) -> None:
        quiet = {"Start": "01:00", "End": "02:15"}
        end = quiet_end(quiet, "America/New_York", at("America/New_York", 2026, 3, 8, 1, 30))
        assert end == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the first minute after 01:59 EST
        assert end.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"

    def test_in_the_repeated_hour_the_window_ends_on_the_second_pass(self) -> None:
        quiet = {"Start": "00:30", "End": "01:20"}
        first_pass = datetime(2026, 11, 1, 5, 10, tzinfo=UTC)  # 01:10 EDT
        second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST
        assert quiet_end(quiet, "America/New_York", first_pass) == datetime(2026, 11, 1, 5, 21, tzinfo=UTC)
        assert quiet_end(quiet, "America/New_York", second_pass) == datetime(2026, 11, 1, 6, 21, tzinfo=UTC)

    def test_a_window_ending_at_midnight(self) -> None:
        quiet = {"Start": "20:00", "End": "23:59"}
        assert quiet_end(quiet, "Asia/Kathmandu", at("Asia/Kathmandu", 2028, 2, 28, 21, 0)) == at(
            "Asia/Kathmandu", 2028, 2, 29, 0, 0
        )

    def test_a_whole_day_window_ends_each_day_and_starts_again(self) -> None:
        quiet = {"Start": "00:00", "End": "23:59"}
        end = quiet_end(quiet, "Europe/Paris", at("Europe/Paris", 2026, 6, 1, 12, 0))
        assert end == at("Europe/Paris", 2026, 6, 2, 0, 0) and in_quiet_time(quiet, "Europe/Paris", end)


class TestCheck:
    def test_good_windows_pass(self) -> None:
        check_quiet_time(NIGHT, "WriteCampaignRequest.Schedule.QuietTime")
        check_quiet_time({}, "WriteCampaignRequest.Schedule.QuietTime")

    @pytest.mark.parametrize(
        ("quiet", "member"),
        [
            ({"Start": "24:00", "End": "07:00"}, "Start"),
            ({"Start": "22:00", "End": "7:00"}, "End"),
            ({"Start": "22:60", "End": "07:00"}, "Start"),
            ({"Start": "22:00", "End": "07:00:00"}, "End"),
        ],
    )
    def test_bad_times_name_the_member(self, quiet: dict[str, str], member: str) -> None:
        with pytest.raises(BadRequest, match=rf"Schedule\.QuietTime\.{member}"):
            check_quiet_time(quiet, "WriteCampaignRequest.Schedule.QuietTime")

    def test_start_and_end_go_together(self) -> None:
        with pytest.raises(BadRequest, match="go together"):
            check_quiet_time({"Start": "22:00"}, "QuietTime")

    @pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("07:30", 450), ("23:59", 1439), ("24:00", None)])
    def test_parse_hhmm(self, text: str, minutes: int | None) -> None:
        assert parse_hhmm(text) == minutes


hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
zones = st.sampled_from(["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"])
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))


def _minutes(start: str, end: str) -> int:
    s, e = parse_hhmm(start), parse_hhmm(end)
    assert s is not None and e is not None
    return e - s + 1 if s <= e else 24 * 60 - s + e + 1


@settings(max_examples=100, deadline=None)
@given(start=hhmm, end=hhmm, zone=zones, moment=instants)
def test_quiet_end_is_when_quiet_time_stops(start: str, end: str, zone: str, moment: datetime) -> None:
    quiet = {"Start": start, "End": end}
    finish = quiet_end(quiet, zone, moment)
    if not in_quiet_time(quiet, zone, moment):
        assert finish is None
        return
    assert finish is not None and moment < finish <= moment + timedelta(hours=25)
    assert in_quiet_time(quiet, zone, finish - timedelta(microseconds=1))
    if _minutes(start, end) <= 24 * 60 - 61:  # a clock jump (up to an hour) cannot land back in the window
        assert not in_quiet_time(quiet, zone, finish)
