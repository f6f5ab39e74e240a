"""Journey request rules (PINPOINT.md §3.4 shapes, §4.5 behaviour, §7 quotas), pure functions.

`check_journey` holds a CreateJourney/UpdateJourney request (a WriteJourneyRequest already checked
against the model's types, enums and required members) to everything that needs no project data,
raising BadRequest that names the member path (`WriteJourneyRequest.Activities.welcome.EMAIL...`).
What blocks publishing given the project's data is rules/journey_review.py; the shape of an
activity (type, paths, conditions) is rules/journey_graph.py, what each kind of activity must
hold rules/journey_activities.py, and how the values (durations, schedule times, whole numbers)
are read rules/journey_values.py. A DRAFT may be half-built (a Wait
without its WaitTime, a split without its conditions): what it still lacks is no refusal here but
a review error (rules/journey_drafts.py); only what is malformed is refused.

Pinpoint's own rules worth knowing: Schedule.StartTime must be written with the offset of
Schedule.Timezone (its error text is kept, §1.4; botocore sends every timestamp in UTC, so SDK
callers can only pair a StartTime with Timezone UTC, as on Pinpoint), and an event-triggered
journey starts on one event type and never in local time.

Rules where Pinpoint is silent or that OpenPoint adds [impl]:
- Durations are ISO-8601 without months or years (no fixed length), longer than zero.
- A journey's activities form a tree-like graph from StartActivity: no loops, nothing unreachable.
- An EventCondition tests the message of an activity every participant passed before the split.
- Custom activities are delivered by HTTPS webhook: a Lambda DeliveryUri is accepted (Pinpoint
  takes one) but blocks publishing, as do ContactCenter activities (no Amazon Connect here).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from openpoint.errors import BadRequest
from rules.campaigns import UTC_OFFSETS
from rules.event_filters import check_event_filter
from rules.instants import checked_instant
from rules.journey_activities import check_activities, check_contact_center
from rules.journey_values import FIELD as FIELD  # the request's name, as the gateway quotes it
from rules.journey_values import (
    at_most_one,
    check_bounds,
    fail,
    missing,
    offset_mismatch,
    parse_duration,
    quiet_spans,
    schedule_time,
)
from rules.quiet_time import parse_hhmm
from rules.settings import check_quiet_time

MAX_LIFETIME = timedelta(days=540)  # [Q]
MAX_NAME = 150
MIN_REFRESH = timedelta(hours=1)  # the console's shortest refresh interval
MAX_OPEN_WINDOWS, MAX_CLOSED_DAYS = 4, 20  # per day / per channel, as the console allows

# Member bounds from the model's documentation.
_LIMITS = {"DailyCap": (0, 100), "TotalCap": (0, 100), "EndpointReentryCap": (0, 100), "MessagesPerSecond": (1, 20_000)}
_TIMEFRAME = {"Cap": (0, 100), "Days": (0, 30)}

_START_ACTIVITY = re.compile(r"[A-Za-z0-9]{1,128}")


def _check_identity(body: dict[str, Any]) -> None:
    name = body.get("Name") or ""
    if not 1 <= len(name) <= MAX_NAME or any(c.isspace() for c in name):
        raise fail(f"{FIELD}.Name", f"a journey name has 1 to {MAX_NAME} characters and no spaces.")
    state = body.get("State")
    if state not in (None, "DRAFT", "ACTIVE"):
        raise fail(
            f"{FIELD}.State",
            f"'{state}' cannot be set by creating or updating a journey (DRAFT or ACTIVE); use UpdateJourneyState.",
        )
    start = body.get("StartActivity")
    if start is not None and not _START_ACTIVITY.fullmatch(start):
        raise fail(f"{FIELD}.StartActivity", "an activity id is 1 to 128 letters and digits.")


def _check_start_condition(body: dict[str, Any]) -> None:
    start = body.get("StartCondition")
    if start is None:
        return  # a draft may leave it out; review() blocks publishing without one
    at = f"{FIELD}.StartCondition"
    member = at_most_one(start, ("SegmentStartCondition", "EventStartCondition"), at)
    if member != "EventStartCondition":
        return  # the segment may be named later, as the condition itself may: review() says so
    where = f"{at}.{member}"
    if body.get("LocalTime"):
        raise fail(f"{FIELD}.LocalTime", "local time is not supported for event-triggered journeys.")
    event_filter = start[member].get("EventFilter")
    if not event_filter:
        return  # the event may be chosen later: rules/journey_drafts.py
    check_event_filter(event_filter, f"{where}.EventFilter")
    # One event type starts a journey. Attribute values are alternatives; a MetricDimension holds one
    # Value by its shape, so "a metric cannot take several values" needs no check of its own.
    event_type = (event_filter.get("Dimensions") or {}).get("EventType") or {}
    if (event_type.get("DimensionType") or "INCLUSIVE") != "INCLUSIVE" or len(event_type.get("Values") or []) != 1:
        raise fail(
            f"{where}.EventFilter.Dimensions.EventType",
            "an event-triggered journey starts on exactly one event type (INCLUSIVE, one value).",
        )


def _check_schedule(schedule: dict[str, Any], now: datetime) -> None:
    at = f"{FIELD}.Schedule"
    times: dict[str, datetime] = {}
    for member in ("StartTime", "EndTime"):
        if schedule.get(member) is not None:
            parsed = schedule_time(schedule[member])
            if parsed is None:
                raise fail(f"{at}.{member}", f"'{schedule[member]}' is not an ISO-8601 date and time.")
            times[member] = parsed
    label = schedule.get("Timezone")
    if label is not None and label not in UTC_OFFSETS:
        raise fail(f"{at}.Timezone", f"'{label}' is not one of Pinpoint's offsets such as UTC, UTC+09 or UTC-03:30.")
    mismatch = offset_mismatch(schedule)
    if mismatch:
        raise BadRequest(f"{mismatch} ({at}.StartTime)")
    end = times.get("EndTime")
    if end is None:
        return
    start = times.get("StartTime")
    if end <= (start or now):
        raise fail(f"{at}.EndTime", "must be later than StartTime." if start else "must be in the future.")
    if end - (start or now) > MAX_LIFETIME:
        raise fail(f"{at}.EndTime", f"a journey runs at most {MAX_LIFETIME.days} days.")


def _check_entry(body: dict[str, Any]) -> None:
    refresh = body.get("RefreshFrequency")
    if refresh is not None and parse_duration(refresh, f"{FIELD}.RefreshFrequency") < MIN_REFRESH:
        raise fail(f"{FIELD}.RefreshFrequency", "the segment is refreshed at most once an hour (PT1H).")
    if body.get("RefreshOnSegmentUpdate") and not refresh:
        raise missing(f"{FIELD}.RefreshFrequency", "RefreshOnSegmentUpdate needs a refresh interval.")
    limits = body.get("Limits") or {}
    at = f"{FIELD}.Limits"
    check_bounds(limits, _LIMITS, at)
    check_bounds(limits.get("TimeframeCap") or {}, _TIMEFRAME, f"{at}.TimeframeCap")
    if limits.get("EndpointReentryInterval") is not None:
        parse_duration(limits["EndpointReentryInterval"], f"{at}.EndpointReentryInterval")
    methods = body.get("TimezoneEstimationMethods") or []
    if len(set(methods)) != len(methods):
        raise fail(f"{FIELD}.TimezoneEstimationMethods", "each method may be listed once.")


def _check_open_hours(open_hours: dict[str, Any], quiet: dict[str, Any] | None) -> None:
    spans = quiet_spans(quiet)
    for channel, days in open_hours.items():
        for day, rules in (days or {}).items():
            at = f"{FIELD}.OpenHours.{channel}.{day}"
            if len(rules) > MAX_OPEN_WINDOWS:
                raise fail(at, f"at most {MAX_OPEN_WINDOWS} open-hours windows a day.")
            for i, rule in enumerate(rules):
                start, end = (parse_hhmm(rule.get(m)) for m in ("StartTime", "EndTime"))
                if start is None or end is None:
                    member = "StartTime" if start is None else "EndTime"
                    raise fail(f"{at}[{i}].{member}", f"'{rule.get(member)}' is not HH:MM (24-hour).")
                if start >= end:
                    raise fail(f"{at}[{i}].EndTime", "must be later than StartTime on the same day.")
                # Windows that only touch quiet time (open 07:00-22:00, quiet 22:00-07:00) are fine.
                if any(start < q_end and q_start < end for q_start, q_end in spans):
                    raise fail(f"{at}[{i}]", "open hours must lie outside the journey's QuietTime.")


def _check_closed_days(closed_days: dict[str, Any]) -> None:
    for channel, rules in closed_days.items():
        at = f"{FIELD}.ClosedDays.{channel}"
        if len(rules or []) > MAX_CLOSED_DAYS:
            raise fail(at, f"at most {MAX_CLOSED_DAYS} closed-day rules per channel.")
        for i, rule in enumerate(rules or []):
            start = checked_instant(rule.get("StartDateTime"), f"{at}[{i}].StartDateTime")
            if checked_instant(rule.get("EndDateTime"), f"{at}[{i}].EndDateTime") <= start:
                raise fail(f"{at}[{i}].EndDateTime", "must be later than StartDateTime.")


def _check_sending(body: dict[str, Any]) -> None:
    quiet = body.get("QuietTime")
    if quiet:
        check_quiet_time(quiet, f"{FIELD}.QuietTime")
    if body.get("SendingSchedule") and not quiet_spans(quiet):
        raise missing(f"{FIELD}.QuietTime", "SendingSchedule needs QuietTime with Start and End.")
    _check_open_hours(body.get("OpenHours") or {}, quiet)
    _check_closed_days(body.get("ClosedDays") or {})


def check_journey(body: dict[str, Any], *, now: datetime) -> None:
    """Everything a CreateJourney/UpdateJourney request must satisfy regardless of the project's data."""
    _check_identity(body)
    check_activities(body.get("Activities") or {})
    check_contact_center(body)
    _check_start_condition(body)
    _check_schedule(body.get("Schedule") or {}, now)
    _check_entry(body)
    _check_sending(body)
