"""WriteCampaignRequest rules the botocore model cannot express.

The request has already been checked against the model (types, enums, required members of
nested shapes such as Schedule.StartTime), so what is left: the members Pinpoint requires although
the model does not, schedule times, time zones, percentages, limits, message sizes, and which
channels and delivery targets OpenPoint serves. Checks that need the database (the segment, the
templates, the quota of event campaigns) take the facts as arguments, so everything here is pure.
Errors name the member path (`WriteCampaignRequest.AdditionalTreatments[1].SizePercent`).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from openpoint.errors import BadRequest
from rules.event_filters import check_event_filter
from rules.instants import checked_instant
from rules.lambdas import check_delivery_uri
from rules.settings import check_campaign_limits, check_hook, check_quiet_time

FIELD = "WriteCampaignRequest"
IMMEDIATE = "IMMEDIATE"
EVENT = "EVENT"
MAX_ADDITIONAL_TREATMENTS = 4  # five treatments in all [UG]
MAX_EVENT_CAMPAIGNS = 25  # per project [Q]
MAX_PUSH_BODY = 200
MAX_CUSTOM_DATA = 5 * 1024  # bytes
MAX_HEADERS, MAX_HEADER_NAME, MAX_HEADER_VALUE = 15, 126, 870
# Clients compute "now + a little" and the request takes time to arrive.
START_GRACE = timedelta(seconds=5)

# Schedule.Timezone labels: the model's list plus the quarter/half-hour offsets journeys accept.
_ODD_OFFSETS = (
    "UTC+03:30 UTC+04:30 UTC+05:30 UTC+05:45 UTC+06:30 UTC+08:45 UTC+09:30 UTC+10:30 UTC+12:45 UTC+13:45"
    " UTC-02:30 UTC-03:30 UTC-09:30"
).split()
UTC_OFFSETS = frozenset(
    ["UTC", *(f"UTC+{h:02d}" for h in range(1, 14)), *(f"UTC-{h:02d}" for h in range(2, 12)), *_ODD_OFFSETS]
)

PUSH_MESSAGES = ("ADMMessage", "APNSMessage", "BaiduMessage", "DefaultMessage", "GCMMessage")
# Members whose text is rendered per recipient, per MessageConfiguration member.
_RENDERED = {
    **{
        m: (
            "Title",
            "Body",
            "Url",
            "ImageUrl",
            "ImageIconUrl",
            "ImageSmallIconUrl",
            "MediaUrl",
            "RawContent",
            "JsonBody",
        )
        for m in PUSH_MESSAGES
    },
    "EmailMessage": ("Title", "Body", "HtmlBody"),
    "SMSMessage": ("Body",),
    "CustomMessage": ("Data",),
}
# TemplateConfiguration member -> template type; VoiceTemplate is refused for campaigns.
TEMPLATE_TYPES = {"EmailTemplate": "EMAIL", "PushTemplate": "PUSH", "SMSTemplate": "SMS", "InAppTemplate": "INAPP"}


class TemplateRef(NamedTuple):
    template_type: str
    name: str
    version: str | None
    field: str


def _fail(field: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {field}: {why}")


def own_schedules(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Additional treatments that carry a Schedule of their own: each runs on it, apart."""
    return {t["Id"]: t["Schedule"] for t in definition.get("AdditionalTreatments") or [] if t.get("Schedule")}


def frequency(request: dict[str, Any]) -> str:
    return str((request.get("Schedule") or {}).get("Frequency", "ONCE"))


def check_campaign(
    request: dict[str, Any], *, now: datetime, accepted_starts: frozenset[str] = frozenset(), field: str = FIELD
) -> None:
    """Every rule that needs no database. `accepted_starts` are the StartTimes of the version
    being replaced: an update may keep a start that has passed (to pause a running recurring
    campaign, say), but may not move a start into the past."""
    for member in ("SegmentId", "Name", "Schedule"):
        if not request.get(member):
            raise BadRequest(f"Missing required member {field}.{member}.")
    schedule = request["Schedule"]
    check_schedule(schedule, f"{field}.Schedule", now=now, accepted_starts=accepted_starts)
    if request.get("IsPaused") and schedule["StartTime"] == IMMEDIATE:
        raise _fail(f"{field}.IsPaused", "a campaign whose StartTime is IMMEDIATE cannot be paused.")
    if not _has_content(request):
        raise BadRequest(
            f"Missing required member {field}.MessageConfiguration: "
            "a campaign needs a MessageConfiguration or a TemplateConfiguration."
        )
    _check_percentages(request, field)
    for path, treatment in _treatments(request, field):
        _check_treatment(treatment, path)
        if path != field and treatment.get("Schedule"):
            check_schedule(treatment["Schedule"], f"{path}.Schedule", now=now, accepted_starts=accepted_starts)
    if request.get("Limits"):
        check_campaign_limits(request["Limits"], f"{field}.Limits")
    if request.get("Hook"):
        check_hook(request["Hook"], f"{field}.Hook")


