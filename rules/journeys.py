"""Journey request rules (PINPOINT.md §3.4 shapes, §4.5 behaviour, §7 quotas), pure functions.

`check_journey` holds a CreateJourney/UpdateJourney request (a WriteJourneyRequest already checked
against the model's types, enums and required members) to everything that needs no project data,
raising BadRequest that names the member path (`WriteJourneyRequest.Activities.welcome.EMAIL...`).
What blocks publishing given the project's data is rules/journey_review.py; the shape of an
activity (type, paths, conditions) is rules/journey_graph.py. A DRAFT may be half-built (a Wait
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
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from openpoint.errors import BadRequest
from rules import journey_timing
from rules.campaigns import UTC_OFFSETS
from rules.event_filters import check_event_filter
from rules.instants import checked_instant, parse_instant, read_iso
from rules.journey_graph import ACTIVITY_TYPES
from rules.lambdas import check_delivery_uri
from rules.quiet_time import parse_hhmm
from rules.schedules import parse_timezone
from rules.segments import check_dimensions
from rules.settings import check_quiet_time

FIELD = "WriteJourneyRequest"
MAX_ACTIVITIES = 40  # [Q]
MAX_LIFETIME = timedelta(days=540)  # [Q]
MAX_CONTACT_CENTER = 3  # [Q]
MAX_NAME = 150
MAX_MULTI_BRANCHES = 4  # plus the Else path: five in all
RANDOM_BRANCHES = (2, 5)
MAX_CUSTOM_DATA = 5_000  # characters, as the console counts them
MIN_REFRESH = timedelta(hours=1)  # the console's shortest refresh interval
MAX_OPEN_WINDOWS, MAX_CLOSED_DAYS = 4, 20  # per day / per channel, as the console allows

# Member bounds from the model's documentation.
_LIMITS = {"DailyCap": (0, 100), "TotalCap": (0, 100), "EndpointReentryCap": (0, 100), "MessagesPerSecond": (1, 20_000)}
_TIMEFRAME = {"Cap": (0, 100), "Days": (0, 30)}

_ACTIVITY_ID = re.compile(r"[A-Za-z0-9]{1,100}")
_START_ACTIVITY = re.compile(r"[A-Za-z0-9]{1,128}")
_DIGITS = re.compile(r"[0-9]+")
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+", re.ASCII)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@-]{1,64}", re.ASCII)  # no path allowed


def _fail(at: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {at}: {why}")


def _missing(at: str, why: str) -> BadRequest:
    return BadRequest(f"Missing required member {at}: {why}")


# --- values -----------------------------------------------------------------------------------


def parse_duration(value: str, field: str) -> timedelta:
    """A request's ISO-8601 duration (PnW, PnDTnHnMnS; rules.journey_timing reads them), longer than zero."""
    try:
        duration = journey_timing.parse_duration(value)
    except ValueError as e:
        raise _fail(field, str(e)) from None
    if duration <= timedelta(0):
        raise _fail(field, f"'{value}': a duration must be longer than zero.")
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


