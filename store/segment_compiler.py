"""A segment definition compiled to one boolean SQL expression over `endpoints e`, with its
parameters; store/segment_sql.py runs it. User values (attribute names included) are always
bound parameters.

Semantics (PINPOINT.md §4.3), with the decisions AWS leaves open:

- Inside one SegmentDimensions every criterion must match (AND). An empty one matches all.
- Attributes / UserAttributes (stored as name -> list of strings): INCLUSIVE when any stored value
  equals any of Values; EXCLUSIVE is its negation, so an endpoint without the attribute matches
  EXCLUSIVE; CONTAINS when any stored value contains any of Values (case-sensitive substring).
  BEFORE / AFTER / ON / BETWEEN read each stored value as an instant (rules.instants.ISO_INSTANT:
  an ISO-8601 date, optional time and offset, no offset meaning UTC) and match when any value
  lies strictly before / strictly after the bound, on the same UTC calendar date as it, or
  between the two bounds inclusive. Values that are not such instants never match.
- Metrics: `stored <op> Value` as float8; an endpoint without the metric never matches.
- SetDimension (Demographic.*, Location.Country): INCLUSIVE when the endpoint's value is among
  Values, EXCLUSIVE when it is not (a missing value matches EXCLUSIVE, never INCLUSIVE).
  Channel compares ChannelType; AppVersion, Make, Model and Location.Country compare exactly.
  Platform and DeviceType both compare Demographic.Platform, case-insensitively ("iOS" and
  "ios" are the same platform; the endpoint model has no separate device-type field).
- GPSPoint: great-circle (haversine, mean Earth radius 6371.0088 km) distance from Coordinates
  at most RangeInKilometers (100 when absent); endpoints without both coordinates never match.
- Behavior.Recency: ACTIVE when last_active_at >= now - Duration, INACTIVE when older.
- SegmentGroupList: Include ALL / ANY / NONE over the groups (no groups: no constraint). In a
  group, SourceSegments combine by SourceType (ALL intersection, ANY union, NONE: in none of
  them; default ALL) into the base, all of the app's endpoints when there is none; the group's
  Dimensions combine by Type (ALL / ANY / NONE, default ALL) and filter the base.
- A definition with both Dimensions and SegmentGroups needs both. An IMPORT segment is its
  segment_members rows, filtered by its Dimensions and SegmentGroups if it has any.
- Source segments are resolved by id and Version (the latest when absent), recursively; a
  missing one, a cycle, or an imported one beside other sources in a group is a BadRequest.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from openpoint.errors import BadRequest
from rules.instants import HAS_OFFSET, ISO_INSTANT, parse_instant
from rules.segments import DEFAULT_RANGE_KM
from store.driver import jsonb
from store.segment_definitions import SegmentDefinition, fetch_definition

EARTH_RADIUS_KM = 6371.0088
# A definition may name sources that name sources...; each expansion inlines SQL, so a
# diamond-shaped web of references could grow the statement exponentially. Cap it.
MAX_SOURCE_EXPANSIONS = 100

RECENCY = {
    "HR_24": timedelta(hours=24),
    "DAY_7": timedelta(days=7),
    "DAY_14": timedelta(days=14),
    "DAY_30": timedelta(days=30),
}
OPERATORS = {
    "GREATER_THAN": ">",
    "LESS_THAN": "<",
    "GREATER_THAN_OR_EQUAL": ">=",
    "LESS_THAN_OR_EQUAL": "<=",
    "EQUAL": "=",
}
# Demographic member -> (stored field, case-insensitive?)
DEMOGRAPHIC = {
    "AppVersion": ("AppVersion", False),
    "DeviceType": ("Platform", True),
    "Make": ("Make", False),
    "Model": ("Model", False),
    "Platform": ("Platform", True),
}
# The segments being expanded, outermost first; the first is None for a definition not yet stored.
Trail = tuple[str | None, ...]

# A stored attribute value (`v.s`) as an instant, or NULL. The CASE is the guard: a cast that
# fails would fail the statement, and quals in a WHERE list may be reordered, a CASE may not.
_INSTANT = (
    f"CASE WHEN v.s ~ '{ISO_INSTANT}' THEN CASE WHEN v.s ~ '{HAS_OFFSET}'"
    " THEN v.s::timestamptz ELSE v.s::timestamp AT TIME ZONE 'UTC' END END"
)


# -- combining expressions -------------------------------------------------------------------
#
# Every leaf is TRUE or FALSE, never NULL (a missing metric or platform is coalesced to FALSE),
# so NOT over any part is sound. Coalescing has a second effect that is wanted: the planner
# cannot estimate it and assumes half the rows match, so it streams pages along the primary
# key (one pass over the table for the whole stream) unless an index that it can estimate
# (attribute containment, last_active_at) shows the segment is small. Bare comparisons on JSON
# fields get optimistic default estimates (0.5% for a range), and an underestimate makes every
# page a full scan plus sort: 100 pages, 100 scans.


def _all(parts: list[str]) -> str:
    parts = [p for p in parts if p != "TRUE"]
    if not parts:
        return "TRUE"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _any(parts: list[str]) -> str:
    # No short cut when a part is TRUE: dropping the others would leave their parameters
    # unreferenced, and PostgreSQL refuses a parameter whose type it cannot infer.
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _combine(mode: str, parts: list[str]) -> str:
    """ALL / ANY / NONE over parts that are never NULL."""
    if mode == "ANY":
        return _any(parts)
    if mode == "NONE":
        return f"NOT ({_any(parts)})" if parts else "TRUE"
    return _all(parts)


# -- the compiler -----------------------------------------------------------------------------


class _Compiler:
    """Builds one expression and its parameters. Parameters are numbered from `first`; the first
    of them is always the app id (imported sources' subqueries need it)."""

    def __init__(self, pg: asyncpg.Connection, app_id: str, now: datetime, first: int, after: str | None) -> None:
        self.pg = pg
        self.app_id = app_id
        self.now = now
        self.first = first
        self.params: list[Any] = [app_id]
        self.expansions = 0
        # The keyset bound of a page, when there is one: the second parameter.
        self.after = None if after is None else self.bind(after, "text")

    def bind(self, value: Any, sql_type: str) -> str:
        self.params.append(value)
        # The cast pins the type: asyncpg takes parameter types from the server, which cannot
        # infer one for `jsonb -> $n` (text key or integer index?).
        return f"${self.first + len(self.params) - 1}::{sql_type}"

    @property
    def app(self) -> str:
        return f"${self.first}::text"

    # -- one SegmentDimensions --------------------------------------------------------------

    def dimensions(self, dims: dict[str, Any] | None) -> str:
        if not dims:
            return "TRUE"
        parts: list[str] = []
        for kind, column in (("Attributes", "attributes"), ("UserAttributes", "user_attributes")):
            for name, dim in (dims.get(kind) or {}).items():
                parts.append(self.attribute(column, name, dim))
        for name, dim in (dims.get("Metrics") or {}).items():
            parts.append(self.metric(name, dim))
        demographic = dims.get("Demographic") or {}
        if demographic.get("Channel") is not None:
            parts.append(self.set_dimension("e.channel_type", demographic["Channel"], folded=False))
        for member, (stored, folded) in DEMOGRAPHIC.items():
            if demographic.get(member) is not None:
                stored_sql = f"e.demographic ->> '{stored}'"
                parts.append(self.set_dimension(stored_sql, demographic[member], folded=folded))
        location = dims.get("Location") or {}
        if location.get("Country") is not None:
            parts.append(self.set_dimension("e.location ->> 'Country'", location["Country"], folded=False))
        if location.get("GPSPoint") is not None:
            parts.append(self.gps(location["GPSPoint"]))
        recency = (dims.get("Behavior") or {}).get("Recency")
        if recency is not None:
            parts.append(self.recency(recency))
        return _all(parts)

    def attribute(self, column: str, name: str, dim: dict[str, Any]) -> str:
        kind = dim.get("AttributeType") or "INCLUSIVE"
        values: list[str] = list(dim.get("Values") or [])
        if kind in ("INCLUSIVE", "EXCLUSIVE"):
            # `attributes @> '{"name": ["v"]}'` is "the list under name holds v", and it is the
            # form the GIN (jsonb_path_ops) index serves; ANY over an array ORs the values.
            probes = self.bind([jsonb({name: [v]}) for v in values], "jsonb[]")
            hit = f"e.{column} @> ANY({probes})"
            return hit if kind == "INCLUSIVE" else f"NOT ({hit})"
        key = self.bind(name, "text")
        elements = (
            f"jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.{column} -> {key}) = 'array'"
            f" THEN e.{column} -> {key} END) AS v(s)"
        )
        if kind == "CONTAINS":
            needles = self.bind(values, "text[]")
            return f"EXISTS (SELECT 1 FROM {elements}, unnest({needles}) AS q(x) WHERE strpos(v.s, q.x) > 0)"
        bounds = [b for b in map(parse_instant, values) if b is not None]
        if not bounds or len(bounds) != len(values):
            raise BadRequest(f"Invalid value for {name}: {kind} takes ISO-8601 date-time values.")
        # Ranges keep the (regex + cast) instant expression to one evaluation per value.
        if kind == "BEFORE":
            test = f"{_INSTANT} < {self.bind(bounds[0], 'timestamptz')}"
        elif kind == "AFTER":
            test = f"{_INSTANT} > {self.bind(bounds[0], 'timestamptz')}"
        elif kind == "ON":
            day = bounds[0].replace(hour=0, minute=0, second=0, microsecond=0)
            lo, hi = self.bind(day, "timestamptz"), self.bind(day + timedelta(days=1), "timestamptz")
            test = f"tstzrange({lo}, {hi}, '[)') @> ({_INSTANT})"
        else:  # BETWEEN
            lo, hi = self.bind(bounds[0], "timestamptz"), self.bind(bounds[-1], "timestamptz")
            test = f"tstzrange({lo}, {hi}, '[]') @> ({_INSTANT})"
        return f"EXISTS (SELECT 1 FROM {elements} WHERE {test})"

    def metric(self, name: str, dim: dict[str, Any]) -> str:
        op = OPERATORS.get(dim.get("ComparisonOperator") or "")
        if op is None:
            raise BadRequest(f"Invalid value for Metrics.{name}.ComparisonOperator: '{dim.get('ComparisonOperator')}'.")
        key = self.bind(name, "text")
        stored = _number(f"e.metrics -> {key}")
        return f"coalesce({stored} {op} {self.bind(float(dim['Value']), 'float8')}, false)"

    def set_dimension(self, stored: str, dim: dict[str, Any], *, folded: bool) -> str:
        values = self.bind(list(dim.get("Values") or []), "text[]")
        if folded:
            # Both sides folded by the database, so they agree on what "lower case" means.
            hit = f"lower({stored}) = ANY(ARRAY(SELECT lower(x) FROM unnest({values}) AS x))"
        else:
            hit = f"{stored} = ANY({values})"
        hit = f"coalesce({hit}, false)"
        return f"NOT {hit}" if dim.get("DimensionType") == "EXCLUSIVE" else hit

    def gps(self, dim: dict[str, Any]) -> str:
        coords = dim["Coordinates"]
        km = float(DEFAULT_RANGE_KM if dim.get("RangeInKilometers") is None else dim["RangeInKilometers"])
        lat0 = self.bind(float(coords["Latitude"]), "float8")
        lon0 = self.bind(float(coords["Longitude"]), "float8")
        radius = self.bind(km, "float8")
        lat, lon = _number("e.location -> 'Latitude'"), _number("e.location -> 'Longitude'")
        haversine = (
            f"2 * {EARTH_RADIUS_KM} * asin(least(1.0, sqrt("
            f"power(sin(radians({lat} - {lat0}) / 2), 2)"
            f" + cos(radians({lat0})) * cos(radians({lat})) * power(sin(radians({lon} - {lon0}) / 2), 2))))"
        )
        # A point within `km` lies within km/R radians of latitude of the centre, so a latitude
        # band (widened a hair against rounding) settles most endpoints without trigonometry.
        # The band compares JSON to JSON: one lookup per bound and no numeric-to-float8
        # conversion, and since jsonb orders every number above every string and null and below
        # every boolean, array and object, only numbers can fall inside it.
        band = math.degrees(km / EARTH_RADIUS_KM) + 1e-6
        south = self.bind(jsonb(float(coords["Latitude"]) - band), "jsonb")
        north = self.bind(jsonb(float(coords["Latitude"]) + band), "jsonb")
        in_band = f"e.location -> 'Latitude' BETWEEN {south} AND {north}"
        return f"coalesce({in_band} AND {haversine} <= {radius}, false)"

    def recency(self, dim: dict[str, Any]) -> str:
        since = self.bind(self.now - RECENCY[dim["Duration"]], "timestamptz")
        return f"e.last_active_at >= {since}" if dim["RecencyType"] == "ACTIVE" else f"e.last_active_at < {since}"

    # -- definitions, groups, sources --------------------------------------------------------

    async def definition(self, d: SegmentDefinition, trail: Trail) -> str:
        parts: list[str] = []
        if d.segment_type == "IMPORT":
            if d.segment_id is None:
                raise ValueError("an IMPORT segment's definition needs its segment_id")
            member = self.bind(d.segment_id, "text")
            # The page's keyset bound, repeated on the members' side: the planner does not carry
            # an inequality across a join, and without it every page of a merge join would read
            # the member list from its start.
            bound = "" if self.after is None else f" AND m.endpoint_id > {self.after}"
            parts.append(
                "EXISTS (SELECT 1 FROM segment_members m"
                f" WHERE m.app_id = {self.app} AND m.segment_id = {member} AND m.endpoint_id = e.id{bound})"
            )
        parts.append(self.dimensions(d.dimensions))
        if d.segment_groups:
            parts.append(await self.groups(d.segment_groups, trail))
        return _all(parts)

    async def groups(self, groups: dict[str, Any], trail: Trail) -> str:
        listed = groups.get("Groups") or []
        if not listed:
            return "TRUE"
        parts = [await self.group(g, f"SegmentGroups.Groups[{i}]", trail) for i, g in enumerate(listed)]
        return _combine(groups.get("Include") or "ALL", parts)

    async def group(self, group: dict[str, Any], at: str, trail: Trail) -> str:
        sources = group.get("SourceSegments") or []
        base = "TRUE"
        if sources:
            exprs: list[str] = []
            imported = False
            for j, ref in enumerate(sources):
                definition = await self.source(ref, f"{at}.SourceSegments[{j}]", trail)
                imported = imported or definition.segment_type == "IMPORT"
                exprs.append(await self.definition(definition, (*trail, ref["Id"])))
            if imported and len(sources) > 1:
                raise BadRequest(
                    f"Invalid value for {at}.SourceSegments{_of(trail)}: an imported segment must be"
                    " the only source segment of its group."
                )
            base = _combine(group.get("SourceType") or "ALL", exprs)
        filters = "TRUE"
        if dims := group.get("Dimensions") or []:
            filters = _combine(group.get("Type") or "ALL", [self.dimensions(d) for d in dims])
        return _all([base, filters])

    async def source(self, ref: dict[str, Any], at: str, trail: Trail) -> SegmentDefinition:
        segment_id, version = ref["Id"], ref.get("Version")
        if segment_id in trail:
            cycle = " -> ".join(str(s) for s in (*trail[trail.index(segment_id) :], segment_id))
            raise BadRequest(f"Invalid value for {at}{_of(trail)}: source segments form a cycle ({cycle}).")
        self.expansions += 1
        if self.expansions > MAX_SOURCE_EXPANSIONS:
            raise BadRequest(
                f"Invalid value for {at}{_of(trail)}: a segment may build on at most"
                f" {MAX_SOURCE_EXPANSIONS} source segments, counting sources of sources."
            )
        found = await fetch_definition(self.pg, self.app_id, segment_id, version)
        if found is None:
            what = f"segment {segment_id}" + (f" version {version}" if version is not None else "")
            raise BadRequest(f"Invalid value for {at}{_of(trail)}: {what} was not found in project {self.app_id}.")
        return found


def _number(json: str) -> str:
    """A JSON member as float8, NULL unless it is a number (a cast of anything else would fail)."""
    return f"CASE WHEN jsonb_typeof({json}) = 'number' THEN ({json})::float8 END"


def _of(trail: Trail) -> str:
    """Where a nested problem lies: the source segment whose definition holds it."""
    return f" (in the definition of segment {trail[-1]})" if len(trail) > 1 else ""


async def compile_expression(
    pg: asyncpg.Connection,
    app_id: str,
    definition: SegmentDefinition,
    now: datetime,
    first: int,
    after: str | None = None,
) -> tuple[str, list[Any]]:
    """The expression and its parameters, numbered from `$first` (the first is the app id);
    with `after`, imported members are bounded by it too (see _Compiler.definition)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    compiler = _Compiler(pg, app_id, now.astimezone(UTC), first, after)
    # The trail starts with the segment itself (None for one not yet stored) so that a source
    # naming it back, directly or through others, is a cycle.
    where = await compiler.definition(definition, (definition.segment_id,))
    return where, compiler.params
