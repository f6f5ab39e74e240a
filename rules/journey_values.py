"""The values a journey request holds, read and bounded the same way by every journey check
(rules/journeys.py, rules/journey_activities.py, rules/journey_review.py): durations, schedule
times and their offset, whole numbers in a range, members of which one is set, quiet-time spans.
Errors are BadRequest naming the member path.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from openpoint.errors import BadRequest
from rules import journey_timing
from rules.campaigns import UTC_OFFSETS
from rules.instants import parse_instant, read_iso
from rules.quiet_time import parse_hhmm
from rules.schedules import parse_timezone

FIELD = "WriteJourneyRequest"


def fail(at: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {at}: {why}")


def missing(at: str, why: str) -> BadRequest:
    return BadRequest(f"Missing required member {at}: {why}")


def parse_duration(value: str, field: str) -> timedelta:
    """A request's ISO-8601 duration (PnW, PnDTnHnMnS; rules.journey_timing reads them), longer than zero."""
    try:
        duration = journey_timing.parse_duration(value)
    except ValueError as e:
        raise fail(field, str(e)) from None
    if duration <= timedelta(0):
        raise fail(field, f"'{value}': a duration must be longer than zero.")
    return duration


def schedule_time(value: object) -> datetime | None:
    """A JourneySchedule time, keeping the UTC offset it was written with (no offset: UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or parse_instant(value) is None:
        return None
    return read_iso(value)


def _as_text(value: object) -> str:
    if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat() if isinstance(value, datetime) else str(value)


def offset_mismatch(schedule: dict[str, Any]) -> str | None:
    """Pinpoint's refusal of a StartTime written with another offset than Schedule.Timezone."""
    label, start = schedule.get("Timezone"), schedule_time(schedule.get("StartTime"))
    if label not in UTC_OFFSETS or start is None:
        return None
    if start.utcoffset() == parse_timezone(label).utcoffset(None):
        return None
    return (
        f"Journey validation failed, Start time {_as_text(schedule['StartTime'])} doesn't have the same offset "
        f"as the journey's schedule offset: {label}"
    )


def check_range(value: object, low: int, high: int, at: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(at, f"must be a whole number from {low} to {high}.")


def check_bounds(values: dict[str, Any], bounds: dict[str, tuple[int, int]], at: str) -> None:
    for name, (low, high) in bounds.items():
        if values.get(name) is not None:
            check_range(values[name], low, high, f"{at}.{name}")


def exactly_one(obj: dict[str, Any], members: Iterable[str], at: str) -> str:
    names = tuple(members)
    found = at_most_one(obj, names, at)
    if found is None:
        raise fail(at, f"set exactly one of {', '.join(names)} (0 set).")
    return found


def at_most_one(obj: dict[str, Any], members: Iterable[str], at: str) -> str | None:
    """The one member set, or None when none is: a DRAFT may be half-built (rules/journey_drafts.py
    names what it lacks), but two at once is a contradiction."""
    names = tuple(members)
    given = [m for m in names if obj.get(m) is not None]
    if len(given) > 1:
        raise fail(at, f"set exactly one of {', '.join(names)} ({len(given)} set).")
    return given[0] if given else None


def quiet_spans(quiet: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Quiet time as minute spans of a day (a window past midnight is two)."""
    start, end = parse_hhmm((quiet or {}).get("Start")), parse_hhmm((quiet or {}).get("End"))
    if start is None or end is None:
        return []
    return [(start, end)] if start <= end else [(start, 24 * 60), (0, end)]
