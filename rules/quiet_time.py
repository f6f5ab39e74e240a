"""Quiet time (PINPOINT.md §0.7, §4.4; the model's `Schedule.QuietTime` documentation).

A window `{Start, End}` of "HH:MM" (24-hour) applies to an endpoint only when it has a valid IANA
`Demographic.Timezone` and its local time is ≥ Start and ≤ End. Otherwise the message goes out.

Rules where Pinpoint is silent [impl]:
- Times compare at minute precision, as the HH:MM values read: with End 07:00 the whole minute
  07:00 is quiet and the window ends at 07:01 local.
- A window whose Start is later than End wraps past midnight (22:00-07:00); Start equal to End is
  a one-minute window.
- No window, or a missing or empty Start or End, means no quiet time.
- Local times come from the tz database, so a window holds its wall-clock hours across DST; a
  window's end that the clock jumps over ends it at the jump.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from rules.schedules import iana_zone, reach, wall_instants
from rules.settings import check_quiet_time as check_quiet_time  # the request check, re-exported

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_hhmm(value: object) -> int | None:
    """Minutes after midnight of an "HH:MM" (24-hour) time, or None when it is not one."""
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    return None if m is None else int(m[1]) * 60 + int(m[2])


def _window(quiet: dict[str, Any] | None) -> tuple[int, int] | None:
    if not quiet:
        return None
    start, end = parse_hhmm(quiet.get("Start")), parse_hhmm(quiet.get("End"))
    return None if start is None or end is None else (start, end)


def _covers(window: tuple[int, int], minute: int) -> bool:
    start, end = window
    return start <= minute <= end if start <= end else minute >= start or minute <= end


class _Quiet(NamedTuple):
    """An endpoint inside its quiet window: the window, its zone, its local clock."""

    start: int
    end: int
    zone: ZoneInfo
    local: datetime


def _quiet(quiet: dict[str, Any] | None, endpoint_tz: str | None, at: datetime) -> _Quiet | None:
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware.")
    window, zone = _window(quiet), iana_zone(endpoint_tz)
    if window is None or zone is None:
        return None
    local = at.astimezone(zone)
    if not _covers(window, local.hour * 60 + local.minute):
        return None
    return _Quiet(*window, zone, local)


def in_quiet_time(quiet: dict[str, Any] | None, endpoint_tz: str | None, at: datetime) -> bool:
    """Whether a message for this endpoint at `at` falls in the quiet window `quiet`."""
    return _quiet(quiet, endpoint_tz, at) is not None


def quiet_end(quiet: dict[str, Any] | None, endpoint_tz: str | None, at: datetime) -> datetime | None:
    """When the quiet window the endpoint is in at `at` ends (UTC; the first instant after End's
    minute), or None when it is not in one. A window spanning the whole day ends each day at
    End + 1 minute and starts again at once."""
    q = _quiet(quiet, endpoint_tz, at)
    if q is None:
        return None
    day = q.local.date()
    if q.start > q.end and q.local.hour * 60 + q.local.minute >= q.start:
        day += timedelta(days=1)  # in the evening part of a window that wraps midnight
    end_wall = datetime.combine(day, time(q.end // 60, q.end % 60)) + timedelta(minutes=1)
    # After the clock is set back, `at` may already be in the repeat of End's hour: the window
    # ends at the next time the clock reads End + 1, not the first.
    later = [instant for instant in wall_instants(end_wall, q.zone) if instant > at]
    return later[0] if later else reach(end_wall, q.zone)