def _check_range(value: object, low: int, high: int, at: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(at, f"must be a whole number from {low} to {high}.")


def _check_bounds(values: dict[str, Any], bounds: dict[str, tuple[int, int]], at: str) -> None:
    for name, (low, high) in bounds.items():
        if values.get(name) is not None:
            _check_range(values[name], low, high, f"{at}.{name}")


def _exactly_one(obj: dict[str, Any], members: Iterable[str], at: str) -> str:
    names = tuple(members)
    found = _at_most_one(obj, names, at)
    if found is None:
        raise _fail(at, f"set exactly one of {', '.join(names)} (0 set).")
    return found


def _at_most_one(obj: dict[str, Any], members: Iterable[str], at: str) -> str | None:
    """The one member set, or None when none is: a DRAFT may be half-built (rules/journey_drafts.py
    names what it lacks), but two at once is a contradiction."""
    names = tuple(members)
    given = [m for m in names if obj.get(m) is not None]
    if len(given) > 1:
        raise _fail(at, f"set exactly one of {', '.join(names)} ({len(given)} set).")
    return given[0] if given else None


# --- check_journey: activities ----------------------------------------------------------------


def _check_wait_time(wait: dict[str, Any] | None, at: str) -> None:
    wait = wait or {}
    member = _at_most_one(wait, ("WaitFor", "WaitUntil"), at)
    if member == "WaitFor":
        parse_duration(wait["WaitFor"], f"{at}.WaitFor")
    elif member == "WaitUntil":
        checked_instant(wait["WaitUntil"], f"{at}.WaitUntil")


def _check_event_dimensions(condition: dict[str, Any], at: str) -> None:
    # An EventCondition carries a bare EventDimensions; the event filter rules apply as they are.
    check_event_filter({"FilterType": "ENDPOINT", "Dimensions": condition.get("Dimensions")}, at)


def _check_simple_condition(condition: dict[str, Any] | None, at: str) -> None:
    # An empty condition, a SegmentCondition without its SegmentId and an EventCondition without
    # Dimensions are a DRAFT still being built: rules/journey_drafts.py.
    condition = condition or {}
    member = _at_most_one(condition, ("EventCondition", "SegmentCondition", "SegmentDimensions"), at)
    if member == "EventCondition" and condition[member].get("Dimensions") is not None:
        _check_event_dimensions(condition[member], f"{at}.{member}")
    elif member == "SegmentDimensions":
        check_dimensions(condition[member], f"{at}.{member}")


def _check_evaluation(body: dict[str, Any], at: str) -> None:
    if body.get("EvaluationWaitTime"):
        _check_wait_time(body["EvaluationWaitTime"], f"{at}.EvaluationWaitTime")


def _check_template_ref(body: dict[str, Any], at: str) -> None:
    if body.get("TemplateVersion") and not body.get("TemplateName"):
        raise _missing(f"{at}.TemplateName", "a TemplateVersion belongs to a TemplateName.")


def _check_push(body: dict[str, Any], at: str) -> None:
    _check_template_ref(body, at)
    ttl = (body.get("MessageConfig") or {}).get("TimeToLive")
    if ttl is not None and not _DIGITS.fullmatch(ttl):
        raise _fail(f"{at}.MessageConfig.TimeToLive", f"'{ttl}' is not a whole number of seconds.")


def _check_custom(body: dict[str, Any], at: str) -> None:
    _check_template_ref(body, at)
    if body.get("DeliveryUri") is not None:  # a DRAFT may lack it: the review says so
        check_delivery_uri(body["DeliveryUri"], f"{at}.DeliveryUri")
    data = (body.get("MessageConfig") or {}).get("Data")
    if data is not None and len(data) > MAX_CUSTOM_DATA:
        raise _fail(f"{at}.MessageConfig.Data", f"at most {MAX_CUSTOM_DATA:,} characters.")


def _check_wait(body: dict[str, Any], at: str) -> None:
    _check_wait_time(body.get("WaitTime"), f"{at}.WaitTime")


def _check_yes_no(body: dict[str, Any], at: str) -> None:
    conditions = (body.get("Condition") or {}).get("Conditions") or []
    for i, condition in enumerate(conditions):
        _check_simple_condition(condition, f"{at}.Condition.Conditions[{i}]")
    _check_evaluation(body, at)


def _check_multi(body: dict[str, Any], at: str) -> None:
    branches = body.get("Branches") or []
    if len(branches) > MAX_MULTI_BRANCHES:
        raise _fail(f"{at}.Branches", f"a multivariate split has 1 to {MAX_MULTI_BRANCHES} branches besides Else.")
    for i, branch in enumerate(branches):
        _check_simple_condition(branch.get("Condition"), f"{at}.Branches[{i}].Condition")
    _check_evaluation(body, at)


def _check_random(body: dict[str, Any], at: str) -> None:
    # Too few branches, a branch without its Percentage, shares that do not add up to 100: a
    # DRAFT still being built (rules/journey_drafts.py).
    branches = body.get("Branches") or []
    low, high = RANDOM_BRANCHES
    if len(branches) > high:
        raise _fail(f"{at}.Branches", f"a random split has {low} to {high} branches.")
    for i, branch in enumerate(branches):
        if branch.get("Percentage") is not None:
            _check_range(branch["Percentage"], 0, 100, f"{at}.Branches[{i}].Percentage")


def _check_holdout(body: dict[str, Any], at: str) -> None:
    if body.get("Percentage") is not None:
        _check_range(body["Percentage"], 0, 100, f"{at}.Percentage")


def _check_nothing(body: dict[str, Any], at: str) -> None:
    pass


_ACTIVITY_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "EMAIL": _check_template_ref,
    "SMS": _check_template_ref,
    "PUSH": _check_push,
    "CUSTOM": _check_custom,
    "Wait": _check_wait,
    "ConditionalSplit": _check_yes_no,
    "MultiCondition": _check_multi,
    "RandomSplit": _check_random,
    "Holdout": _check_holdout,
    "ContactCenter": _check_nothing,  # its journey-wide settings are checked with the journey
}


