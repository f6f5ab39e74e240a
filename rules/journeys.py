"""Journey rules (PINPOINT.md §3.4 shapes, §4.5 behaviour, §7 quotas), pure functions.

`check_journey` holds a CreateJourney/UpdateJourney request (a WriteJourneyRequest already checked
against the model's types, enums and required members) to everything that needs no project data,
raising BadRequest that names the member path (`WriteJourneyRequest.Activities.welcome.EMAIL...`).
`review` looks at a stored definition with the project's facts passed in and lists what blocks
publishing (errors) and what is probably a mistake (warnings), so a DRAFT can be saved half-built.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from openpoint.errors import BadRequest
from rules import journey_timing
from rules.campaigns import UTC_OFFSETS
from rules.event_filters import check_event_filter
from rules.quiet_time import parse_hhmm
from rules.schedules import parse_timezone
from rules.segments import check_dimensions, parse_instant
from rules.settings import check_quiet_time

FIELD = "WriteJourneyRequest"
MAX_ACTIVITIES = 40  # [Q]
MAX_LIFETIME = timedelta(days=540)  # [Q]
MESSAGE_TYPES = ("EMAIL", "SMS", "PUSH", "CUSTOM")
ACTIVITY_TYPES = (
    *MESSAGE_TYPES,
    "Wait",
    "ConditionalSplit",
    "MultiCondition",
    "RandomSplit",
    "Holdout",
    "ContactCenter",
)
MAX_CONTACT_CENTER = 3  # [Q]
MAX_NAME = 150
MAX_MULTI_BRANCHES = 4  # plus the Else path: five in all
RANDOM_BRANCHES = (2, 5)
MAX_CUSTOM_DATA = 5_000  # characters, as the console counts them
MIN_REFRESH = timedelta(hours=1)  # the console's shortest refresh interval
MAX_OPEN_WINDOWS, MAX_CLOSED_DAYS = 4, 20  # per day / per channel, as the console allows
PUSH_CHANNELS = frozenset({"GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "ADM"})

# Member bounds from the model's documentation.
_LIMITS = {"DailyCap": (0, 100), "TotalCap": (0, 100), "EndpointReentryCap": (0, 100), "MessagesPerSecond": (1, 20_000)}
_TIMEFRAME = {"Cap": (0, 100), "Days": (0, 30)}

_ACTIVITY_ID = re.compile(r"[A-Za-z0-9]{1,100}")
_START_ACTIVITY = re.compile(r"[A-Za-z0-9]{1,128}")
_DIGITS = re.compile(r"[0-9]+")
_HTTPS = re.compile(r"https://[^/?#\s]+(?:[/?#]\S*)?", re.IGNORECASE)
_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9_$-]{1,128})?", re.ASCII
)
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+", re.ASCII)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@-]{1,64}", re.ASCII)  # no path allowed


def _fail(at: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {at}: {why}")


def _missing(at: str, why: str) -> BadRequest:
    return BadRequest(f"Missing required member {at}: {why}")


# --- activity anatomy -------------------------------------------------------------------------


def _next(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [("Next", body.get("NextActivity"))]


def _yes_no(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [("True", body.get("TrueActivity")), ("False", body.get("FalseActivity"))]


def _branches(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(f"Branch_{i}", b.get("NextActivity")) for i, b in enumerate(body.get("Branches") or [], start=1)]


def _branches_else(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [*_branches(body), ("Else", body.get("DefaultActivity"))]


_METRICS_AND_PATHS: dict[str, tuple[str, Callable[[dict[str, Any]], list[tuple[str, str | None]]]]] = {
    **{t: ("MESSAGE", _next) for t in MESSAGE_TYPES},
    "Wait": ("WAIT", _next),
    "ConditionalSplit": ("CONDITIONAL_SPLIT", _yes_no),
    "MultiCondition": ("MULTI_CONDITIONAL_SPLIT", _branches_else),
    "RandomSplit": ("RANDOM_SPLIT", _branches),
    "Holdout": ("HOLDOUT", _next),
    "ContactCenter": ("CONTACT_CENTER", _next),
}
_SPLITS = ("ConditionalSplit", "MultiCondition", "RandomSplit")


def _types_set(activity: dict[str, Any]) -> list[str]:
    return [t for t in ACTIVITY_TYPES if activity.get(t) is not None]


def activity_type(activity: dict[str, Any]) -> str:
    """The one type member the activity sets (it has passed check_journey)."""
    kinds = _types_set(activity)
    if len(kinds) != 1:
        raise ValueError(f"an activity sets exactly one type member, not {kinds}.")
    return kinds[0]


def metrics_type(activity: dict[str, Any]) -> str:
    """The ActivityType that execution metrics report for the activity (§6.3)."""
    return _METRICS_AND_PATHS[activity_type(activity)][0]


def _paths(activity: dict[str, Any]) -> list[tuple[str, str | None]]:
    kind = activity_type(activity)
    return _METRICS_AND_PATHS[kind][1](activity[kind])


def successors(activity: dict[str, Any]) -> list[tuple[str, str]]:
    """(path label, next activity id) in path order; a path without a next activity ends there."""
    return [(label, target) for label, target in _paths(activity) if target]


def _conditions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SimpleCondition a split tests."""
    kind, body = activity_type(activity), activity[activity_type(activity)]
    if kind == "ConditionalSplit":
        return list((body.get("Condition") or {}).get("Conditions") or [])
    if kind == "MultiCondition":
        return [b["Condition"] for b in body.get("Branches") or [] if b.get("Condition")]
    return []


