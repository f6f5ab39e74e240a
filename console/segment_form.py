"""The segment builder's form, both ways: the fields a browser posts -> Pinpoint's
WriteSegmentRequest (which the API's own code then validates), and a saved segment -> the
fields to edit. Nothing here validates values: a bad one goes to the API's code as typed, and
its error comes back to the field it names (`field_of`).

The builder writes what Pinpoint's console writes: `SegmentGroups` with `Include` over groups,
each group a list of single-criterion `Dimensions` combined by the group's `Type`
(ALL / ANY / NONE), optionally on base segments (`SourceSegments`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEMOGRAPHIC = {"platform": "Platform", "app_version": "AppVersion", "make": "Make", "model": "Model",
               "channel": "Channel", "device_type": "DeviceType"}  # fmt: skip
KINDS: dict[str, str] = {  # kind -> its label in the "Add a criterion" list, in Pinpoint's order
    "platform": "Platform", "app_version": "App version", "make": "Device make", "model": "Device model",
    "device_type": "Device type", "channel": "Channel", "country": "Country", "gps": "Near a GPS point",
    "recency": "Activity (recency)", "attribute": "Endpoint attribute", "user_attribute": "User attribute",
    "metric": "Metric",
}  # fmt: skip
ATTRIBUTE_TYPES = ["INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN"]
DIMENSION_TYPES = ["INCLUSIVE", "EXCLUSIVE"]
COMPARISONS = ["EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL"]
DURATIONS = {"HR_24": "24 hours", "DAY_7": "7 days", "DAY_14": "14 days", "DAY_30": "30 days"}
RECENCY_TYPES = {"ACTIVE": "active", "INACTIVE": "inactive"}
SET_TYPES = ["ALL", "ANY", "NONE"]
MAX_GROUPS, MAX_CRITERIA = 5, 20  # per builder: beyond that, the API is the tool


@dataclass
class Criterion:
    kind: str
    name: str = ""  # attribute or metric name
    op: str = ""  # AttributeType / DimensionType / ComparisonOperator / RecencyType
    values: str = ""  # comma-separated values; a metric's number; a recency's Duration
    lat: str = ""
    lon: str = ""
    km: str = ""


@dataclass
class Group:
    type: str = "ALL"
    source_type: str = "ANY"
    sources: list[str] = field(default_factory=list)
    criteria: list[Criterion] = field(default_factory=list)


@dataclass
class Draft:
    name: str = ""
    include: str = "ALL"
    groups: list[Group] = field(default_factory=lambda: [Group()])


def _pick(value: str, allowed: list[str], default: str) -> str:
    return value if value in allowed else default


def from_form(form: Any) -> Draft:
    """`form` is Starlette's FormData (`get`, `getlist`). Fields: name, include, then per group
    `g{i}.type|source_type|sources` and per criterion `g{i}.c{j}.kind|name|op|values|lat|lon|km`."""
    draft = Draft(name=str(form.get("name", "")), include=_pick(str(form.get("include", "")), SET_TYPES, "ALL"))
    draft.groups = []
    for i in range(MAX_GROUPS):
        g = f"g{i}"
        if form.get(f"{g}.type") is None:
            break
        group = Group(
            type=_pick(str(form.get(f"{g}.type")), SET_TYPES, "ALL"),
            source_type=_pick(str(form.get(f"{g}.source_type", "")), SET_TYPES, "ANY"),
            sources=[str(s) for s in form.getlist(f"{g}.sources") if s],
        )
        for j in range(MAX_CRITERIA):
            c = f"{g}.c{j}"
            kind = str(form.get(f"{c}.kind", ""))
            if kind not in KINDS:
                break
            parts = {k: str(form.get(f"{c}.{k}", "")) for k in ("name", "op", "values", "lat", "lon", "km")}
            group.criteria.append(Criterion(kind=kind, **parts))
        draft.groups.append(group)
    if not draft.groups:
        draft.groups.append(Group())
    return draft


def _values(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _number(text: str) -> Any:
    """A number when the text is one; else the text itself, for the API's model to refuse by name."""
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return text


