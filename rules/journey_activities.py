"""Journey request rules for the activities (PINPOINT.md §3.4 shapes, §7 quotas): what each
kind of activity must hold to be well-formed, and the ContactCenter settings they need. A DRAFT
may be half-built: what an activity still lacks is a review error (rules/journey_drafts.py), not a
refusal here; only what is malformed is refused. The graph the activities form is
rules/journey_graph.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rules.event_filters import check_event_filter
from rules.instants import checked_instant
from rules.journey_graph import ACTIVITY_TYPES
from rules.journey_values import FIELD, at_most_one, check_range, exactly_one, fail, missing, parse_duration
from rules.lambdas import check_delivery_uri
from rules.segments import check_dimensions

MAX_ACTIVITIES = 40  # [Q]
MAX_CONTACT_CENTER = 3  # [Q]
MAX_MULTI_BRANCHES = 4  # plus the Else path: five in all
RANDOM_BRANCHES = (2, 5)
MAX_CUSTOM_DATA = 5_000  # characters, as the console counts them

_ACTIVITY_ID = re.compile(r"[A-Za-z0-9]{1,100}")
_DIGITS = re.compile(r"[0-9]+")
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+", re.ASCII)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@-]{1,64}", re.ASCII)  # no path allowed


def _check_wait_time(wait: dict[str, Any] | None, at: str) -> None:
    wait = wait or {}
    member = at_most_one(wait, ("WaitFor", "WaitUntil"), at)
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
    member = at_most_one(condition, ("EventCondition", "SegmentCondition", "SegmentDimensions"), at)
    if member == "EventCondition" and condition[member].get("Dimensions") is not None:
        _check_event_dimensions(condition[member], f"{at}.{member}")
    elif member == "SegmentDimensions":
        check_dimensions(condition[member], f"{at}.{member}")


def _check_evaluation(body: dict[str, Any], at: str) -> None:
    if body.get("EvaluationWaitTime"):
        _check_wait_time(body["EvaluationWaitTime"], f"{at}.EvaluationWaitTime")


def _check_template_ref(body: dict[str, Any], at: str) -> None:
    if body.get("TemplateVersion") and not body.get("TemplateName"):
        raise missing(f"{at}.TemplateName", "a TemplateVersion belongs to a TemplateName.")


def _check_push(body: dict[str, Any], at: str) -> None:
    _check_template_ref(body, at)
    ttl = (body.get("MessageConfig") or {}).get("TimeToLive")
    if ttl is not None and not _DIGITS.fullmatch(ttl):
        raise fail(f"{at}.MessageConfig.TimeToLive", f"'{ttl}' is not a whole number of seconds.")


def _check_custom(body: dict[str, Any], at: str) -> None:
    _check_template_ref(body, at)
    if body.get("DeliveryUri") is not None:  # a DRAFT may lack it: the review says so
        check_delivery_uri(body["DeliveryUri"], f"{at}.DeliveryUri")
    data = (body.get("MessageConfig") or {}).get("Data")
    if data is not None and len(data) > MAX_CUSTOM_DATA:
        raise fail(f"{at}.MessageConfig.Data", f"at most {MAX_CUSTOM_DATA:,} characters.")


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
        raise fail(f"{at}.Branches", f"a multivariate split has 1 to {MAX_MULTI_BRANCHES} branches besides Else.")
    for i, branch in enumerate(branches):
        _check_simple_condition(branch.get("Condition"), f"{at}.Branches[{i}].Condition")
    _check_evaluation(body, at)


def _check_random(body: dict[str, Any], at: str) -> None:
    # Too few branches, a branch without its Percentage, shares that do not add up to 100: a
    # DRAFT still being built (rules/journey_drafts.py).
    branches = body.get("Branches") or []
    low, high = RANDOM_BRANCHES
    if len(branches) > high:
        raise fail(f"{at}.Branches", f"a random split has {low} to {high} branches.")
    for i, branch in enumerate(branches):
        if branch.get("Percentage") is not None:
            check_range(branch["Percentage"], 0, 100, f"{at}.Branches[{i}].Percentage")


def _check_holdout(body: dict[str, Any], at: str) -> None:
    if body.get("Percentage") is not None:
        check_range(body["Percentage"], 0, 100, f"{at}.Percentage")


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


def check_activities(activities: dict[str, Any]) -> None:
    at = f"{FIELD}.Activities"
    if len(activities) > MAX_ACTIVITIES:
        raise fail(at, f"a journey has at most {MAX_ACTIVITIES} activities ({len(activities)} given).")
    for activity_id, activity in activities.items():
        where = f"{at}.{activity_id}"
        if not _ACTIVITY_ID.fullmatch(activity_id):
            raise fail(where, "an activity id is 1 to 100 letters and digits.")
        kind = exactly_one(activity, ACTIVITY_TYPES, where)
        _ACTIVITY_CHECKS[kind](activity[kind], f"{where}.{kind}")


def check_contact_center(body: dict[str, Any]) -> None:
    count = sum(1 for a in (body.get("Activities") or {}).values() if a.get("ContactCenter") is not None)
    if count > MAX_CONTACT_CENTER:
        raise fail(f"{FIELD}.Activities", f"a journey has at most {MAX_CONTACT_CENTER} ContactCenter activities.")
    settings = body.get("JourneyChannelSettings") or {}
    at = f"{FIELD}.JourneyChannelSettings"
    for member in ("ConnectCampaignArn", "ConnectCampaignExecutionRoleArn"):
        if count and not settings.get(member):
            raise missing(f"{at}.{member}", "ContactCenter activities need the Amazon Connect campaign settings.")
    campaign, role = settings.get("ConnectCampaignArn"), settings.get("ConnectCampaignExecutionRoleArn")
    if campaign is not None and not _ARN.fullmatch(campaign):
        raise fail(f"{at}.ConnectCampaignArn", f"'{campaign}' is not an ARN.")
    if role is not None and not _ROLE_ARN.fullmatch(role):
        raise fail(
            f"{at}.ConnectCampaignExecutionRoleArn",
            f"'{role}' is not an IAM role ARN without a path (arn:aws:iam::123456789012:role/Name).",
        )
