"""Property: the SQL that store/segment_sql.py compiles selects exactly the endpoints a plain
Python reading of Pinpoint's segment rules selects.

Random endpoint populations (attributes and user attributes from small value pools, metrics,
demographics, locations with some members missing, last activity spread over 40 days, opt-outs
and inactive endpoints) meet random definitions mixing every dimension kind, segment groups
with every Include / Type / SourceType, stored dimensional source segments (with versions, and
sources of sources) and an imported segment. The evaluator below is written from the rules,
independently of the module under test.
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from store.driver import driver, jsonb
from store.segment_sql import SegmentDefinition, contains, count, resolve_page

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

# Stored attribute values: words, and strings that are (or look like, or fail to be) instants.
# Every string here is read the same way by datetime.fromisoformat and by the segment grammar,
# which lets the evaluator use fromisoformat.
VALUES = [
    "a",
    "b",
    "ab",
    "B",
    "a b",
    "2026-01-01",
    "2026-01-01T12:00:00Z",
    "2026-01-01T22:30:00-02:00",
    "2026-01-02T00:00:00+00:00",
    "2026-01-02T10:00",
    "2025-12-31T23:59:59.500000Z",
    "2026-01-03",
    "2026-02-30",
    "nope",
]
NEEDLES = [*VALUES, "", "20", "-01", "T", "A", " "]
BOUNDS = [
    "2025-12-31",
    "2026-01-01",
    "2026-01-01T12:00:00Z",
    "2026-01-01T20:30:00Z",
    "2026-01-02T00:00:00Z",
    "2026-01-02",
    "2026-01-02T09:00:00+09:00",
    "2026-01-03T00:00:00Z",
]
ATTRIBUTE_NAMES = ["Plan", "Tags", "Seen"]
METRIC_NAMES = ["m1", "m2"]
METRIC_VALUES = [0.0, 1.0, 2.5, 5.0, 10.0, -3.0]
OPERATORS = ["GREATER_THAN", "LESS_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN_OR_EQUAL", "EQUAL"]
CHANNELS = ["EMAIL", "SMS", "GCM"]
DEMOGRAPHIC_POOLS = {
    "Platform": ["ios", "iOS", "android", "Android", "web"],
    "Make": ["Apple", "apple", "Google"],
    "Model": ["X", "Y", "x"],
    "AppVersion": ["1.0", "1.1", "2.0"],
}
COUNTRIES = ["FR", "DE", "US", "fr"]
POINTS = [(48.9, 2.3), (48.8, 2.1), (45.8, 4.8), (52.5, 13.4), (40.7, -74.0), (-33.9, 151.2)]
RANGES = [None, 5.0, 30.0, 400.0, 1000.0, 7000.0]
DURATIONS = {
    "HR_24": timedelta(hours=24),
    "DAY_7": timedelta(days=7),
    "DAY_14": timedelta(days=14),
    "DAY_30": timedelta(days=30),
}
AGES = [timedelta(0), timedelta(hours=24), timedelta(days=7), timedelta(days=30)]  # on the boundaries


# -- strategies ---------------------------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def endpoint(draw: st.DrawFn) -> dict[str, Any]:
    attr_map = st.dictionaries(
        st.sampled_from(ATTRIBUTE_NAMES), st.lists(st.sampled_from(VALUES), min_size=1, max_size=3), max_size=3
    )
    demographic = {k: v for k in DEMOGRAPHIC_POOLS if (v := draw(maybe(st.sampled_from(DEMOGRAPHIC_POOLS[k]))))}
    location: dict[str, Any] = {}
    if country := draw(maybe(st.sampled_from(COUNTRIES))):
        location["Country"] = country
    point = draw(maybe(st.sampled_from(POINTS)))
    if point is not None:
        # Sometimes only one coordinate: such an endpoint has no position.
        keep = draw(st.sampled_from(["both", "both", "lat", "lon"]))
        if keep in ("both", "lat"):
            location["Latitude"] = point[0]
        if keep in ("both", "lon"):
            location["Longitude"] = point[1]
    age = draw(st.sampled_from(AGES) | st.integers(0, 40 * 24 * 60).map(lambda m: timedelta(minutes=m)))
    return {
        "channel_type": draw(maybe(st.sampled_from(CHANNELS))),
        "endpoint_status": draw(st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "INACTIVE"])),
        "opt_out": draw(st.sampled_from(["NONE", "NONE", "NONE", "ALL"])),
        "attributes": draw(attr_map),
        "user_attributes": draw(attr_map),
        "metrics": draw(st.dictionaries(st.sampled_from(METRIC_NAMES), st.sampled_from(METRIC_VALUES), max_size=2)),
        "demographic": demographic,
        "location": location,
        "last_active_at": NOW - age,
    }


@st.composite
def attribute_dimension(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN", None]))
    if kind in ("BEFORE", "AFTER", "ON"):
        values = [draw(st.sampled_from(BOUNDS))]
    elif kind == "BETWEEN":
        pair = [draw(st.sampled_from(BOUNDS)), draw(st.sampled_from(BOUNDS))]
        values = sorted(pair, key=lambda v: instant(v) or datetime.min.replace(tzinfo=UTC))
    else:
        pool = NEEDLES if kind == "CONTAINS" else VALUES
        values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    return {"Values": values} if kind is None else {"AttributeType": kind, "Values": values}


def set_dimension(pool: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda kind, values: {"Values": values} if kind is None else {"DimensionType": kind, "Values": values},
        st.sampled_from(["INCLUSIVE", "EXCLUSIVE", None]),
        st.lists(st.sampled_from(pool), min_size=1, max_size=2),
    )


@st.composite
def dimensions(draw: st.DrawFn) -> dict[str, Any]:
    """A SegmentDimensions with a few criteria (so that its AND still selects someone)."""
    kinds = draw(
        st.lists(
            st.sampled_from(["Attributes", "UserAttributes", "Metrics", "Demographic", "Country", "GPS", "Recency"]),
            max_size=3,
        )
    )
    out: dict[str, Any] = {}
    for kind in kinds:
        if kind in ("Attributes", "UserAttributes"):
            out.setdefault(kind, {})[draw(st.sampled_from(ATTRIBUTE_NAMES))] = draw(attribute_dimension())
        elif kind == "Metrics":
            out.setdefault("Metrics", {})[draw(st.sampled_from(METRIC_NAMES))] = {
                "ComparisonOperator": draw(st.sampled_from(OPERATORS)),
                "Value": draw(st.sampled_from([0.0, 1.0, 2.5, 5.0, 7.0])),
            }
        elif kind == "Demographic":
            member = draw(st.sampled_from(["Channel", "DeviceType", *DEMOGRAPHIC_POOLS]))
            pool = (
                CHANNELS if member == "Channel" else DEMOGRAPHIC_POOLS["Platform" if member == "DeviceType" else member]
            )
            out.setdefault("Demographic", {})[member] = draw(set_dimension([*pool, "IOS", "nothing"]))
        elif kind == "Country":
            out.setdefault("Location", {})["Country"] = draw(set_dimension(COUNTRIES))
        elif kind == "GPS":
            lat, lon = draw(st.sampled_from(POINTS))
            gps: dict[str, Any] = {"Coordinates": {"Latitude": lat, "Longitude": lon}}
            if (km := draw(st.sampled_from(RANGES))) is not None:
                gps["RangeInKilometers"] = km
            out.setdefault("Location", {})["GPSPoint"] = gps
        else:
            out["Behavior"] = {
                "Recency": {
                    "Duration": draw(st.sampled_from(list(DURATIONS))),
                    "RecencyType": draw(st.sampled_from(["ACTIVE", "INACTIVE"])),
                }
            }
    return out


MODES = st.sampled_from(["ALL", "ANY", "NONE", None])


@st.composite
def segment_groups(draw: st.DrawFn, sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Groups whose SourceSegments name stored segments in `sources`."""
    groups = []
    dimensional = [s for s, seg in sources.items() if seg["type"] == "DIMENSIONAL"]
    imported = [s for s, seg in sources.items() if seg["type"] == "IMPORT"]
    for _ in range(draw(st.integers(1, 3))):
        group: dict[str, Any] = {}
        if imported and draw(st.integers(0, 3)) == 0:
            refs = [{"Id": imported[0]}]
        else:
            ids = draw(st.lists(st.sampled_from(dimensional), max_size=2, unique=True)) if dimensional else []
            refs = []
            for sid in ids:
                version = draw(maybe(st.integers(1, len(sources[sid]["versions"]))))
                refs.append({"Id": sid} if version is None else {"Id": sid, "Version": version})
        if refs:
            group["SourceSegments"] = refs
        dims = draw(st.lists(dimensions(), min_size=0 if refs else 1, max_size=2))
        if dims:
            group["Dimensions"] = dims
        for member in ("SourceType", "Type"):
            if (mode := draw(MODES)) is not None:
                group[member] = mode
        groups.append(group)
    out: dict[str, Any] = {"Groups": groups}
    if (include := draw(MODES)) is not None:
        out["Include"] = include
    return out