def check_schedule(
    schedule: dict[str, Any], field: str, *, now: datetime, accepted_starts: frozenset[str] = frozenset()
) -> None:
    freq = schedule.get("Frequency", "ONCE")
    if freq == "IN_APP_EVENT":
        raise _fail(f"{field}.Frequency", "in-app campaigns (IN_APP_EVENT) are not supported by OpenPoint.")
    if freq == EVENT and not schedule.get("EventFilter"):
        raise BadRequest(f"Missing required member {field}.EventFilter: an EVENT campaign needs an event filter.")
    if schedule.get("EventFilter"):
        check_event_filter(schedule["EventFilter"], f"{field}.EventFilter")
    raw_start = schedule["StartTime"]
    start = now if raw_start == IMMEDIATE else _instant(raw_start, f"{field}.StartTime")
    if raw_start not in accepted_starts and start < now - START_GRACE:
        raise BadRequest("StartTime must be at least current time.")
    if schedule.get("EndTime") is not None:
        end = _instant(schedule["EndTime"], f"{field}.EndTime")
        if end <= start:
            raise _fail(f"{field}.EndTime", "EndTime must be later than StartTime.")
    if schedule.get("Timezone") is not None and not is_timezone(schedule["Timezone"]):
        raise _fail(
            f"{field}.Timezone",
            f"'{schedule['Timezone']}' is not a UTC offset label such as UTC, UTC+05:30 or UTC-08"
            " (nor an IANA time zone name).",
        )
    if schedule.get("QuietTime"):
        check_quiet_time(schedule["QuietTime"], f"{field}.QuietTime")


def _instant(value: str, field: str) -> datetime:
    # A run in year 9999 would overflow the schedule's day arithmetic: checked_instant bounds it.
    return checked_instant(value, field, expected="IMMEDIATE or an ISO-8601 date and time")


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(label: str) -> bool:
    """Pinpoint's UTC offset labels; IANA names (Europe/Paris) are an OpenPoint extension."""
    return label in UTC_OFFSETS or label in _iana_names()


def _has_content(request: dict[str, Any]) -> bool:
    return bool(request.get("MessageConfiguration")) or any(
        (request.get("TemplateConfiguration") or {}).get(m) for m in (*TEMPLATE_TYPES, "VoiceTemplate")
    )


