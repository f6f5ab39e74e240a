"""What a DRAFT journey may still lack (PINPOINT.md §4.5): the console saves a journey while it is
being built, and the API takes such a DRAFT too (a Wait without its WaitTime, a split without its
conditions, a branch without a condition). CreateJourney and UpdateJourney refuse only what is
malformed (rules/journeys.py, rules/journey_activities.py); each gap found here is a review error
that names its activity and blocks publishing (rules/journey_review.py). Pure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from rules.journey_activities import RANDOM_BRANCHES
from rules.journey_graph import activity_type


class Gap(NamedTuple):
    activity: str | None  # None: the journey as a whole
    code: str
    message: str


_MEMBERS = ("EventCondition", "SegmentCondition", "SegmentDimensions")


def _condition_gaps(activity_id: str, condition: dict[str, Any] | None, where: str) -> Iterator[Gap]:
    """A SimpleCondition: which test it makes, and what that test needs."""
    condition = condition or {}
    given = [m for m in _MEMBERS if condition.get(m) is not None]
    if not given:
        why = f"{where} of activity '{activity_id}' is empty: it needs one of {', '.join(_MEMBERS)}."
        yield Gap(activity_id, "EMPTY_CONDITION", why)
    elif given[0] == "SegmentCondition" and not condition["SegmentCondition"].get("SegmentId"):
        yield Gap(activity_id, "NO_CONDITION_SEGMENT", f"{where} of activity '{activity_id}' names no SegmentId.")
    elif given[0] == "EventCondition" and condition["EventCondition"].get("Dimensions") is None:
        why = f"{where} of activity '{activity_id}' tests an event without Dimensions saying which."
        yield Gap(activity_id, "NO_EVENT_DIMENSIONS", why)


def _wait(activity_id: str, body: dict[str, Any]) -> Iterator[Gap]:
    wait = body.get("WaitTime") or {}
    if wait.get("WaitFor") is None and wait.get("WaitUntil") is None:
        why = f"Wait activity '{activity_id}' has no WaitTime: it needs a WaitFor or a WaitUntil."
        yield Gap(activity_id, "NO_WAIT_TIME", why)


def _yes_no(activity_id: str, body: dict[str, Any]) -> Iterator[Gap]:
    conditions = (body.get("Condition") or {}).get("Conditions") or []
    if not conditions:
        why = f"ConditionalSplit activity '{activity_id}' tests nothing: Condition.Conditions is empty."
        yield Gap(activity_id, "NO_CONDITION", why)
    for i, condition in enumerate(conditions):
        yield from _condition_gaps(activity_id, condition, f"Condition.Conditions[{i}]")


def _multi(activity_id: str, body: dict[str, Any]) -> Iterator[Gap]:
    branches = body.get("Branches") or []
    if not branches:
        why = f"MultiCondition activity '{activity_id}' has no Branches: it needs at least one besides Else."
        yield Gap(activity_id, "NO_BRANCHES", why)
    for i, branch in enumerate(branches):
        if branch.get("Condition") is None:
            why = f"Branches[{i}] of MultiCondition activity '{activity_id}' has no Condition."
            yield Gap(activity_id, "BRANCH_WITHOUT_CONDITION", why)
        else:
            yield from _condition_gaps(activity_id, branch["Condition"], f"Branches[{i}].Condition")


def _random(activity_id: str, body: dict[str, Any]) -> Iterator[Gap]:
    branches = body.get("Branches") or []
    if len(branches) < RANDOM_BRANCHES[0]:
        why = f"RandomSplit activity '{activity_id}' has {len(branches)} of the {RANDOM_BRANCHES[0]} branches it needs."
        yield Gap(activity_id, "TOO_FEW_BRANCHES", why)
    unset = [i for i, b in enumerate(branches) if b.get("Percentage") is None]
    for i in unset:
        why = f"Branches[{i}] of RandomSplit activity '{activity_id}' has no Percentage."
        yield Gap(activity_id, "NO_PERCENTAGE", why)
    total = sum(b["Percentage"] for b in branches if b.get("Percentage") is not None)
    if branches and not unset and total != 100:
        why = f"The branches of RandomSplit activity '{activity_id}' share {total}% of participants, not 100%."
        yield Gap(activity_id, "PERCENTAGES_NOT_100", why)


def _holdout(activity_id: str, body: dict[str, Any]) -> Iterator[Gap]:
    if body.get("Percentage") is None:
        yield Gap(activity_id, "NO_PERCENTAGE", f"Holdout activity '{activity_id}' has no Percentage to hold out.")


_ACTIVITY_GAPS = {
    "Wait": _wait,
    "ConditionalSplit": _yes_no,
    "MultiCondition": _multi,
    "RandomSplit": _random,
    "Holdout": _holdout,
}


def _start_gaps(definition: dict[str, Any]) -> Iterator[Gap]:
    # A StartCondition with neither member, or an empty one, is NO_START_CONDITION (the review's).
    start = definition.get("StartCondition") or {}
    segment, event = start.get("SegmentStartCondition"), start.get("EventStartCondition")
    if segment and not segment.get("SegmentId"):
        yield Gap(None, "NO_START_SEGMENT", "The StartCondition's SegmentStartCondition names no SegmentId.")
    if event and not event.get("EventFilter"):
        why = "The StartCondition's EventStartCondition has no EventFilter saying which event starts the journey."
        yield Gap(None, "NO_START_EVENT", why)


def gaps(definition: dict[str, Any]) -> Iterator[Gap]:
    """What the definition (one that passed check_journey) still lacks, the journey's own first."""
    yield from _start_gaps(definition)
    for activity_id, activity in sorted((definition.get("Activities") or {}).items()):
        kind = activity_type(activity)
        check = _ACTIVITY_GAPS.get(kind)
        if check is not None:
            yield from check(activity_id, activity[kind])