@st.composite
def scenario(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], SegmentDefinition]:
    population = {f"ep-{n:02d}": draw(endpoint()) for n in range(draw(st.integers(8, 40)))}
    sources: dict[str, dict[str, Any]] = {}
    for n in range(draw(st.integers(0, 3))):
        versions = []
        for _ in range(draw(st.integers(1, 2))):
            # Later segments may build on earlier ones: sources of sources.
            nest = bool(sources) and draw(st.booleans())
            groups = draw(maybe(segment_groups(sources))) if nest else None
            versions.append((draw(dimensions()), groups))
        sources[f"s{n}"] = {"type": "DIMENSIONAL", "versions": versions, "members": []}
    if draw(st.booleans()):
        listed = draw(st.lists(st.sampled_from([*population, "ep-unknown"]), unique=True)) if population else []
        imp_dims = draw(maybe(dimensions()))
        sources["imp"] = {"type": "IMPORT", "versions": [(imp_dims, None)], "members": listed}
    top = draw(maybe(dimensions()))
    if "imp" in sources and draw(st.integers(0, 4)) == 0:
        # The imported segment itself (with dimensions and groups of its own): it cannot name
        # itself as a source, that would be a cycle.
        others = {sid: seg for sid, seg in sources.items() if sid != "imp"}
        definition = SegmentDefinition("IMPORT", top, draw(maybe(segment_groups(others))), "imp")
    else:
        definition = SegmentDefinition("DIMENSIONAL", top, draw(maybe(segment_groups(sources))))
    return population, sources, definition