def _treatments(request: dict[str, Any], field: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(member path, treatment) for the default treatment (the request itself) and each of the
    AdditionalTreatments."""
    yield field, request
    for i, treatment in enumerate(request.get("AdditionalTreatments") or []):
        yield f"{field}.AdditionalTreatments[{i}]", treatment


def _check_percentages(request: dict[str, Any], field: str) -> None:
    holdout = request.get("HoldoutPercent", 0)
    if not 0 <= holdout <= 100:
        raise _fail(f"{field}.HoldoutPercent", "must be between 0 and 100.")
    additional = request.get("AdditionalTreatments") or []
    if len(additional) > MAX_ADDITIONAL_TREATMENTS:
        raise _fail(
            f"{field}.AdditionalTreatments",
            f"a campaign has at most {MAX_ADDITIONAL_TREATMENTS} additional treatments (5 in all).",
        )
    for i, treatment in enumerate(additional):
        if not 0 <= treatment["SizePercent"] <= 100:
            raise _fail(f"{field}.AdditionalTreatments[{i}].SizePercent", "must be between 0 and 100.")
    if holdout + sum(t["SizePercent"] for t in additional) > 100:
        raise _fail(
            f"{field}.AdditionalTreatments",
            "HoldoutPercent and the treatments' SizePercent add up to more than 100.",
        )


def _check_treatment(treatment: dict[str, Any], field: str) -> None:
    templates = treatment.get("TemplateConfiguration") or {}
    if templates.get("VoiceTemplate"):
        raise _fail(f"{field}.TemplateConfiguration.VoiceTemplate", "voice templates are not supported for campaigns.")
    for member in TEMPLATE_TYPES:
        if member in templates and not templates[member].get("Name"):
            raise BadRequest(f"Missing required member {field}.TemplateConfiguration.{member}.Name.")
    config = treatment.get("MessageConfiguration") or {}
    for member in PUSH_MESSAGES:
        body = (config.get(member) or {}).get("Body")
        if body is not None and len(body) > MAX_PUSH_BODY:
            raise _fail(f"{field}.MessageConfiguration.{member}.Body", f"at most {MAX_PUSH_BODY} characters.")
    data = (config.get("CustomMessage") or {}).get("Data")
    if data is not None and len(data.encode()) > MAX_CUSTOM_DATA:
        raise _fail(f"{field}.MessageConfiguration.CustomMessage.Data", "at most 5 KB.")
    _check_headers(
        (config.get("EmailMessage") or {}).get("Headers") or [], f"{field}.MessageConfiguration.EmailMessage"
    )
    custom = treatment.get("CustomDeliveryConfiguration")
    if custom is not None:
        check_delivery_uri(custom["DeliveryUri"], f"{field}.CustomDeliveryConfiguration.DeliveryUri")


def _check_headers(headers: list[dict[str, Any]], field: str) -> None:
    if len(headers) > MAX_HEADERS:
        raise _fail(f"{field}.Headers", f"at most {MAX_HEADERS} headers.")
    for i, header in enumerate(headers):
        if not 1 <= len(header.get("Name") or "") <= MAX_HEADER_NAME:
            raise _fail(f"{field}.Headers[{i}].Name", f"a header name has 1 to {MAX_HEADER_NAME} characters.")
        if len(header.get("Value") or "") > MAX_HEADER_VALUE:
            raise _fail(f"{field}.Headers[{i}].Value", f"a header value has at most {MAX_HEADER_VALUE} characters.")


def check_segment_use(request: dict[str, Any], segment_type: str, event_campaigns: int, field: str = FIELD) -> None:
    """Event campaigns need a dynamic segment and fit a per-project quota; `event_campaigns`
    counts the project's other event campaigns."""
    if frequency(request) != EVENT:
        return
    if segment_type == "IMPORT":
        raise _fail(f"{field}.SegmentId", "an EVENT campaign needs a dynamic segment, not an imported one.")
    if event_campaigns >= MAX_EVENT_CAMPAIGNS:
        raise _fail(
            f"{field}.Schedule.Frequency", f"a project has at most {MAX_EVENT_CAMPAIGNS} event-triggered campaigns."
        )


def template_refs(request: dict[str, Any], field: str = FIELD) -> list[TemplateRef]:
    """Every template the campaign's treatments name, for the caller to resolve."""
    refs = []
    for path, treatment in _treatments(request, field):
        templates = treatment.get("TemplateConfiguration") or {}
        for member, template_type in TEMPLATE_TYPES.items():
            ref = templates.get(member)
            if ref:
                refs.append(
                    TemplateRef(
                        template_type, ref["Name"], ref.get("Version"), f"{path}.TemplateConfiguration.{member}"
                    )
                )
    return refs


def rendered_texts(request: dict[str, Any], field: str = FIELD) -> list[tuple[str, str]]:
    """(text, member path) of every inline text rendered per recipient, for syntax checks."""
    out = []
    for path, treatment in _treatments(request, field):
        config = treatment.get("MessageConfiguration") or {}
        for member, names in _RENDERED.items():
            message = config.get(member) or {}
            out += [(message[n], f"{path}.MessageConfiguration.{member}.{n}") for n in names if message.get(n)]
    return out


def start_times(definition: dict[str, Any]) -> frozenset[str]:
    """The StartTimes a stored definition's schedules name (the campaign's and its treatments')."""
    return frozenset(t["Schedule"]["StartTime"] for _path, t in _treatments(definition, FIELD) if t.get("Schedule"))


def stored_definition(request: dict[str, Any]) -> dict[str, Any]:
    """The version's definition: the request without tags (TagResource owns them), each
    additional treatment numbered from "1" in order ("0" is the default treatment)."""
    definition = {k: v for k, v in request.items() if k != "tags"}
    if "AdditionalTreatments" in definition:
        definition["AdditionalTreatments"] = [
            {**t, "Id": str(i)} for i, t in enumerate(definition["AdditionalTreatments"], start=1)
        ]
    return definition