def _wait_time(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The WaitTime that holds participants in the activity, if any."""
    kind, body = activity_type(activity), activity[activity_type(activity)]
    if kind == "Wait":
        return body.get("WaitTime") or None
    return (body.get("EvaluationWaitTime") or None) if kind in ("ConditionalSplit", "MultiCondition") else None


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


def _instant(value: object, at: str) -> datetime:
    parsed = parse_instant(value) if isinstance(value, str) else None
    if parsed is None:
        raise _fail(at, f"'{value}' is not an ISO-8601 date and time.")
    return parsed


def _schedule_time(value: object) -> datetime | None:
    """A JourneySchedule time, keeping the UTC offset it was written with (no offset: UTC)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or parse_instant(value) is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_text(value: object) -> str:
    if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _offset_mismatch(schedule: dict[str, Any]) -> str | None:
    """Pinpoint's refusal of a StartTime written with another offset than Schedule.Timezone."""
    label, start = schedule.get("Timezone"), _schedule_time(schedule.get("StartTime"))
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
    given = [m for m in names if obj.get(m) is not None]
    if len(given) != 1:
        raise _fail(at, f"set exactly one of {', '.join(names)} ({len(given)} set).")
    return given[0]


# --- check_journey: activities ----------------------------------------------------------------


def _check_wait_time(wait: dict[str, Any] | None, at: str) -> None:
    wait = wait or {}
    if _exactly_one(wait, ("WaitFor", "WaitUntil"), at) == "WaitFor":
        parse_duration(wait["WaitFor"], f"{at}.WaitFor")
    else:
        _instant(wait["WaitUntil"], f"{at}.WaitUntil")


def _check_event_dimensions(condition: dict[str, Any], at: str) -> None:
    # An EventCondition carries a bare EventDimensions; the event filter rules apply as they are.
    check_event_filter({"FilterType": "ENDPOINT", "Dimensions": condition.get("Dimensions")}, at)


def _check_simple_condition(condition: dict[str, Any] | None, at: str) -> None:
    condition = condition or {}
    member = _exactly_one(condition, ("EventCondition", "SegmentCondition", "SegmentDimensions"), at)
    body, where = condition[member], f"{at}.{member}"
    if member == "EventCondition":
        _check_event_dimensions(body, where)
    elif member == "SegmentDimensions":
        check_dimensions(body, where)
    elif not body.get("SegmentId"):
        raise _missing(f"{where}.SegmentId", "name the segment to test.")


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
    uri = body.get("DeliveryUri")
    if uri is not None and not (_HTTPS.fullmatch(uri) or _LAMBDA_ARN.fullmatch(uri)):
        raise _fail(f"{at}.DeliveryUri", f"'{uri}' is neither an https:// URL nor a Lambda function ARN.")
    data = (body.get("MessageConfig") or {}).get("Data")
    if data is not None and len(data) > MAX_CUSTOM_DATA:
        raise _fail(f"{at}.MessageConfig.Data", f"at most {MAX_CUSTOM_DATA:,} characters.")


def _check_wait(body: dict[str, Any], at: str) -> None:
    _check_wait_time(body.get("WaitTime"), f"{at}.WaitTime")


def _check_yes_no(body: dict[str, Any], at: str) -> None:
    conditions = (body.get("Condition") or {}).get("Conditions") or []
    if not conditions:
        raise _missing(f"{at}.Condition.Conditions", "a yes/no split tests at least one condition.")
    for i, condition in enumerate(conditions):
        _check_simple_condition(condition, f"{at}.Condition.Conditions[{i}]")
    _check_evaluation(body, at)


def _check_multi(body: dict[str, Any], at: str) -> None:
    branches = body.get("Branches") or []
    if not 1 <= len(branches) <= MAX_MULTI_BRANCHES:
        raise _fail(f"{at}.Branches", f"a multivariate split has 1 to {MAX_MULTI_BRANCHES} branches besides Else.")
    for i, branch in enumerate(branches):
        _check_simple_condition(branch.get("Condition"), f"{at}.Branches[{i}].Condition")
    _check_evaluation(body, at)


def _check_random(body: dict[str, Any], at: str) -> None:
    branches = body.get("Branches") or []
    low, high = RANDOM_BRANCHES
    if not low <= len(branches) <= high:
        raise _fail(f"{at}.Branches", f"a random split has {low} to {high} branches.")
    for i, branch in enumerate(branches):
        _check_range(branch.get("Percentage"), 0, 100, f"{at}.Branches[{i}].Percentage")
    if sum(b["Percentage"] for b in branches) != 100:
        raise _fail(f"{at}.Branches", "the branches' Percentage must add up to exactly 100.")


def _check_holdout(body: dict[str, Any], at: str) -> None:
    _check_range(body.get("Percentage"), 0, 100, f"{at}.Percentage")


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
    member = _exactly_one(start, ("SegmentStartCondition", "EventStartCondition"), at)
    condition, where = start[member], f"{at}.{member}"
    if member == "SegmentStartCondition":
        if not condition.get("SegmentId"):
            raise _missing(f"{where}.SegmentId", "name the segment whose members enter the journey.")
        return
    event_filter = condition.get("EventFilter")
    if not event_filter:
        raise _missing(f"{where}.EventFilter", "an event-triggered journey needs the event that starts it.")
    check_event_filter(event_filter, f"{where}.EventFilter")
    # One event type starts a journey. Attribute values are alternatives; a MetricDimension holds one
    # Value by its shape, so "a metric cannot take several values" needs no check of its own.
    event_type = (event_filter.get("Dimensions") or {}).get("EventType") or {}
    if (event_type.get("DimensionType") or "INCLUSIVE") != "INCLUSIVE" or len(event_type.get("Values") or []) != 1:
        raise _fail(
            f"{where}.EventFilter.Dimensions.EventType",
            "an event-triggered journey starts on exactly one event type (INCLUSIVE, one value).",
        )
    if body.get("LocalTime"):
        raise _fail(f"{FIELD}.LocalTime", "local time is not supported for event-triggered journeys.")


def _check_schedule(schedule: dict[str, Any], now: datetime) -> None:
    at = f"{FIELD}.Schedule"
    times: dict[str, datetime] = {}
    for member in ("StartTime", "EndTime"):
        if schedule.get(member) is not None:
            parsed = _schedule_time(schedule[member])
            if parsed is None:
                raise _fail(f"{at}.{member}", f"'{schedule[member]}' is not an ISO-8601 date and time.")
            times[member] = parsed
    label = schedule.get("Timezone")
    if label is not None and label not in UTC_OFFSETS:
        raise _fail(f"{at}.Timezone", f"'{label}' is not one of Pinpoint's offsets such as UTC, UTC+09 or UTC-03:30.")
    mismatch = _offset_mismatch(schedule)
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


def _quiet_spans(quiet: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Quiet time as minute spans of a day (a window past midnight is two)."""
    start, end = parse_hhmm((quiet or {}).get("Start")), parse_hhmm((quiet or {}).get("End"))
    if start is None or end is None:
        return []
    return [(start, end)] if start <= end else [(start, 24 * 60), (0, end)]


def _check_open_hours(open_hours: dict[str, Any], quiet: dict[str, Any] | None) -> None:
    spans = _quiet_spans(quiet)
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
            start = _instant(rule.get("StartDateTime"), f"{at}[{i}].StartDateTime")
            if _instant(rule.get("EndDateTime"), f"{at}[{i}].EndDateTime") <= start:
                raise _fail(f"{at}[{i}].EndDateTime", "must be later than StartDateTime.")


def _check_sending(body: dict[str, Any]) -> None:
    quiet = body.get("QuietTime")
    if quiet:
        check_quiet_time(quiet, f"{FIELD}.QuietTime")
    if body.get("SendingSchedule") and not _quiet_spans(quiet):
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


# --- review -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    activity: str | None  # the activity it is about; None: the journey as a whole
    code: str
    message: str


@dataclass(frozen=True)
class ProjectFacts:
    """What the API looked up in the project, passed in so that review stays pure."""

    templates: frozenset[tuple[str, str]]  # (template type, name)
    template_versions: frozenset[tuple[str, str, str]]  # (template type, name, version)
    channels: frozenset[str]  # enabled channel types
    segments: frozenset[str]  # segment ids
    now: datetime


class _Message(NamedTuple):
    template_type: str  # the template type TemplateName refers to
    channels: frozenset[str]  # one of them must be enabled; empty: none needed
    channel_words: str
    content: str  # the member without which nothing is sent
    content_words: str


_MESSAGES = {
    "EMAIL": _Message("EMAIL", frozenset({"EMAIL"}), "the EMAIL channel", "TemplateName", "an email template"),
    "SMS": _Message("SMS", frozenset({"SMS"}), "the SMS channel", "TemplateName", "an SMS template"),
    "PUSH": _Message("PUSH", PUSH_CHANNELS, "a push channel (GCM, APNS, BAIDU or ADM)", "TemplateName", "a template"),
    "CUSTOM": _Message("PUSH", frozenset(), "", "DeliveryUri", "a DeliveryUri"),
}


class _Journey:
    """A definition under review, with its activity graph."""

    def __init__(self, definition: dict[str, Any], facts: ProjectFacts) -> None:
        self.definition, self.facts = definition, facts
        self.activities: dict[str, dict[str, Any]] = dict(definition.get("Activities") or {})
        # activity id -> the next ids that name activities, in path order
        self.graph: dict[str, list[str]] = {
            a: [t for _, t in successors(act) if t in self.activities] for a, act in self.activities.items()
        }

    @property
    def start(self) -> str | None:
        start = self.definition.get("StartActivity")
        return start if start in self.activities else None

    def of_type(self, *kinds: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(id, activity, type) of the activities of those types, in id order."""
        for activity_id in sorted(self.activities):
            activity = self.activities[activity_id]
            if activity_type(activity) in kinds:
                yield activity_id, activity, activity_type(activity)

    def reach(self, roots: Iterable[str], stop: Callable[[str], bool] = lambda _: False) -> set[str]:
        """Activities reachable from `roots` (included), not going on from those `stop` accepts."""
        seen: set[str] = set()
        todo = [r for r in roots if r in self.activities]
        while todo:
            activity_id = todo.pop()
            if activity_id not in seen:
                seen.add(activity_id)
                if not stop(activity_id):
                    todo += self.graph[activity_id]
        return seen

    def bypasses(self, target: str, via: str) -> bool:
        """Whether some path from the start reaches `target` without passing `via`."""
        return self.start is not None and target in self.reach([self.start], stop=lambda a: a == via)

    def loop_entries(self) -> set[str]:
        """One activity of each loop: where a depth-first walk from the start comes back."""
        done: set[str] = set()
        found: set[str] = set()
        roots = [*([self.start] if self.start else []), *sorted(self.activities)]
        for root in roots:
            if root in done:
                continue
            stack, on_path = [(root, iter(self.graph[root]))], {root}
            while stack:
                node, nexts = stack[-1]
                target = next(nexts, None)
                if target is None:
                    stack.pop()
                    on_path.discard(node)
                    done.add(node)
                elif target in on_path:
                    found.add(target)
                elif target not in done:
                    stack.append((target, iter(self.graph[target])))
                    on_path.add(target)
        return found

    def segment_missing(self, segment_id: object) -> bool:
        return isinstance(segment_id, str) and segment_id not in self.facts.segments


_Rule = Callable[[_Journey], Iterator[Finding]]


def _start_findings(j: _Journey) -> Iterator[Finding]:
    start, condition = j.definition.get("StartActivity"), j.definition.get("StartCondition") or {}
    if j.start is None:
        why = f"its StartActivity '{start}' is not one of its activities" if start else "it has no StartActivity"
        yield Finding(start or None, "NO_START_ACTIVITY", f"The journey cannot start: {why}.")
    if not (condition.get("SegmentStartCondition") or condition.get("EventStartCondition")):
        yield Finding(None, "NO_START_CONDITION", "The journey has no StartCondition, so no one would enter it.")
    for member in ("SegmentStartCondition", "EventStartCondition"):
        segment_id = (condition.get(member) or {}).get("SegmentId")
        if j.segment_missing(segment_id):
            yield Finding(None, "MISSING_SEGMENT", f"The StartCondition's segment '{segment_id}' does not exist.")
    if len(j.activities) > MAX_ACTIVITIES:
        why = f"The journey has {len(j.activities)} activities; at most {MAX_ACTIVITIES} are allowed."
        yield Finding(None, "TOO_MANY_ACTIVITIES", why)
    mismatch = _offset_mismatch(j.definition.get("Schedule") or {})
    if mismatch:
        yield Finding(None, "SCHEDULE_OFFSET_MISMATCH", f"{mismatch}.")


def _graph_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity in sorted(j.activities.items()):
        for label, target in successors(activity):
            if target not in j.activities:
                why = f"Path {label} of activity '{activity_id}' leads to '{target}', which is not an activity."
                yield Finding(activity_id, "MISSING_NEXT_ACTIVITY", why)
    unreachable = set(j.activities) - j.reach([j.start]) if j.start else set()
    for activity_id in sorted(unreachable):
        yield Finding(
            activity_id, "UNREACHABLE_ACTIVITY", f"Activity '{activity_id}' cannot be reached from the start."
        )
    for activity_id in sorted(j.loop_entries()):
        yield Finding(activity_id, "CYCLE", f"Activity '{activity_id}' is on a loop: the journey leads back to it.")


def _message_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity, kind in j.of_type(*MESSAGE_TYPES):
        body, spec = activity[kind], _MESSAGES[kind]
        name, version, what = body.get("TemplateName"), body.get("TemplateVersion"), f"{kind} activity '{activity_id}'"
        if name and (spec.template_type, name) not in j.facts.templates:
            why = f"The {what} uses the {spec.template_type} template '{name}', which does not exist."
            yield Finding(activity_id, "MISSING_TEMPLATE", why)
        elif name and version and (spec.template_type, name, version) not in j.facts.template_versions:
            why = f"The {what} uses version '{version}' of template '{name}', which does not exist."
            yield Finding(activity_id, "MISSING_TEMPLATE", why)
        if not body.get(spec.content):
            yield Finding(activity_id, "NO_CONTENT", f"The {what} sends nothing: it needs {spec.content_words}.")
        if spec.channels and not spec.channels & j.facts.channels:
            why = f"The {what} needs {spec.channel_words}, which the project has not enabled."
            yield Finding(activity_id, "CHANNEL_NOT_ENABLED", why)


def _unsupported_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity, kind in j.of_type("ContactCenter", "CUSTOM"):
        if kind == "ContactCenter":
            why = f"ContactCenter activity '{activity_id}' cannot run: OpenPoint cannot dial through Amazon Connect."
            yield Finding(activity_id, "CONTACT_CENTER_UNSUPPORTED", why)
        elif _LAMBDA_ARN.fullmatch(activity[kind].get("DeliveryUri") or ""):
            why = f"CUSTOM activity '{activity_id}' names a Lambda function; OpenPoint delivers by https:// webhook."
            yield Finding(activity_id, "LAMBDA_NOT_SUPPORTED", why)


def _wait_findings(j: _Journey) -> Iterator[Finding]:
    end = _schedule_time((j.definition.get("Schedule") or {}).get("EndTime"))
    for activity_id, activity, _kind in j.of_type("Wait", "ConditionalSplit", "MultiCondition"):
        raw = (_wait_time(activity) or {}).get("WaitUntil")
        until = parse_instant(raw) if isinstance(raw, str) else None
        if until is not None and end is not None and until >= end:
            yield Finding(activity_id, "WAIT_PAST_END", f"Activity '{activity_id}' waits until the journey has ended.")
        if until is not None and until < j.facts.now:
            yield Finding(activity_id, "WAIT_IN_PAST", f"Activity '{activity_id}' waits until a time that has passed.")


def _condition_findings(j: _Journey) -> Iterator[Finding]:
    messages = {activity_id for activity_id, _activity, _kind in j.of_type(*MESSAGE_TYPES)}
    for activity_id, activity, _kind in j.of_type("ConditionalSplit", "MultiCondition"):
        for condition in _conditions(activity):
            segment_id = (condition.get("SegmentCondition") or {}).get("SegmentId")
            if j.segment_missing(segment_id):
                why = f"Activity '{activity_id}' tests segment '{segment_id}', which does not exist."
                yield Finding(activity_id, "MISSING_SEGMENT", why)
            source = (condition.get("EventCondition") or {}).get("MessageActivity")
            if condition.get("EventCondition") is None:
                continue
            if source not in messages:
                why = f"Activity '{activity_id}' tests engagement with '{source}', which is not a message activity."
                yield Finding(activity_id, "UNKNOWN_MESSAGE_ACTIVITY", why)
            elif j.bypasses(activity_id, source):
                why = f"Activity '{activity_id}' tests engagement with '{source}', which some participants skip."
                yield Finding(activity_id, "MESSAGE_ACTIVITY_NOT_BEFORE_SPLIT", why)


def _journey_warnings(j: _Journey) -> Iterator[Finding]:
    definition = j.definition
    if not (definition.get("Schedule") or {}).get("EndTime"):
        why = f"The journey has no EndTime, so it runs for {MAX_LIFETIME.days} days, the longest allowed."
        yield Finding(None, "NO_END_TIME", why)
    if not _quiet_spans(definition.get("QuietTime")) and any(j.of_type(*MESSAGE_TYPES)):
        why = "The journey has no QuietTime, so its messages may go out at night unless the project sets one."
        yield Finding(None, "NO_QUIET_TIME", why)
    if (definition.get("OpenHours") or definition.get("ClosedDays")) and not definition.get("SendingSchedule"):
        why = "The journey's OpenHours and ClosedDays are ignored because SendingSchedule is not true."
        yield Finding(None, "SENDING_SCHEDULE_OFF", why)


def _split_warnings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity, _kind in j.of_type(*_SPLITS):
        for label, target in _paths(activity):
            if not target:
                why = f"Path {label} of activity '{activity_id}' leads to no activity, so it ends the journey."
                yield Finding(activity_id, "EMPTY_PATH", why)
        if _wait_time(activity) is not None:
            continue  # evaluated later than arrival
        sources = {c["EventCondition"].get("MessageActivity") for c in _conditions(activity) if c.get("EventCondition")}
        for source in sorted(s for s in sources if s in j.activities):
            # Waits and timed splits between the message and this split give engagement time to happen.
            if activity_id in j.reach(j.graph[source], stop=lambda a: _wait_time(j.activities[a]) is not None):
                why = (
                    f"Activity '{activity_id}' tests engagement with '{source}' as participants arrive, before they "
                    "can have engaged: give it an EvaluationWaitTime or put a Wait before it."
                )
                yield Finding(activity_id, "SPLIT_WITHOUT_WAIT_AFTER_MESSAGE", why)


_ERRORS: tuple[_Rule, ...] = (
    _start_findings,
    _graph_findings,
    _message_findings,
    _unsupported_findings,
    _wait_findings,
    _condition_findings,
)
_WARNINGS: tuple[_Rule, ...] = (_journey_warnings, _split_warnings)


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.activity is not None, f.activity or "", f.code, f.message))


def review(definition: dict[str, Any], facts: ProjectFacts) -> tuple[list[Finding], list[Finding]]:
    """(errors, warnings) of a stored journey definition (one that passed check_journey); errors block
    publishing (State ACTIVE), warnings do not. Sorted by activity (the journey's own first), then code."""
    journey = _Journey(definition, facts)
    return (
        _ordered(f for rule in _ERRORS for f in rule(journey)),
        _ordered(f for rule in _WARNINGS for f in rule(journey)),
    )