def _dimensions(c: Criterion) -> dict[str, Any]:
    if c.kind in DEMOGRAPHIC:
        dim = {"DimensionType": _pick(c.op, DIMENSION_TYPES, "INCLUSIVE"), "Values": _values(c.values)}
        return {"Demographic": {DEMOGRAPHIC[c.kind]: dim}}
    if c.kind == "country":
        dim = {"DimensionType": _pick(c.op, DIMENSION_TYPES, "INCLUSIVE"), "Values": _values(c.values)}
        return {"Location": {"Country": dim}}
    if c.kind == "gps":
        gps: dict[str, Any] = {"Coordinates": {"Latitude": _number(c.lat), "Longitude": _number(c.lon)}}
        if c.km.strip():
            gps["RangeInKilometers"] = _number(c.km)
        return {"Location": {"GPSPoint": gps}}
    if c.kind == "recency":
        return {"Behavior": {"Recency": {"Duration": c.values or "DAY_30", "RecencyType": c.op or "ACTIVE"}}}
    if c.kind == "metric":
        metric = {"ComparisonOperator": c.op or "EQUAL", "Value": _number(c.values)}
        return {"Metrics": {c.name.strip(): metric}}
    member = "Attributes" if c.kind == "attribute" else "UserAttributes"
    attribute = {"AttributeType": _pick(c.op, ATTRIBUTE_TYPES, "INCLUSIVE"), "Values": _values(c.values)}
    return {member: {c.name.strip(): attribute}}


def to_request(draft: Draft) -> dict[str, Any]:
    """The WriteSegmentRequest the draft stands for, exactly as a boto3 caller would send it."""
    groups = []
    for g in draft.groups:
        group: dict[str, Any] = {"Type": g.type, "SourceType": g.source_type}
        if g.sources:
            group["SourceSegments"] = [{"Id": s} for s in g.sources]
        if g.criteria:
            group["Dimensions"] = [_dimensions(c) for c in g.criteria]
        groups.append(group)
    return {"Name": draft.name, "SegmentGroups": {"Include": draft.include, "Groups": groups}}


def _criteria(dims: dict[str, Any]) -> list[Criterion]:
    """One SegmentDimensions as the builder's single-criterion rows (ANDed, as Pinpoint reads them)."""
    out: list[Criterion] = []
    demographic = dims.get("Demographic") or {}
    for kind, member in DEMOGRAPHIC.items():
        if (d := demographic.get(member)) is not None:
            out.append(Criterion(kind, op=d.get("DimensionType") or "INCLUSIVE", values=", ".join(d.get("Values", []))))
    location = dims.get("Location") or {}
    if (d := location.get("Country")) is not None:
        out.append(
            Criterion("country", op=d.get("DimensionType") or "INCLUSIVE", values=", ".join(d.get("Values", [])))
        )
    if (d := location.get("GPSPoint")) is not None:
        km = d.get("RangeInKilometers")
        coords = d.get("Coordinates") or {}
        lat, lon = coords.get("Latitude"), coords.get("Longitude")
        out.append(Criterion("gps", lat=f"{lat:g}", lon=f"{lon:g}", km="" if km is None else f"{km:g}"))
    if (d := (dims.get("Behavior") or {}).get("Recency")) is not None:
        out.append(Criterion("recency", op=d.get("RecencyType", "ACTIVE"), values=d.get("Duration", "DAY_30")))
    for member, kind in (("Attributes", "attribute"), ("UserAttributes", "user_attribute")):
        for name, d in (dims.get(member) or {}).items():
            op = d.get("AttributeType") or "INCLUSIVE"
            out.append(Criterion(kind, name=name, op=op, values=", ".join(d.get("Values", []))))
    for name, d in (dims.get("Metrics") or {}).items():
        out.append(
            Criterion("metric", name=name, op=d.get("ComparisonOperator", "EQUAL"), values=f"{d.get('Value'):g}")
        )
    return out