# -- the independent evaluator --------------------------------------------------------------------


def instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_day(value: datetime) -> date:
    return value.astimezone(UTC).date()


def attribute_matches(stored: list[str], dim: dict[str, Any]) -> bool:
    kind, values = dim.get("AttributeType", "INCLUSIVE"), dim["Values"]
    if kind == "INCLUSIVE":
        return any(v in values for v in stored)
    if kind == "EXCLUSIVE":
        return not any(v in values for v in stored)
    if kind == "CONTAINS":
        return any(needle in v for v in stored for needle in values)
    times = [t for t in map(instant, stored) if t is not None]
    bounds = [instant(v) for v in values]
    lo, hi = bounds[0], bounds[-1]
    assert lo is not None and hi is not None
    if kind == "BEFORE":
        return any(t < lo for t in times)
    if kind == "AFTER":
        return any(t > lo for t in times)
    if kind == "ON":
        return any(utc_day(t) == utc_day(lo) for t in times)
    return any(lo <= t <= hi for t in times)


def metric_matches(value: float | None, dim: dict[str, Any]) -> bool:
    if value is None:
        return False
    bound = float(dim["Value"])
    return {
        "GREATER_THAN": value > bound,
        "LESS_THAN": value < bound,
        "GREATER_THAN_OR_EQUAL": value >= bound,
        "LESS_THAN_OR_EQUAL": value <= bound,
        "EQUAL": value == bound,
    }[dim["ComparisonOperator"]]


def set_matches(value: str | None, dim: dict[str, Any], *, fold: bool = False) -> bool:
    if fold:
        inside = value is not None and value.lower() in [v.lower() for v in dim["Values"]]
    else:
        inside = value is not None and value in dim["Values"]
    return inside if dim.get("DimensionType", "INCLUSIVE") == "INCLUSIVE" else not inside


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = a, b
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def dimensions_match(ep: dict[str, Any], dims: dict[str, Any] | None) -> bool:
    dims = dims or {}
    for kind, column in (("Attributes", "attributes"), ("UserAttributes", "user_attributes")):
        for name, dim in dims.get(kind, {}).items():
            if not attribute_matches(ep[column].get(name, []), dim):
                return False
    for name, dim in dims.get("Metrics", {}).items():
        if not metric_matches(ep["metrics"].get(name), dim):
            return False
    for member, dim in dims.get("Demographic", {}).items():
        if member == "Channel":
            ok = set_matches(ep["channel_type"], dim)
        elif member in ("Platform", "DeviceType"):
            ok = set_matches(ep["demographic"].get("Platform"), dim, fold=True)
        else:
            ok = set_matches(ep["demographic"].get(member), dim)
        if not ok:
            return False
    location = dims.get("Location", {})
    if "Country" in location and not set_matches(ep["location"].get("Country"), location["Country"]):
        return False
    if "GPSPoint" in location:
        gps, where = location["GPSPoint"], ep["location"]
        if "Latitude" not in where or "Longitude" not in where:
            return False
        centre = (gps["Coordinates"]["Latitude"], gps["Coordinates"]["Longitude"])
        if km_between(centre, (where["Latitude"], where["Longitude"])) > gps.get("RangeInKilometers", 100.0):
            return False
    recency = dims.get("Behavior", {}).get("Recency")
    if recency is not None:
        active = ep["last_active_at"] >= NOW - DURATIONS[recency["Duration"]]
        if active != (recency["RecencyType"] == "ACTIVE"):
            return False
    return True


