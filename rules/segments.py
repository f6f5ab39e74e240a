"""Segment definition rules the botocore model cannot express. Time-valued attribute dimensions
read their values in the strict instant grammar of rules/instants.py, as the SQL compiler does.

The inputs have already been type-checked against the model's shapes (SegmentDimensions,
SegmentGroupList), so every enum is valid and every required member present. What is left:
operators the model types as plain strings, value counts per AttributeType, coordinate ranges,
the per-segment dimension quota and value lengths. Errors name the member path the way the
gateway's model validator does (`...Groups[0].Dimensions[1].Attributes.plan.Values`).

Whether a source segment exists, whether it is imported (then it must be a group's only source)
and whether sources form a cycle needs the database; the compiler checks those.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from openpoint.errors import BadRequest
from rules.instants import parse_instant

MAX_DIMENSIONS = 100  # per segment, across its Dimensions and every group's Dimensions [Q]
MAX_VALUE_LENGTH = 100
DEFAULT_RANGE_KM = 100.0  # GPSPoint.RangeInKilometers when absent (AWS documents no default)

COMPARISON_OPERATORS = ("GREATER_THAN", "LESS_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN_OR_EQUAL", "EQUAL")
# How many Values each time-valued AttributeType takes.
INSTANT_ARITY = {"BEFORE": 1, "AFTER": 1, "ON": 1, "BETWEEN": 2}


def _fail(field: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {field}: {why}")


def _check_values(values: list[str], field: str) -> None:
    if not values:
        raise _fail(field, "at least one value is required.")
    for v in values:
        if len(v) > MAX_VALUE_LENGTH:
            raise _fail(field, f"values are at most {MAX_VALUE_LENGTH} characters.")


def _check_attribute(dim: dict[str, Any], field: str) -> None:
    values = dim.get("Values") or []
    _check_values(values, f"{field}.Values")
    kind = dim.get("AttributeType") or "INCLUSIVE"
    arity = INSTANT_ARITY.get(kind)
    if arity is None:
        return
    if len(values) != arity:
        raise _fail(f"{field}.Values", f"{kind} takes exactly {arity} ISO-8601 date-time value{'s' * (arity > 1)}.")
    instants: list[datetime] = []
    for v in values:
        instant = parse_instant(v)
        if instant is None:
            raise _fail(f"{field}.Values", f"'{v}' is not an ISO-8601 date-time.")
        instants.append(instant)
    if kind == "BETWEEN" and instants[0] > instants[1]:
        raise _fail(f"{field}.Values", "the start of a BETWEEN range must not be after its end.")


def _check_metric(dim: dict[str, Any], field: str) -> None:
    if dim.get("ComparisonOperator") not in COMPARISON_OPERATORS:
        raise _fail(f"{field}.ComparisonOperator", f"must be one of {', '.join(COMPARISON_OPERATORS)}.")
    value = dim.get("Value")
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"{field}.Value", "must be a finite number.")


def _check_set(dim: dict[str, Any], field: str) -> None:
    _check_values(dim.get("Values") or [], f"{field}.Values")


def _check_gps(dim: dict[str, Any], field: str) -> None:
    coords = dim.get("Coordinates") or {}
    lat, lon = coords.get("Latitude"), coords.get("Longitude")
    if not isinstance(lat, int | float) or not -90 <= lat <= 90:
        raise _fail(f"{field}.Coordinates.Latitude", "must be between -90 and 90.")
    if not isinstance(lon, int | float) or not -180 <= lon <= 180:
        raise _fail(f"{field}.Coordinates.Longitude", "must be between -180 and 180.")
    km = dim.get("RangeInKilometers")
    if km is not None and not (isinstance(km, int | float) and math.isfinite(km) and km > 0):
        raise _fail(f"{field}.RangeInKilometers", "must be greater than 0.")


def count_dimensions(dims: dict[str, Any] | None) -> int:
    """Criteria in one SegmentDimensions, as the 100-dimension quota counts them: each attribute,
    metric and user-attribute name, each demographic and location criterion, recency."""
    if not dims:
        return 0
    n = sum(len(dims.get(k) or {}) for k in ("Attributes", "UserAttributes", "Metrics"))
    n += sum(1 for v in (dims.get("Demographic") or {}).values() if v is not None)
    n += sum(1 for v in (dims.get("Location") or {}).values() if v is not None)
    n += 1 if (dims.get("Behavior") or {}).get("Recency") is not None else 0
    return n


def _count_groups(groups: dict[str, Any] | None) -> int:
    return sum(count_dimensions(d) for g in (groups or {}).get("Groups") or [] for d in g.get("Dimensions") or [])


def _check_count(n: int, field: str) -> None:
    if n > MAX_DIMENSIONS:
        raise _fail(field, f"a segment has at most {MAX_DIMENSIONS} dimensions ({n} given).")


def _check_name(name: str, field: str) -> None:
    # An empty or blank name matches no endpoint's attribute: a typing slip, never a filter.
    if not name.strip():
        raise _fail(field, "an attribute or metric name must not be empty.")


def _check_one(dims: dict[str, Any], field: str) -> None:
    for kind in ("Attributes", "UserAttributes"):
        for name, dim in (dims.get(kind) or {}).items():
            _check_name(name, f"{field}.{kind}")
            _check_attribute(dim, f"{field}.{kind}.{name}")
    for name, dim in (dims.get("Metrics") or {}).items():
        _check_name(name, f"{field}.Metrics")
        _check_metric(dim, f"{field}.Metrics.{name}")
    for name, dim in (dims.get("Demographic") or {}).items():
        if dim is not None:
            _check_set(dim, f"{field}.Demographic.{name}")
    location = dims.get("Location") or {}
    if location.get("Country") is not None:
        _check_set(location["Country"], f"{field}.Location.Country")
    if location.get("GPSPoint") is not None:
        _check_gps(location["GPSPoint"], f"{field}.Location.GPSPoint")


def check_dimensions(dims: dict[str, Any], field: str) -> None:
    """One SegmentDimensions (a segment's top-level `Dimensions`)."""
    _check_count(count_dimensions(dims), field)
    _check_one(dims, field)


def check_segment_groups(groups: dict[str, Any], field: str) -> None:
    """A SegmentGroupList: every group needs a base (SourceSegments) or filters (Dimensions)."""
    _check_count(_count_groups(groups), field)
    for i, group in enumerate(groups.get("Groups") or []):
        at = f"{field}.Groups[{i}]"
        sources = group.get("SourceSegments") or []
        dimensions = group.get("Dimensions") or []
        if not sources and not dimensions:
            raise _fail(at, "a group needs SourceSegments, Dimensions or both.")
        for j, ref in enumerate(sources):
            if not ref.get("Id"):
                raise _fail(f"{at}.SourceSegments[{j}].Id", "a source segment needs an Id.")
            version = ref.get("Version")
            if version is not None and version < 1:
                raise _fail(f"{at}.SourceSegments[{j}].Version", "versions start at 1.")
        for j, dims in enumerate(dimensions):
            _check_one(dims, f"{at}.Dimensions[{j}]")


def check_segment(dimensions: dict[str, Any] | None, segment_groups: dict[str, Any] | None, field: str) -> None:
    """A whole WriteSegmentRequest's definition: both parts, and the dimension quota across them
    (which neither part can check alone)."""
    if dimensions is not None:
        check_dimensions(dimensions, f"{field}.Dimensions")
    if segment_groups is not None:
        check_segment_groups(segment_groups, f"{field}.SegmentGroups")
    _check_count(count_dimensions(dimensions) + _count_groups(segment_groups), field)
