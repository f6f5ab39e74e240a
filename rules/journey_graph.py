"""The anatomy of a journey activity (PINPOINT.md §3.4): its one type member, the paths out of
it, the conditions a split tests, the time it holds participants. Pure; shared by the request
checks, the review, the engine and the metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
PUSH_CHANNELS = frozenset({"GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "ADM"})


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
SPLITS = ("ConditionalSplit", "MultiCondition", "RandomSplit")


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


def paths(activity: dict[str, Any]) -> list[tuple[str, str | None]]:
    kind = activity_type(activity)
    return _METRICS_AND_PATHS[kind][1](activity[kind])


def successors(activity: dict[str, Any]) -> list[tuple[str, str]]:
    """(path label, next activity id) in path order; a path without a next activity ends there."""
    return [(label, target) for label, target in paths(activity) if target]


def conditions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SimpleCondition a split tests."""
    kind, body = activity_type(activity), activity[activity_type(activity)]
    if kind == "ConditionalSplit":
        return list((body.get("Condition") or {}).get("Conditions") or [])
    if kind == "MultiCondition":
        return [b["Condition"] for b in body.get("Branches") or [] if b.get("Condition")]
    return []


def wait_time(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The WaitTime that holds participants in the activity, if any."""
    kind, body = activity_type(activity), activity[activity_type(activity)]
    if kind == "Wait":
        return body.get("WaitTime") or None
    return (body.get("EvaluationWaitTime") or None) if kind in ("ConditionalSplit", "MultiCondition") else None