def combine(mode: str | None, results: list[bool]) -> bool:
    if mode == "ANY":
        return any(results)
    if mode == "NONE":
        return not any(results)
    return all(results)


def member(
    eid: str,
    ep: dict[str, Any],
    segment_type: str,
    dims: dict[str, Any] | None,
    groups: dict[str, Any] | None,
    sources: dict[str, dict[str, Any]],
    own_members: list[str],
) -> bool:
    if segment_type == "IMPORT" and eid not in own_members:
        return False
    if not dimensions_match(ep, dims):
        return False
    if not groups or not groups.get("Groups"):
        return True
    verdicts = []
    for group in groups["Groups"]:
        base = True
        if group.get("SourceSegments"):
            found = []
            for ref in group["SourceSegments"]:
                source = sources[ref["Id"]]
                s_dims, s_groups = source["versions"][ref.get("Version", len(source["versions"])) - 1]
                found.append(member(eid, ep, source["type"], s_dims, s_groups, sources, source["members"]))
            base = combine(group.get("SourceType"), found)
        filters = True
        if group.get("Dimensions"):
            filters = combine(group.get("Type"), [dimensions_match(ep, d) for d in group["Dimensions"]])
        verdicts.append(base and filters)
    return combine(groups.get("Include"), verdicts)


# -- the property -----------------------------------------------------------------------------------


async def store(engine: AsyncEngine, population: dict[str, dict[str, Any]], sources: dict[str, dict[str, Any]]) -> str:
    app_id = secrets.token_hex(16)
    async with engine.begin() as conn:
        pg = await driver(conn)
        await pg.execute("INSERT INTO apps (id, name) VALUES ($1, 'property')", app_id)
        await pg.executemany(
            """INSERT INTO endpoints (app_id, id, channel_type, endpoint_status, opt_out, attributes, user_attributes,
                   metrics, demographic, location, last_active_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11)""",
            [
                (
                    app_id,
                    eid,
                    ep["channel_type"],
                    ep["endpoint_status"],
                    ep["opt_out"],
                    jsonb(ep["attributes"]),
                    jsonb(ep["user_attributes"]),
                    jsonb(ep["metrics"]),
                    jsonb(ep["demographic"]),
                    jsonb(ep["location"]),
                    ep["last_active_at"],
                )
                for eid, ep in population.items()
            ],
        )
        for sid, seg in sources.items():
            await pg.execute(
                "INSERT INTO segments (app_id, id, segment_type, version) VALUES ($1, $2, $3, $4)",
                app_id,
                sid,
                seg["type"],
                len(seg["versions"]),
            )
            for n, (dims, groups) in enumerate(seg["versions"], start=1):
                await pg.execute(
                    "INSERT INTO segment_versions (app_id, segment_id, version, dimensions, segment_groups)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
                    app_id,
                    sid,
                    n,
                    None if dims is None else jsonb(dims),
                    None if groups is None else jsonb(groups),
                )
            await pg.executemany(
                "INSERT INTO segment_members (app_id, segment_id, endpoint_id) VALUES ($1, $2, $3)",
                [(app_id, sid, eid) for eid in seg["members"]],
            )
    return app_id


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenario(), page_size=st.integers(1, 15), sendable=st.booleans())
async def test_sql_resolution_matches_the_rules(
    engine: AsyncEngine,
    case: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], SegmentDefinition],
    page_size: int,
    sendable: bool,
) -> None:
    population, sources, definition = case
    note(f"definition={definition}")
    app_id = await store(engine, population, sources)
    own = sources["imp"]["members"] if definition.segment_type == "IMPORT" else []
    expected = sorted(
        eid
        for eid, ep in population.items()
        if member(eid, ep, definition.segment_type, definition.dimensions, definition.segment_groups, sources, own)
        and (not sendable or (ep["opt_out"] != "ALL" and ep["endpoint_status"] == "ACTIVE"))
    )
    # Run with --hypothesis-show-statistics to see that most examples select some but not all.
    event("selects " + ("nobody" if not expected else "everyone" if len(expected) == len(population) else "some"))

    got: list[str] = []
    after: str | None = None
    async with engine.connect() as conn:
        while page := await resolve_page(
            conn, app_id, definition, after=after, limit=page_size, now=NOW, sendable=sendable
        ):
            assert len(page) <= page_size
            got += page
            after = page[-1]
        assert got == expected  # every member once, in id order (the test database collates by C)
        assert await count(conn, app_id, definition, now=NOW, sendable=sendable) == len(expected)
        for eid in list(population)[:3]:
            assert await contains(conn, app_id, definition, eid, now=NOW, sendable=sendable) == (eid in expected)
