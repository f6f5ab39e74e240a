"""When journey steps may act (PINPOINT.md §4.5 Timing, Quiet time and sending schedule, Wait,
RandomSplit, Holdout, LocalTime).

Pure and deterministic: every instant comes in as a parameter, so the journey workflow can call
these through `workflow.unsafe.imports_passed_through()` (see rules.schedules on zoneinfo there).

Rules where Pinpoint is silent [impl]:
- Quiet time is rules.quiet_time's window (minute precision, End inclusive, wraps midnight). Open
  hours read the same way, in the participant's local time: a rule {StartTime, EndTime} on a
  weekday is open from Start through the whole End minute, and one whose Start is later than its
  End runs on into the next day (FRIDAY 22:00-02:00 is open until Saturday 02:00 inclusive).
  A weekday a non-empty OpenHours map leaves out (or gives no rules) is closed all day; rules
  whose times are not HH:MM are ignored (the request checks refuse them).
- Quiet time and open hours need a valid IANA zone, as quiet time does for campaigns; closed days
  are instants ([StartDateTime, EndDateTime), ISO-8601, no offset meaning UTC) and apply to
  everyone. Closed-day rules that do not parse are ignored.
- A step blocked by several rules at once reports QUIET_TIME before OUTSIDE_OPEN_HOURS before
  CLOSED_DAY: quiet time is the one that decides between waiting and dropping the message.
- WaitFor is elapsed time (P1D is 24 hours, even across a DST change).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rules.instants import aware_utc, parse_instant
from rules.quiet_time import parse_hhmm, quiet_end
from rules.schedules import iana_zone, local_run_instant, reach, run_wall_clock, wall_instants

QUIET_TIME = "QUIET_TIME"
OUTSIDE_OPEN_HOURS = "OUTSIDE_OPEN_HOURS"
CLOSED_DAY = "CLOSED_DAY"
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

SEARCH_LIMIT = timedelta(days=400)
# Quiet time and open hours repeat weekly; two weeks past the last closed day also covers a week
# whose only open window a DST change removes.
_PERIODIC_SEARCH = timedelta(days=15)
_MICROSECOND = timedelta(microseconds=1)
_NEVER = datetime.max.replace(tzinfo=UTC)

# A rule blocking a send: None when it does not block at the instant given, else the instant
# (strictly later) at which it stops blocking.
_Blocker = Callable[[datetime], datetime | None]


def _instant(value: object, what: str) -> datetime:
    """An ISO-8601 instant (or an aware datetime) as UTC."""
    if isinstance(value, datetime):
        return aware_utc(value, what)
    instant = parse_instant(value)
    if instant is None:
        raise ValueError(f"{what} {value!r} is not an ISO-8601 date-time.")
    return instant


@dataclass(frozen=True)
class _OpenHours:
    """One channel's OpenHours in a participant's zone: weekday (0 = Monday) → (start, end) minutes."""

    zone: ZoneInfo
    rules: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def of(cls, open_hours: dict[str, Any] | None, zone: ZoneInfo) -> _OpenHours | None:
        if not open_hours:
            return None
        rules = []
        for day in WEEKDAYS:
            windows = [
                (parse_hhmm(r.get("StartTime")), parse_hhmm(r.get("EndTime"))) for r in open_hours.get(day) or ()
            ]
            rules.append(tuple((s, e) for s, e in windows if s is not None and e is not None))
        return cls(zone, tuple(rules))

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        minute, today = local.hour * 60 + local.minute, local.weekday()
        if any(s <= minute <= e if s <= e else minute >= s for s, e in self.rules[today]):
            return True
        return any(s > e and minute <= e for s, e in self.rules[(today - 1) % 7])  # yesterday's late window

    def reopens(self, at: datetime) -> datetime | None:
        """The first instant after `at` inside a window (_NEVER when the map opens on no day), or
        None when `at` is inside one."""
        if self.is_open(at):
            return None
        first = at.astimezone(self.zone).date()
        days = [first + timedelta(days=n) for n in range(-1, 9)]
        # The clock enters a window at a window's start (or the jump over a start the clock
        # skips), or when it is set back into a window.
        candidates = [*self._starts(days), *_set_backs(self.zone, at, at + timedelta(days=9))]
        return min((c for c in candidates if c > at and self.is_open(c)), default=_NEVER)

    def _starts(self, days: list[date]) -> list[datetime]:
        instants: list[datetime] = []
        for day in days:
            for start, _ in self.rules[day.weekday()]:
                wall = datetime.combine(day, time(start // 60, start % 60))
                instants.extend(wall_instants(wall, self.zone) or [reach(wall, self.zone)])
        return instants


def _set_backs(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in start..end at which the clock in `zone` is set back."""
    found: list[datetime] = []
    lo = start
    while lo < end:
        hi = lo + timedelta(hours=12)  # no zone changes its offset twice within 12 hours
        after = _offset(hi, zone)
        if after < _offset(lo, zone):
            a, b = lo, hi  # bisect to the first instant with the new offset
            while b - a > _MICROSECOND:
                mid = a + (b - a) // 2
                a, b = (a, mid) if _offset(mid, zone) == after else (mid, b)
            found.append(b)
        lo = hi
    return found


def _offset(at: datetime, zone: ZoneInfo) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta()


def _closed_days(rules: list[dict[str, Any]] | None) -> list[tuple[datetime, datetime]]:
    windows = []
    for rule in rules or ():
        try:
            start = _instant(rule.get("StartDateTime"), "StartDateTime")
            end = _instant(rule.get("EndDateTime"), "EndDateTime")
        except ValueError:
            continue
        if start < end:
            windows.append((start, end))
    return windows