def from_segment(segment: dict[str, Any]) -> Draft | None:
    """The draft of a saved segment (a SegmentResponse), or None when the builder cannot show it
    faithfully: top-level Dimensions (made through the API), or a multi-criterion Dimensions entry in a
    group that is not ALL (splitting it into rows would change what it means)."""
    groups_in = segment.get("SegmentGroups")
    if segment.get("Dimensions"):
        # The builder saves SegmentGroups only; UpdateSegment would carry the top-level
        # Dimensions over beside them.
        return None
    draft = Draft(name=segment.get("Name") or "", include=(groups_in or {}).get("Include") or "ALL", groups=[])
    for g in (groups_in or {}).get("Groups") or []:
        group = Group(type=g.get("Type") or "ALL", source_type=g.get("SourceType") or "ANY")
        group.sources = [s["Id"] for s in g.get("SourceSegments") or []]
        for dims in g.get("Dimensions") or []:
            rows = _criteria(dims)
            if len(rows) > 1 and group.type != "ALL":
                return None
            group.criteria.extend(rows)
        draft.groups.append(group)
    if len(draft.groups) > MAX_GROUPS or any(len(g.criteria) > MAX_CRITERIA for g in draft.groups):
        return None
    if not draft.groups:
        draft.groups.append(Group())
    return draft


_GROUP_AT = re.compile(r"SegmentGroups\.Groups\[(\d+)\](?:\.Dimensions\[(\d+)\])?")


def field_of(message: str) -> str:
    """Which part of the builder an API error is about: `name`, `g0` (a group), `g0.c1` (a
    criterion), or '' for the form as a whole. Criteria are one per Dimensions entry, so the
    entry's index is the row's."""
    if "WriteSegmentRequest.Name" in message:
        return "name"
    found = _GROUP_AT.search(message)
    if found is None:
        return ""
    group, row = found.groups()
    return f"g{group}" if row is None else f"g{group}.c{row}"


def apply(draft: Draft, action: str, form: Any) -> None:
    """A builder button: `add:{g}` (a criterion of the kind chosen in `g{g}.new_kind`),
    `remove:{g}.{c}`, `add-group`, `remove-group:{g}`. Out-of-range or unknown actions do nothing."""
    verb, _, where = action.partition(":")
    at = [int(p) for p in where.split(".") if p.isdigit()]
    if verb == "add-group" and len(draft.groups) < MAX_GROUPS:
        draft.groups.append(Group(criteria=[Criterion("platform")]))
    elif verb == "remove-group" and len(at) == 1 and at[0] < len(draft.groups) and len(draft.groups) > 1:
        del draft.groups[at[0]]
    elif verb == "add" and len(at) == 1 and at[0] < len(draft.groups):
        group = draft.groups[at[0]]
        kind = str(form.get(f"g{at[0]}.new_kind", ""))
        if kind in KINDS and len(group.criteria) < MAX_CRITERIA:
            group.criteria.append(Criterion(kind))
    elif verb == "remove" and len(at) == 2 and at[0] < len(draft.groups):
        criteria = draft.groups[at[0]].criteria
        if at[1] < len(criteria):
            del criteria[at[1]]


# How the builder words each operator (the value sent is the model's enum).
OP_LABELS = {
    "INCLUSIVE": "is one of", "EXCLUSIVE": "is not one of", "CONTAINS": "contains", "BEFORE": "is before",
    "AFTER": "is after", "ON": "is on", "BETWEEN": "is between", "EQUAL": "=", "GREATER_THAN": ">",
    "GREATER_THAN_OR_EQUAL": "≥", "LESS_THAN": "<", "LESS_THAN_OR_EQUAL": "≤",
}  # fmt: skip
