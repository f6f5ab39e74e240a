"""Campaign run times (PINPOINT.md §3.3 `Schedule`, §4.4 Frequency and Local time).

Pure: the caller passes every instant in (`after`, a campaign's creation), so workflow code can
call these. Time zones come from zoneinfo (the system tz database). Workflow code imports this
module (and rules.quiet_time) inside `workflow.unsafe.imports_passed_through()`: the sandbox
hands out `zoneinfo.ZoneInfo` zones as restricted proxies, which datetime refuses as tzinfo.

Rules where Pinpoint is silent [impl]:
- `StartTime: "IMMEDIATE"` means the campaign's creation; `resolve_start` substitutes it, and
  the other functions refuse an unresolved schedule (ValueError).
- StartTime/EndTime read as everywhere else (rules.instants.parse_instant, the grammar the
  campaign request checks use): ISO-8601, no offset meaning UTC. `Schedule.Timezone` (UTC when
  absent) only sets the wall clock recurrences keep.
- Recurrences are anchored at StartTime's wall clock in `Schedule.Timezone`. DAILY and WEEKLY add
  whole local days, so 09:00 stays 09:00 local across DST changes. MONTHLY on day d falls on
  min(d, the month's last day), each month computed from the anchor rather than the previous
  run: Jan 31 → Feb 28 (29 in leap years) → Mar 31 → Apr 30. HOURLY runs every 60 elapsed minutes,
  so a DST change neither skips nor doubles an hourly run.
- EndTime is exclusive: a run starts strictly before it.
- A wall-clock time that does not exist (the clock jumps over it) happens when the clock jumps:
  the first instant whose wall clock is at or past it (02:30 on a spring-forward night → 03:00).
  One that happens twice (the clock is set back) happens the first time.
- EVENT and IN_APP_EVENT schedules have no scheduled runs; `within_schedule` says whether an
  event falls inside their StartTime..EndTime window.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from rules.instants import aware_utc, parse_instant

IMMEDIATE = "IMMEDIATE"
RECURRING = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY")
SCHEDULED = ("ONCE", *RECURRING)
FREQUENCIES = (*SCHEDULED, "EVENT", "IN_APP_EVENT")

# Schedule.Timezone labels: UTC, UTC+01 ... UTC+14, UTC-02:30 ...
_OFFSET_LABEL = re.compile(r"UTC(?:([+-])(\d{2})(?::([0-5]\d))?)?")
# What a tz database key looks like; anything else is refused before zoneinfo touches the disk.
_IANA_KEY = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,3}")
_MICROSECOND = timedelta(microseconds=1)


def iana_zone(name: object) -> ZoneInfo | None:
    """The tz database zone called `name` (`America/New_York`), or None when there is none."""
    if not isinstance(name, str) or len(name) > 64 or not _IANA_KEY.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found / not a TZif file / unreadable
        return None


def parse_timezone(label: str) -> tzinfo:
    """A Schedule.Timezone: a UTC-offset label as a fixed offset, or an IANA zone name."""
    m = _OFFSET_LABEL.fullmatch(label)
    if m is None:
        zone = iana_zone(label)
        if zone is None:
            raise ValueError(f"'{label}' is neither a UTC offset (UTC+05:30) nor an IANA time zone.")
        return zone
    sign, hours, minutes = m.groups()
    if sign is None:
        return UTC
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset > timedelta(hours=14) or offset.seconds % 900:
        raise ValueError(f"'{label}' is not a UTC offset between -14:00 and +14:00 in quarter hours.")
    return timezone(-offset if sign == "-" else offset, label)


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def wall_instants(wall: datetime, tz: tzinfo) -> list[datetime]:
    """Every UTC instant at which the clock in `tz` reads `wall` (naive), earliest first: one
    normally, two when the clock is set back over it, none when the clock jumps over it."""
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if _wall(instant, tz) == wall and instant not in found:
            found.append(instant)
    return sorted(found)


def reach(wall: datetime, tz: tzinfo) -> datetime:
    """The first UTC instant at which the clock in `tz` reads `wall` (naive) or later."""
    found = wall_instants(wall, tz)
    if found:
        return found[0]
    # A gap: zoneinfo maps `wall` with the offsets from either side of the jump, which brackets
    # it; bisect to the first instant whose wall clock is past `wall` (the jump itself).
    lo, hi = sorted(wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    while hi - lo > _MICROSECOND:
        mid = lo + (hi - lo) // 2
        if _wall(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _naive(value: datetime, what: str) -> None:
    if value.utcoffset() is not None:
        raise ValueError(f"{what} is a wall-clock time and must be naive.")


def resolve_start(schedule: dict[str, Any], *, created: datetime) -> dict[str, Any]:
    """`schedule` with `StartTime: "IMMEDIATE"` replaced by the campaign's creation instant."""
    if schedule.get("StartTime") != IMMEDIATE:
        return schedule
    aware_utc(created, "created")
    return {**schedule, "StartTime": created.astimezone(UTC).isoformat()}


