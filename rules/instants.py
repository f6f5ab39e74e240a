"""ISO-8601 instants, read the same way wherever they arrive: request members and query
parameters (the gateway), events, schedules, journeys and segments (the rules), the instants
workflows hand to activities (the worker). Pure, so every side may import it.

Two readings, for two kinds of text; no offset means UTC in both:
- `parse_instant`: the strict grammar that segment dimensions, schedules and journeys accept
  (ISO_INSTANT below, shared verbatim with the SQL compiler, store/segment_compiler.py); the
  result is in UTC.
- `read_iso`: Python's ISO-8601 reader (`Z` for UTC), as botocore and the CLI send timestamps
  and PutEvents takes them; the offset written is kept. `read_bounded` adds rules/bounds' range.

Errors that name the member (`checked_instant`) are Pinpoint's BadRequest; the rest is left to
the caller, who knows what the value was for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from openpoint.errors import BadRequest
from rules.bounds import instant_problem

# The strict grammar (segments, schedules, journeys): a calendar date (only dates that exist,
# leap years included), optionally a time to the microsecond, optionally `Z` or an offset; no
# offset means UTC. The pattern is written in the common subset of Python `re` and PostgreSQL AREs because the
# compiler uses it verbatim as the guard before a cast: PostgreSQL has no "try cast", and a guard
# that let "2026-02-30" through would make the whole statement fail.
_YEAR = "[1-9][0-9]{3}"
_LEAP_YEAR = "(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)"
_MONTH_DAY = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,6})?)?"
_OFFSET = "(?:Z|[+-](?:0[0-9]|1[0-4])(?::?[0-5][0-9])?)"
ISO_INSTANT = f"^{_DATE}(?:[T ]{_TIME}{_OFFSET}?)?$"
# Given ISO_INSTANT matched: true exactly when the text carries its own offset.
HAS_OFFSET = "[T ][0-9:.]+(?:Z|[+-][0-9:]+)$"

_PARTS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|([+-])(\d{2}):?(\d{2})?)?)?$"
)
_ISO = re.compile(ISO_INSTANT)


def parse_instant(value: object) -> datetime | None:
    """The UTC instant `value` denotes, or None when it is not text in the strict grammar."""
    if not isinstance(value, str) or not _ISO.fullmatch(value):  # fullmatch: `$` alone would allow a trailing newline
        return None
    m = _PARTS.fullmatch(value)
    if m is None:  # pragma: no cover - _ISO is stricter than _PARTS
        return None
    year, month, day, hour, minute, second, fraction, zone, sign, off_h, off_m = m.groups()
    tz: timezone = UTC
    if zone not in (None, "Z"):
        offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
        tz = timezone(-offset if sign == "-" else offset)
    local = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=tz,
    )
    try:
        return local.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-14:00 is in year 10000 in UTC, past datetime's range
        return None


def read_iso(value: str) -> datetime:
    """ISO-8601 text as Python reads it, with the offset it was written with (none: UTC);
    ValueError when it is not such text."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def read_bounded(value: str) -> datetime | None:
    """`read_iso`, or None when the text is not ISO-8601 or lies outside rules/bounds' range (day
    arithmetic on year 1 or 9999 overflows)."""
    try:
        dt = read_iso(value)
    except ValueError:
        return None
    return None if instant_problem(dt) else dt


def as_utc(value: datetime | str) -> datetime:
    """An instant handed between workflows and activities (a datetime, naive meaning UTC, or
    ISO-8601 text) as an aware UTC datetime."""
    parsed = read_iso(value) if isinstance(value, str) else value
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def aware_utc(value: datetime, what: str) -> datetime:
    """An aware datetime in UTC; ValueError naming `what` for a naive one."""
    if value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware.")
    return value.astimezone(UTC)


def checked_instant(value: object, at: str, *, expected: str = "an ISO-8601 date and time") -> datetime:
    """A request member's instant in the strict grammar, within rules/bounds' range; else the
    BadRequest that names the member (`Invalid value for {at}: '{value}' is not {expected}.`)."""
    parsed = parse_instant(value)
    if parsed is None:
        raise BadRequest(f"Invalid value for {at}: '{value}' is not {expected}.")
    problem = instant_problem(parsed)  # timers and day arithmetic overflow near year 9999
    if problem:
        raise BadRequest(f"Invalid value for {at}: '{value}' {problem}.")
    return parsed