def _check_activities(activities: dict[str, Any]) -> None:
    at = f"{FIELD}.Activities"
    if len(activities) > MAX_ACTIVITIES:
        raise _fail(at, f"a journey has at most {MAX_ACTIVITIES} activities ({len(activities)} given).")
    for activity_id, activity in activities.items():
        where = f"{at}.{activity_id}"
        if not _ACTIVITY_ID.fullmatch(activity_id):
            raise _fail(where, "an activity id is 1 to 100 letters and digits.")
        kind = _exactly_one(activity, ACTIVITY_TYPES, where)
        _ACTIVITY_CHECKS[kind](activity[kind], f"{where}.{kind}")


def _check_contact_center(body: dict[str, Any]) -> None:
    count = sum(1 for a in (body.get("Activities") or {}).values() if a.get("ContactCenter") is not None)
    if count > MAX_CONTACT_CENTER:
        raise _fail(f"{FIELD}.Activities", f"a journey has at most {MAX_CONTACT_CENTER} ContactCenter activities.")
    settings = body.get("JourneyChannelSettings") or {}
    at = f"{FIELD}.JourneyChannelSettings"
    for member in ("ConnectCampaignArn", "ConnectCampaignExecutionRoleArn"):
        if count and not settings.get(member):
            raise _missing(f"{at}.{member}", "ContactCenter activities need the Amazon Connect campaign settings.")
    campaign, role = settings.get("ConnectCampaignArn"), settings.get("ConnectCampaignExecutionRoleArn")
    if campaign is not None and not _ARN.fullmatch(campaign):
        raise _fail(f"{at}.ConnectCampaignArn", f"'{campaign}' is not an ARN.")
    if role is not None and not _ROLE_ARN.fullmatch(role):
        raise _fail(
            f"{at}.ConnectCampaignExecutionRoleArn",
            f"'{role}' is not an IAM role ARN without a path (arn:aws:iam::123456789012:role/Name).",
        )


# --- check_journey: the journey as a whole ----------------------------------------------------


def _check_identity(body: dict[str, Any]) -> None:
    name = body.get("Name") or ""
    if not 1 <= len(name) <= MAX_NAME or any(c.isspace() for c in name):
        raise _fail(f"{FIELD}.Name", f"a journey name has 1 to {MAX_NAME} characters and no spaces.")
    state = body.get("State")
    if state not in (None, "DRAFT", "ACTIVE"):
        raise _fail(
            f"{FIELD}.State",
            f"'{state}' cannot be set by creating or updating a journey (DRAFT or ACTIVE); use UpdateJourneyState.",
        )
    start = body.get("StartActivity")
    if start is not None and not _START_ACTIVITY.fullmatch(start):
        raise _fail(f"{FIELD}.StartActivity", "an activity id is 1 to 128 letters and digits.")