def _blockers(
    timezone: str | None,
    quiet: dict[str, Any] | None,
    open_hours: dict[str, Any] | None,
    closed: list[tuple[datetime, datetime]],
) -> list[tuple[str, _Blocker]]:
    blockers: list[tuple[str, _Blocker]] = []
    zone = iana_zone(timezone)
    if zone is not None:
        blockers.append((QUIET_TIME, lambda at: quiet_end(quiet, timezone, at)))
        hours = _OpenHours.of(open_hours, zone)
        if hours is not None:
            blockers.append((OUTSIDE_OPEN_HOURS, hours.reopens))
    if closed:
        blockers.append((CLOSED_DAY, lambda at: max((e for s, e in closed if s <= at < e), default=None)))
    return blockers


def sending_blocked(
    now: datetime,
    timezone: str | None,
    *,
    quiet: dict[str, Any] | None,
    open_hours: dict[str, Any] | None,
    closed_days: list[dict[str, Any]] | None,
) -> str | None:
    """Why a message step cannot send at `now` (QUIET_TIME, OUTSIDE_OPEN_HOURS, CLOSED_DAY), or None."""
    now = aware_utc(now, "now")
    for reason, blocker in _blockers(timezone, quiet, open_hours, _closed_days(closed_days)):
        if blocker(now) is not None:
            return reason
    return None


def next_send_time(
    now: datetime,
    timezone: str | None,
    *,
    quiet: dict[str, Any] | None,
    open_hours: dict[str, Any] | None,
    closed_days: list[dict[str, Any]] | None,
) -> datetime | None:
    """The earliest instant ≥ `now` (UTC) at which a message step for a participant in the IANA
    zone `timezone` may send, or None when `now` is fine. ValueError when the rules leave no time
    to send (none within 400 days, or none within two weeks after the last closed day)."""
    at = aware_utc(now, "now")
    closed = _closed_days(closed_days)
    blockers = _blockers(timezone, quiet, open_hours, closed)
    limit = min(at + SEARCH_LIMIT, max([at, *(end for _, end in closed)]) + _PERIODIC_SEARCH)
    moved = True
    while moved:
        moved = False
        for reason, blocker in blockers:
            until = blocker(at)
            if until is None:
                continue
            if until <= at:  # every rule ends after the instant it blocks; a loop guard all the same
                raise RuntimeError(f"{reason} at {at} did not end.")
            at, moved = until, True
            if at > limit:
                raise ValueError("The quiet time, open hours and closed days leave no time to send.")
    return None if at == now else at


# Letters in either case, as the request checks (rules.journeys) accept them.
_DURATION = re.compile(
    r"P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?", re.ASCII | re.IGNORECASE
)
_CALENDAR = re.compile(r"P[^T]*[YM]", re.IGNORECASE)


def parse_duration(value: str) -> timedelta:
    """An ISO-8601 duration of weeks, days, hours, minutes and seconds (`P2W`, `P1DT12H`,
    `PT0.5S`). Months and years have no fixed length and are refused (ValueError)."""
    m = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        why = " (months and years have no fixed length)" if _CALENDAR.match(str(value)) else ""
        raise ValueError(f"{value!r} is not an ISO-8601 duration such as PT1H or P3D{why}.")
    weeks, days, hours, minutes, seconds = m.groups()
    try:
        return timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            microseconds=int(Decimal((seconds or "0").replace(",", ".")) * 1_000_000),
        )
    except OverflowError:
        raise ValueError(f"{value!r} is longer than any wait can be.") from None


def wait_deadline(wait_time: dict[str, Any], arrived: datetime) -> datetime:
    """When a WaitTime that started at `arrived` ends: `arrived` + WaitFor, or WaitUntil (at the
    latest `arrived`, so an instant already past ends the wait at once)."""
    arrived = aware_utc(arrived, "arrived")
    wait_for, wait_until = wait_time.get("WaitFor"), wait_time.get("WaitUntil")
    if (wait_for is None) == (wait_until is None):
        raise ValueError("A WaitTime sets exactly one of WaitFor and WaitUntil.")
    if wait_for is not None:
        return arrived + parse_duration(wait_for)
    return max(_instant(wait_until, "WaitUntil"), arrived)


def local_window(schedule: dict[str, Any], timezone: str | None) -> tuple[datetime | None, datetime | None]:
    """A LocalTime journey's StartTime and EndTime for a participant in the IANA zone `timezone`:
    the UTC instants at which that zone's clock reaches each one's wall clock in
    Schedule.Timezone. (None, None) without a valid zone; None for a member the schedule lacks."""
    if iana_zone(timezone) is None:
        return None, None

    def reached(member: str) -> datetime | None:
        value = schedule.get(member)
        if value is None:
            return None
        return local_run_instant(run_wall_clock(schedule, _instant(value, member)), timezone)

    return reached("StartTime"), reached("EndTime")


def choose(seed: str, percentages: list[int]) -> int:
    """A branch index picked with the given percentages, the same every time for the same seed:
    sha256(seed) read as a fraction of 100, falling in one branch's cumulative range."""
    if not percentages or any(p < 0 for p in percentages) or sum(percentages) != 100:
        raise ValueError(f"Percentages {percentages} must be non-negative and add up to 100.")
    digest = hashlib.sha256(seed.encode()).digest()
    point = int.from_bytes(digest[:8], "big") * 100  # in [0, 100 · 2⁶⁴): exact integer arithmetic
    upper = 0
    for index, percentage in enumerate(percentages):
        upper += percentage
        if point < upper << 64:
            return index
    raise AssertionError("unreachable: the percentages add up to 100")  # pragma: no cover
