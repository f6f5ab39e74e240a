"""Event-triggered campaign filters (PINPOINT.md §3.3 `CampaignEventFilter`, §4.4
"Event-triggered campaigns").

`event` is one PutEvents event: {"EventType": str, "Attributes": {str: str}, "Metrics": {str: float}}.
Every dimension given must match (AND); the Values of one dimension are alternatives (OR) [UG].

Attribute and metric semantics are the segments' (store/segment_compiler.py, rules/segments.py),
applied to an event's single value per key:
- INCLUSIVE: the value is one of Values; EXCLUSIVE: it is not (so a missing attribute matches
  EXCLUSIVE, never INCLUSIVE); CONTAINS: the value contains one of Values (case-sensitive).
- BEFORE / AFTER / ON / BETWEEN read the value as an ISO-8601 instant (rules.instants.parse_instant:
  no offset means UTC) and match when it is strictly before / strictly after the bound, on the
  same UTC calendar date, or between the two bounds inclusive. A value that is not an instant
  never matches.
- Metrics: `event metric <op> Value`; an event without the metric never matches.
- EventType (a SetDimension): INCLUSIVE when the event's type is among Values, EXCLUSIVE when not.

FilterType (ENDPOINT: PutEvents events; SYSTEM: events OpenPoint itself records, such as
`_email.delivered`) chooses which events are offered to `matches`; it is not part of matching.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from openpoint.errors import BadRequest
from rules.instants import parse_instant
from rules.segments import check_dimensions

FILTER_TYPES = ("SYSTEM", "ENDPOINT")
DIMENSION_TYPES = ("INCLUSIVE", "EXCLUSIVE")
ATTRIBUTE_TYPES = ("INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN")
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GREATER_THAN": operator.gt,
    "LESS_THAN": operator.lt,
    "GREATER_THAN_OR_EQUAL": operator.ge,
    "LESS_THAN_OR_EQUAL": operator.le,
    "EQUAL": operator.eq,
}


def _set_matches(dim: dict[str, Any], value: str | None) -> bool:
    hit = value is not None and value in (dim.get("Values") or [])
    return not hit if dim.get("DimensionType") == "EXCLUSIVE" else hit


def _instant_matches(kind: str, bounds: list[datetime], value: datetime) -> bool:
    if kind == "BEFORE":
        return value < bounds[0]
    if kind == "AFTER":
        return value > bounds[0]
    if kind == "ON":
        day = bounds[0].replace(hour=0, minute=0, second=0, microsecond=0)
        return day <= value < day + timedelta(days=1)
    return bounds[0] <= value <= bounds[-1]  # BETWEEN


def _attribute_matches(dim: dict[str, Any], value: str | None) -> bool:
    kind = dim.get("AttributeType") or "INCLUSIVE"
    values: list[str] = list(dim.get("Values") or [])
    if kind in DIMENSION_TYPES:
        return _set_matches({"DimensionType": kind, "Values": values}, value)
    if value is None:
        return False
    if kind == "CONTAINS":
        return any(needle in value for needle in values)
    instant = parse_instant(value)
    bounds = [b for b in map(parse_instant, values) if b is not None]
    if instant is None or not bounds:  # check_event_filter refuses such bounds up front
        return False
    return _instant_matches(kind, bounds, instant)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metric_matches(dim: dict[str, Any], value: object) -> bool:
    compare = COMPARISONS.get(dim.get("ComparisonOperator") or "")
    bound = dim.get("Value")
    if compare is None or not _is_number(value) or not _is_number(bound):
        return False
    return compare(float(value), float(bound))


def matches(event_filter: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether `event` triggers a campaign with this CampaignEventFilter."""
    dims = event_filter.get("Dimensions") or {}
    event_type = dims.get("EventType")
    if event_type is not None and not _set_matches(event_type, event.get("EventType")):
        return False
    attributes = event.get("Attributes") or {}
    metrics = event.get("Metrics") or {}
    return all(
        _attribute_matches(dim, attributes.get(name)) for name, dim in (dims.get("Attributes") or {}).items()
    ) and all(_metric_matches(dim, metrics.get(name)) for name, dim in (dims.get("Metrics") or {}).items())


def _fail(field: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {field}: {why}")


def check_event_filter(event_filter: dict[str, Any], field: str) -> None:
    """A Schedule.EventFilter in a request: known enums, Values where they are needed, bounds that
    are ISO-8601 instants (one, or two for BETWEEN), finite metric values."""
    if event_filter.get("FilterType") not in FILTER_TYPES:
        raise _fail(f"{field}.FilterType", f"must be one of {', '.join(FILTER_TYPES)}.")
    dims = event_filter.get("Dimensions")
    if not isinstance(dims, dict):
        raise _fail(f"{field}.Dimensions", "is required.")
    at = f"{field}.Dimensions"
    event_type = dims.get("EventType")
    if event_type is not None:
        if (event_type.get("DimensionType") or "INCLUSIVE") not in DIMENSION_TYPES:
            raise _fail(f"{at}.EventType.DimensionType", f"must be one of {', '.join(DIMENSION_TYPES)}.")
        if not event_type.get("Values"):
            raise _fail(f"{at}.EventType.Values", "at least one value is required.")
    for name, dim in (dims.get("Attributes") or {}).items():
        if (dim.get("AttributeType") or "INCLUSIVE") not in ATTRIBUTE_TYPES:
            raise _fail(f"{at}.Attributes.{name}.AttributeType", f"must be one of {', '.join(ATTRIBUTE_TYPES)}.")
    # Values, instant bounds and metric operators follow the segment rules exactly.
    check_dimensions({k: dims[k] for k in ("Attributes", "Metrics") if dims.get(k)}, at)