def _check_start_condition(body: dict[str, Any]) -> None:
    start = body.get("StartCondition")
    if start is None:
        return  # a draft may leave it out; review() blocks publishing without one
    at = f"{FIELD}.StartCondition"
    member = _at_most_one(start, ("SegmentStartCondition", "EventStartCondition"), at)
    if member != "EventStartCondition":
        return  # the segment may be named later, as the condition itself may: review() says so
    where = f"{at}.{member}"
    if body.get("LocalTime"):
        raise _fail(f"{FIELD}.LocalTime", "local time is not supported for event-triggered journeys.")
    event_filter = start[member].get("EventFilter")
    if not event_filter:
        return  # the event may be chosen later: rules/journey_drafts.py
    check_event_filter(event_filter, f"{where}.EventFilter")
    # One event type starts a journey. Attribute values are alternatives; a MetricDimension holds one
    # Value by its shape, so "a metric cannot take several values" needs no check of its own.
    event_type = (event_filter.get("Dimensions") or {}).get("EventType") or {}
    if (event_type.get("DimensionType") or "INCLUSIVE") != "INCLUSIVE" or len(event_type.get("Values") or []) != 1:
        raise _fail(
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
                raise _fail(f"{at}.{member}", f"'{schedule[member]}' is not an ISO-8601 date and time.")
            times[member] = parsed
    label = schedule.get("Timezone")
    if label is not None and label not in UTC_OFFSETS:
        raise _fail(f"{at}.Timezone", f"'{label}' is not one of Pinpoint's offsets such as UTC, UTC+09 or UTC-03:30.")
    mismatch = offset_mismatch(schedule)
    if mismatch:
        raise BadRequest(f"{mismatch} ({at}.StartTime)")
    end = times.get("EndTime")
    if end is None:
        return
    start = times.get("StartTime")
    if end <= (start or now):
        raise _fail(f"{at}.EndTime", "must be later than StartTime." if start else "must be in the future.")
    if end - (start or now) > MAX_LIFETIME:
        raise _fail(f"{at}.EndTime", f"a journey runs at most {MAX_LIFETIME.days} days.")


def _check_entry(body: dict[str, Any]) -> None:
    refresh = body.get("RefreshFrequency")
    if refresh is not None and parse_duration(refresh, f"{FIELD}.RefreshFrequency") < MIN_REFRESH:
        raise _fail(f"{FIELD}.RefreshFrequency", "the segment is refreshed at most once an hour (PT1H).")
    if body.get("RefreshOnSegmentUpdate") and not refresh:
        raise _missing(f"{FIELD}.RefreshFrequency", "RefreshOnSegmentUpdate needs a refresh interval.")
    limits = body.get("Limits") or {}
    at = f"{FIELD}.Limits"
    _check_bounds(limits, _LIMITS, at)
    _check_bounds(limits.get("TimeframeCap") or {}, _TIMEFRAME, f"{at}.TimeframeCap")
    if limits.get("EndpointReentryInterval") is not None:
        parse_duration(limits["EndpointReentryInterval"], f"{at}.EndpointReentryInterval")
    methods = body.get("TimezoneEstimationMethods") or []
    if len(set(methods)) != len(methods):
        raise _fail(f"{FIELD}.TimezoneEstimationMethods", "each method may be listed once.")


def quiet_spans(quiet: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Quiet time as minute spans of a day (a window past midnight is two)."""
    start, end = parse_hhmm((quiet or {}).get("Start")), parse_hhmm((quiet or {}).get("End"))
    if start is None or end is None:
        return []
    return [(start, end)] if start <= end else [(start, 24 * 60), (0, end)]


def _check_open_hours(open_hours: dict[str, Any], quiet: dict[str, Any] | None) -> None:
    spans = quiet_spans(quiet)
    for channel, days in open_hours.items():
        for day, rules in (days or {}).items():
            at = f"{FIELD}.OpenHours.{channel}.{day}"
            if len(rules) > MAX_OPEN_WINDOWS:
                raise _fail(at, f"at most {MAX_OPEN_WINDOWS} open-hours windows a day.")
            for i, rule in enumerate(rules):
                start, end = (parse_hhmm(rule.get(m)) for m in ("StartTime", "EndTime"))
                if start is None or end is None:
                    member = "StartTime" if start is None else "EndTime"
                    raise _fail(f"{at}[{i}].{member}", f"'{rule.get(member)}' is not HH:MM (24-hour).")
                if start >= end:
                    raise _fail(f"{at}[{i}].EndTime", "must be later than StartTime on the same day.")
                # Windows that only touch quiet time (open 07:00-22:00, quiet 22:00-07:00) are fine.
                if any(start < q_end and q_start < end for q_start, q_end in spans):
                    raise _fail(f"{at}[{i}]", "open hours must lie outside the journey's QuietTime.")


def _check_closed_days(closed_days: dict[str, Any]) -> None:
    for channel, rules in closed_days.items():
        at = f"{FIELD}.ClosedDays.{channel}"
        if len(rules or []) > MAX_CLOSED_DAYS:
            raise _fail(at, f"at most {MAX_CLOSED_DAYS} closed-day rules per channel.")
        for i, rule in enumerate(rules or []):
            start = checked_instant(rule.get("StartDateTime"), f"{at}[{i}].StartDateTime")
            if checked_instant(rule.get("EndDateTime"), f"{at}[{i}].EndDateTime") <= start:
                raise _fail(f"{at}[{i}].EndDateTime", "must be later than StartDateTime.")


def _check_sending(body: dict[str, Any]) -> None:
    quiet = body.get("QuietTime")
    if quiet:
        check_quiet_time(quiet, f"{FIELD}.QuietTime")
    if body.get("SendingSchedule") and not quiet_spans(quiet):
        raise _missing(f"{FIELD}.QuietTime", "SendingSchedule needs QuietTime with Start and End.")
    _check_open_hours(body.get("OpenHours") or {}, quiet)
    _check_closed_days(body.get("ClosedDays") or {})


def check_journey(body: dict[str, Any], *, now: datetime) -> None:
    """Everything a CreateJourney/UpdateJourney request must satisfy regardless of the project's data."""
    _check_identity(body)
    _check_activities(body.get("Activities") or {})
    _check_contact_center(body)
    _check_start_condition(body)
    _check_schedule(body.get("Schedule") or {}, now)
    _check_entry(body)
    _check_sending(body)