def _parse_time(value: str | datetime, member: str) -> datetime:
    """A Schedule's StartTime/EndTime as the UTC instant it names."""
    if isinstance(value, datetime):
        return aware_utc(value, member)
    if value == IMMEDIATE:
        raise ValueError(f"{member} IMMEDIATE must be resolved first (resolve_start).")
    instant = parse_instant(value)
    if instant is None:
        raise ValueError(f"{member} '{value}' is not an ISO-8601 date-time.")
    return instant


@dataclass(frozen=True)
class _Plan:
    frequency: str
    tz: tzinfo
    start: datetime  # UTC
    anchor: datetime  # StartTime's wall clock in tz, naive
    end: datetime | None  # UTC, exclusive

    def occurrence(self, k: int) -> datetime | None:
        """Run k (0 = StartTime), or None when the schedule has no such run."""
        if k == 0:
            return self.start  # as given, even when its wall clock happens twice
        if self.frequency == "HOURLY":
            return self.start + timedelta(hours=k)
        if self.frequency in ("DAILY", "WEEKLY"):
            return reach(self.anchor + timedelta(days=k * (7 if self.frequency == "WEEKLY" else 1)), self.tz)
        if self.frequency == "MONTHLY":
            return reach(_add_months(self.anchor, k), self.tz)
        return None  # ONCE

    def first_index_after(self, after: datetime) -> int:
        """An index whose run is at or before `after` while every earlier one is too (or 0), so
        counting from it skips no run after `after` and does not walk years of runs."""
        if after < self.start:
            return 0
        if self.frequency == "HOURLY":
            return (after - self.start) // timedelta(hours=1)
        local = _wall(after, self.tz)
        # Two steps back: wall clocks two days (or months) apart cannot swap order across a
        # UTC-offset change, one may.
        if self.frequency in ("DAILY", "WEEKLY"):
            return max(0, (local - self.anchor).days // (7 if self.frequency == "WEEKLY" else 1) - 2)
        if self.frequency == "MONTHLY":
            return max(0, (local.year - self.anchor.year) * 12 + local.month - self.anchor.month - 2)
        return 0


def _add_months(wall: datetime, months: int) -> datetime:
    index = wall.year * 12 + wall.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return wall.replace(year=year, month=month + 1, day=min(wall.day, last))


def _plan(schedule: dict[str, Any]) -> _Plan:
    tz = parse_timezone(schedule.get("Timezone") or "UTC")
    start = _parse_time(schedule["StartTime"], "StartTime")
    end = _parse_time(schedule["EndTime"], "EndTime") if schedule.get("EndTime") else None
    return _Plan(schedule.get("Frequency") or "ONCE", tz, start, _wall(start, tz), end)


def run_times(schedule: dict[str, Any], *, after: datetime, limit: int) -> list[datetime]:
    """Up to `limit` run start times (UTC) strictly after `after`, earliest first."""
    aware_utc(after, "after")
    plan = _plan(schedule)
    if plan.frequency not in SCHEDULED:
        return []
    runs: list[datetime] = []
    k = plan.first_index_after(after)
    while len(runs) < limit:
        try:
            run = plan.occurrence(k)
        except (OverflowError, ValueError):  # past year 9999
            break
        if run is None or (plan.end is not None and run >= plan.end):
            break
        if run > after:
            runs.append(run)
        k += 1
    return runs


def next_run(schedule: dict[str, Any], *, after: datetime) -> datetime | None:
    runs = run_times(schedule, after=after, limit=1)
    return runs[0] if runs else None


def within_schedule(schedule: dict[str, Any], at: datetime) -> bool:
    """Whether `at` lies in StartTime..EndTime (end exclusive): when an event-triggered campaign
    reacts to events (§4.4)."""
    aware_utc(at, "at")
    plan = _plan(schedule)
    return plan.start <= at and (plan.end is None or at < plan.end)


def run_wall_clock(schedule: dict[str, Any], run: datetime) -> datetime:
    """A run's wall clock in Schedule.Timezone (naive): what a local-time run (IsLocalTime)
    delivers at in each recipient's own zone."""
    aware_utc(run, "run")
    return _wall(run, parse_timezone(schedule.get("Timezone") or "UTC"))


def local_run_instant(run_wall_clock: datetime, endpoint_tz: str | None) -> datetime | None:
    """When a local-time run reaches an endpoint: the UTC instant its Demographic.Timezone's clock
    first reads the run's wall clock, or None without a valid IANA zone (the endpoint is then
    not messaged: ENDPOINT_MISSING_TIMEZONE)."""
    _naive(run_wall_clock, "run_wall_clock")
    zone = iana_zone(endpoint_tz)
    return None if zone is None else reach(run_wall_clock, zone)


def timezone_waves(run: datetime, zones: Iterable[str]) -> list[tuple[datetime, list[str]]]:
    """How a local-time run rolls through time zones: the valid zones grouped by the UTC instant
    their clocks reach `run` (naive wall clock), earliest first; zone names sorted, invalid
    ones left out."""
    _naive(run, "run")
    waves: dict[datetime, set[str]] = {}
    for name in set(zones):
        instant = local_run_instant(run, name)
        if instant is not None:
            waves.setdefault(instant, set()).add(name)
    return [(instant, sorted(waves[instant])) for instant in sorted(waves)]
