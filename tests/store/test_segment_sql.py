"""Segment semantics compiled to SQL, against the session's real PostgreSQL.

Each test makes its own project and writes endpoint, segment and member rows directly, so the
only code under test is store/segment_sql.py.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from openpoint.errors import BadRequest, NotFound
from store.driver import driver, jsonb
from store.segment_sql import SegmentDefinition, compile_where, contains, count, load_definition, resolve_page

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PARIS = {"Latitude": 48.9, "Longitude": 2.3}
LYON = {"Latitude": 45.8, "Longitude": 4.8}  # ~390 km from Paris


async def new_app(engine: AsyncEngine) -> str:
    app_id = secrets.token_hex(16)
    async with engine.begin() as conn:
        await (await driver(conn)).execute("INSERT INTO apps (id, name) VALUES ($1, 'segments')", app_id)
    return app_id


async def add_endpoints(engine: AsyncEngine, app_id: str, rows: dict[str, dict[str, Any]]) -> None:
    """rows: endpoint id -> column values (JSON columns as Python values); the rest default."""
    async with engine.begin() as conn:
        pg = await driver(conn)
        for eid, row in rows.items():
            await pg.execute(
                """INSERT INTO endpoints (app_id, id, channel_type, endpoint_status, opt_out, attributes,
                       user_attributes, metrics, demographic, location, last_active_at)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11)""",
                app_id,
                eid,
                row.get("channel_type"),
                row.get("endpoint_status", "ACTIVE"),
                row.get("opt_out", "NONE"),
                jsonb(row.get("attributes", {})),
                jsonb(row.get("user_attributes", {})),
                jsonb(row.get("metrics", {})),
                jsonb(row.get("demographic", {})),
                jsonb(row.get("location", {})),
                row.get("last_active_at", NOW - timedelta(hours=1)),
            )


async def add_segment(
    engine: AsyncEngine,
    app_id: str,
    segment_id: str,
    versions: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
    *,
    segment_type: str = "DIMENSIONAL",
    members: list[str] | None = None,
) -> None:
    """A stored segment with one (Dimensions, SegmentGroups) per version, the last the latest."""
    async with engine.begin() as conn:
        pg = await driver(conn)
        await pg.execute(
            "INSERT INTO segments (app_id, id, segment_type, version) VALUES ($1, $2, $3, $4)",
            app_id,
            segment_id,
            segment_type,
            len(versions),
        )
        for n, (dims, groups) in enumerate(versions, start=1):
            await pg.execute(
                """INSERT INTO segment_versions (app_id, segment_id, version, name, dimensions, segment_groups)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)""",
                app_id,
                segment_id,
                n,
                segment_id,
                None if dims is None else jsonb(dims),
                None if groups is None else jsonb(groups),
            )
        for eid in members or []:
            await pg.execute(
                "INSERT INTO segment_members (app_id, segment_id, endpoint_id) VALUES ($1, $2, $3)",
                app_id,
                segment_id,
                eid,
            )


def dims(dimensions: dict[str, Any]) -> SegmentDefinition:
    return SegmentDefinition("DIMENSIONAL", dimensions, None)


def groups(segment_groups: dict[str, Any], dimensions: dict[str, Any] | None = None) -> SegmentDefinition:
    return SegmentDefinition("DIMENSIONAL", dimensions, segment_groups)


async def members(
    engine: AsyncEngine, app_id: str, definition: SegmentDefinition, *, sendable: bool = False, limit: int = 1000
) -> list[str]:
    """Every member, page by page."""
    out: list[str] = []
    after: str | None = None
    async with engine.connect() as conn:
        while page := await resolve_page(
            conn, app_id, definition, after=after, limit=limit, now=NOW, sendable=sendable
        ):
            out += page
            after = page[-1]
    return out


async def matching(engine: AsyncEngine, app_id: str, definition: SegmentDefinition) -> set[str]:
    return set(await members(engine, app_id, definition))


def attr(kind: str, *values: str) -> dict[str, Any]:
    return {"AttributeType": kind, "Values": list(values)}


def setdim(*values: str, exclusive: bool = False) -> dict[str, Any]:
    return {"DimensionType": "EXCLUSIVE" if exclusive else "INCLUSIVE", "Values": list(values)}


# -- attribute dimensions ------------------------------------------------------------------------


async def test_attribute_inclusive_matches_any_stored_value_against_any_value(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "a": {"attributes": {"Interests": ["golf", "wine"]}},
            "b": {"attributes": {"Interests": ["chess"]}},
            "c": {"attributes": {"Interests": ["Golf"]}},  # case matters
            "d": {"attributes": {"Other": ["golf"]}},
            "e": {},
        },
    )
    assert await matching(engine, app, dims({"Attributes": {"Interests": attr("INCLUSIVE", "golf")}})) == {"a"}
    both = dims({"Attributes": {"Interests": attr("INCLUSIVE", "chess", "wine")}})
    assert await matching(engine, app, both) == {"a", "b"}
    assert await matching(engine, app, dims({"Attributes": {"Interests": attr("INCLUSIVE", "tennis")}})) == set()


async def test_attribute_type_defaults_to_inclusive(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(engine, app, {"a": {"attributes": {"Plan": ["pro"]}}, "b": {"attributes": {"Plan": ["free"]}}})
    assert await matching(engine, app, dims({"Attributes": {"Plan": {"Values": ["pro"]}}})) == {"a"}


async def test_attribute_exclusive_is_the_negation_and_keeps_endpoints_without_it(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "a": {"attributes": {"Plan": ["pro", "trial"]}},
            "b": {"attributes": {"Plan": ["free"]}},
            "c": {},
        },
    )
    assert await matching(engine, app, dims({"Attributes": {"Plan": attr("EXCLUSIVE", "trial")}})) == {"b", "c"}
    assert await matching(engine, app, dims({"Attributes": {"Plan": attr("EXCLUSIVE", "x", "free")}})) == {"a", "c"}


async def test_attribute_contains_is_a_case_sensitive_substring_of_any_value(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "a": {"attributes": {"Email": ["ann@example.com"]}},
            "b": {"attributes": {"Email": ["bob@EXAMPLE.com", "b@other.org"]}},
            "c": {"attributes": {"Email": ["100%_off"]}},
            "d": {},
        },
    )
    assert await matching(engine, app, dims({"Attributes": {"Email": attr("CONTAINS", "example")}})) == {"a"}
    assert await matching(engine, app, dims({"Attributes": {"Email": attr("CONTAINS", "other", "ann")}})) == {"a", "b"}
    # LIKE metacharacters are plain characters here.
    assert await matching(engine, app, dims({"Attributes": {"Email": attr("CONTAINS", "%_")}})) == {"c"}
    assert await matching(engine, app, dims({"Attributes": {"Email": attr("CONTAINS", "_o")}})) == {"c"}


async def test_attribute_instants_before_after_on_between(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "jan": {"attributes": {"Signup": ["2026-01-15T10:00:00Z"]}},
            "feb": {"attributes": {"Signup": ["2026-02-01"]}},  # a bare date is midnight UTC
            "mar": {"attributes": {"Signup": ["2026-03-10T23:30:00-02:00"]}},  # 2026-03-11T01:30Z
            "both": {"attributes": {"Signup": ["2025-06-01T00:00:00Z", "2026-12-31T00:00:00.5Z"]}},
            "junk": {
                "attributes": {"Signup": ["yesterday", "2026-02-30", "2026-13-01", "2026-01-01T25:00Z", "2026-01-20\n"]}
            },
            "none": {},
        },
    )

    def on(kind: str, *values: str) -> SegmentDefinition:
        return dims({"Attributes": {"Signup": attr(kind, *values)}})

    assert await matching(engine, app, on("BEFORE", "2026-02-01T00:00:00Z")) == {"jan", "both"}  # strict
    assert await matching(engine, app, on("AFTER", "2026-02-01T00:00:00Z")) == {"mar", "both"}  # strict
    assert await matching(engine, app, on("AFTER", "2026-03-11T01:00:00+00:00")) == {"mar", "both"}
    assert await matching(engine, app, on("ON", "2026-03-11")) == {"mar"}  # UTC calendar date
    assert await matching(engine, app, on("ON", "2026-03-10T08:00:00Z")) == set()
    assert await matching(engine, app, on("ON", "2026-02-01T18:00:00Z")) == {"feb"}
    assert await matching(engine, app, on("BETWEEN", "2026-01-15T10:00:00Z", "2026-02-01T00:00:00Z")) == {
        "jan",
        "feb",
    }  # inclusive at both ends
    assert await matching(engine, app, on("BETWEEN", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")) == set()


async def test_user_attributes_read_the_user_attribute_column(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "a": {"user_attributes": {"Tier": ["gold"]}},
            "b": {"attributes": {"Tier": ["gold"]}},
            "c": {"user_attributes": {"Tier": ["silver"]}},
        },
    )
    assert await matching(engine, app, dims({"UserAttributes": {"Tier": attr("INCLUSIVE", "gold")}})) == {"a"}
    assert await matching(engine, app, dims({"UserAttributes": {"Tier": attr("EXCLUSIVE", "gold")}})) == {"b", "c"}
    assert await matching(engine, app, dims({"UserAttributes": {"Tier": attr("CONTAINS", "ilv")}})) == {"c"}


async def test_names_and_values_are_bound_not_spliced(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    name = 'it\'s "odd" -- ; DROP TABLE endpoints'
    await add_endpoints(engine, app, {"a": {"attributes": {name: ["o'clock"]}}, "b": {"metrics": {name: 3.0}}})
    assert await matching(engine, app, dims({"Attributes": {name: attr("INCLUSIVE", "o'clock")}})) == {"a"}
    assert await matching(engine, app, dims({"Attributes": {name: attr("CONTAINS", "'")}})) == {"a"}
    metric = {"ComparisonOperator": "EQUAL", "Value": 3}
    assert await matching(engine, app, dims({"Metrics": {name: metric}})) == {"b"}


# -- metrics, demographics, location, recency --------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("GREATER_THAN", {"ten"}),
        ("GREATER_THAN_OR_EQUAL", {"five", "ten"}),
        ("LESS_THAN", {"zero"}),
        ("LESS_THAN_OR_EQUAL", {"zero", "five"}),
        ("EQUAL", {"five"}),
    ],
)
async def test_metric_comparisons(engine: AsyncEngine, operator: str, expected: set[str]) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "zero": {"metrics": {"purchases": 0}},
            "five": {"metrics": {"purchases": 5.0}},
            "ten": {"metrics": {"purchases": 10.5}},
            "none": {"metrics": {"other": 5.0}},
        },
    )
    definition = dims({"Metrics": {"purchases": {"ComparisonOperator": operator, "Value": 5.0}}})
    assert await matching(engine, app, definition) == expected


async def test_channel_compares_channel_type(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine, app, {"mail": {"channel_type": "EMAIL"}, "sms": {"channel_type": "SMS"}, "bare": {"channel_type": None}}
    )
    assert await matching(engine, app, dims({"Demographic": {"Channel": setdim("EMAIL")}})) == {"mail"}
    assert await matching(engine, app, dims({"Demographic": {"Channel": setdim("EMAIL", exclusive=True)}})) == {
        "sms",
        "bare",
    }


async def test_platform_and_device_type_fold_case_other_demographics_do_not(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "iphone": {"demographic": {"Platform": "iOS", "Make": "Apple", "Model": "iPhone", "AppVersion": "1.2"}},
            "pixel": {"demographic": {"Platform": "android", "Make": "Google", "Model": "Pixel", "AppVersion": "1.3"}},
            "bare": {},
        },
    )
    assert await matching(engine, app, dims({"Demographic": {"Platform": setdim("IOS")}})) == {"iphone"}
    assert await matching(engine, app, dims({"Demographic": {"DeviceType": setdim("Android")}})) == {"pixel"}
    assert await matching(engine, app, dims({"Demographic": {"Platform": setdim("ios", exclusive=True)}})) == {
        "pixel",
        "bare",
    }
    assert await matching(engine, app, dims({"Demographic": {"Make": setdim("apple")}})) == set()
    assert await matching(engine, app, dims({"Demographic": {"Make": setdim("Apple")}})) == {"iphone"}
    assert await matching(engine, app, dims({"Demographic": {"Model": setdim("Pixel", "Other")}})) == {"pixel"}
    assert await matching(engine, app, dims({"Demographic": {"AppVersion": setdim("1.2", exclusive=True)}})) == {
        "pixel",
        "bare",
    }


async def test_country(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {"fr": {"location": {"Country": "FR"}}, "de": {"location": {"Country": "DE"}}, "bare": {}},
    )
    assert await matching(engine, app, dims({"Location": {"Country": setdim("FR", "ES")}})) == {"fr"}
    assert await matching(engine, app, dims({"Location": {"Country": setdim("FR", exclusive=True)}})) == {"de", "bare"}


async def test_gps_radius(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "paris": {"location": PARIS},
            "versailles": {"location": {"Latitude": 48.8, "Longitude": 2.1}},  # ~18 km
            "lyon": {"location": LYON},
            "no_lon": {"location": {"Latitude": 48.9}},
            "bare": {},
        },
    )

    def around(km: float | None) -> SegmentDefinition:
        point: dict[str, Any] = {"Coordinates": PARIS}
        if km is not None:
            point["RangeInKilometers"] = km
        return dims({"Location": {"GPSPoint": point}})

    assert await matching(engine, app, around(10)) == {"paris"}
    assert await matching(engine, app, around(50)) == {"paris", "versailles"}
    assert await matching(engine, app, around(None)) == {"paris", "versailles"}  # 100 km by default
    assert await matching(engine, app, around(400)) == {"paris", "versailles", "lyon"}


async def test_recency(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    ages = {"h1": timedelta(hours=1), "d3": timedelta(days=3), "d10": timedelta(days=10), "d40": timedelta(days=40)}
    ages["d7"] = timedelta(days=7)  # exactly on the boundary: still active
    await add_endpoints(engine, app, {k: {"last_active_at": NOW - age} for k, age in ages.items()})

    def recency(kind: str, duration: str) -> SegmentDefinition:
        return dims({"Behavior": {"Recency": {"RecencyType": kind, "Duration": duration}}})

    assert await matching(engine, app, recency("ACTIVE", "HR_24")) == {"h1"}
    assert await matching(engine, app, recency("ACTIVE", "DAY_7")) == {"h1", "d3", "d7"}
    assert await matching(engine, app, recency("ACTIVE", "DAY_14")) == {"h1", "d3", "d7", "d10"}
    assert await matching(engine, app, recency("INACTIVE", "DAY_30")) == {"d40"}
    assert await matching(engine, app, recency("INACTIVE", "DAY_7")) == {"d10", "d40"}


async def test_criteria_of_one_dimensions_object_all_apply(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "yes": {"channel_type": "EMAIL", "attributes": {"Plan": ["pro"]}, "metrics": {"spend": 50}},
            "cheap": {"channel_type": "EMAIL", "attributes": {"Plan": ["pro"]}, "metrics": {"spend": 5}},
            "sms": {"channel_type": "SMS", "attributes": {"Plan": ["pro"]}, "metrics": {"spend": 50}},
        },
    )
    definition = dims(
        {
            "Attributes": {"Plan": attr("INCLUSIVE", "pro")},
            "Metrics": {"spend": {"ComparisonOperator": "GREATER_THAN", "Value": 10}},
            "Demographic": {"Channel": setdim("EMAIL")},
        }
    )
    assert await matching(engine, app, definition) == {"yes"}
    assert await matching(engine, app, dims({})) == {"yes", "cheap", "sms"}


# -- groups and source segments -----------------------------------------------------------------


async def plans_app(engine: AsyncEngine) -> str:
    """Six endpoints: plans free/pro/team x channels EMAIL/SMS."""
    app = await new_app(engine)
    rows: dict[str, dict[str, Any]] = {}
    for plan in ("free", "pro", "team"):
        for channel in ("EMAIL", "SMS"):
            rows[f"{plan}-{channel.lower()}"] = {"channel_type": channel, "attributes": {"Plan": [plan]}}
    await add_endpoints(engine, app, rows)
    return app


def plan(*values: str) -> dict[str, Any]:
    return {"Attributes": {"Plan": attr("INCLUSIVE", *values)}}


def channel(value: str) -> dict[str, Any]:
    return {"Demographic": {"Channel": setdim(value)}}


async def test_group_type_combines_its_dimensions(engine: AsyncEngine) -> None:
    app = await plans_app(engine)

    def group(kind: str) -> SegmentDefinition:
        return groups({"Groups": [{"Dimensions": [plan("pro"), channel("EMAIL")], "Type": kind}]})

    assert await matching(engine, app, group("ALL")) == {"pro-email"}
    assert await matching(engine, app, group("ANY")) == {"pro-email", "pro-sms", "free-email", "team-email"}
    assert await matching(engine, app, group("NONE")) == {"free-sms", "team-sms"}
    default = groups({"Groups": [{"Dimensions": [plan("pro"), channel("EMAIL")]}]})
    assert await matching(engine, app, default) == {"pro-email"}
    # An empty SegmentDimensions matches everyone; the other member's parameters must still bind.
    everyone = await matching(engine, app, dims({}))
    assert (
        await matching(engine, app, groups({"Groups": [{"Dimensions": [plan("pro"), {}], "Type": "ANY"}]})) == everyone
    )
    assert await matching(engine, app, groups({"Groups": [{"Dimensions": [{}, plan("pro")], "Type": "NONE"}]})) == set()


async def test_include_combines_groups(engine: AsyncEngine) -> None:
    app = await plans_app(engine)

    def include(kind: str) -> SegmentDefinition:
        return groups({"Include": kind, "Groups": [{"Dimensions": [plan("pro")]}, {"Dimensions": [channel("SMS")]}]})

    assert await matching(engine, app, include("ALL")) == {"pro-sms"}
    assert await matching(engine, app, include("ANY")) == {"pro-sms", "pro-email", "free-sms", "team-sms"}
    assert await matching(engine, app, include("NONE")) == {"free-email", "team-email"}
    assert await matching(engine, app, groups({"Groups": []})) == await matching(engine, app, dims({}))


async def test_three_groups_include_all_with_a_none_group(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    definition = groups(
        {
            "Include": "ALL",
            "Groups": [
                {"Dimensions": [plan("pro", "team")]},
                {"Dimensions": [channel("EMAIL"), channel("SMS")], "Type": "ANY"},
                {"Dimensions": [plan("team"), channel("SMS")], "Type": "NONE"},
            ],
        }
    )
    assert await matching(engine, app, definition) == {"pro-email"}


async def test_top_level_dimensions_and_groups_both_apply(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    definition = groups({"Groups": [{"Dimensions": [plan("pro", "team")]}]}, dimensions=channel("SMS"))
    assert await matching(engine, app, definition) == {"pro-sms", "team-sms"}


async def test_source_segments_by_source_type_filtered_by_dimensions(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    await add_segment(engine, app, "pro", [(plan("pro"), None)])
    await add_segment(engine, app, "paid", [(plan("pro", "team"), None)])
    await add_segment(engine, app, "email", [(channel("EMAIL"), None)])
    refs = [{"Id": "pro"}, {"Id": "email"}]

    def sources(kind: str | None, *filters: dict[str, Any]) -> SegmentDefinition:
        group: dict[str, Any] = {"SourceSegments": refs}
        if kind is not None:
            group["SourceType"] = kind
        if filters:
            group["Dimensions"] = list(filters)
        return groups({"Groups": [group]})

    assert await matching(engine, app, sources(None)) == {"pro-email"}  # ALL by default
    assert await matching(engine, app, sources("ALL")) == {"pro-email"}
    assert await matching(engine, app, sources("ANY")) == {"pro-email", "pro-sms", "free-email", "team-email"}
    assert await matching(engine, app, sources("NONE")) == {"free-sms", "team-sms"}
    assert await matching(engine, app, sources("ANY", channel("SMS"))) == {"pro-sms"}
    paid_not_pro = groups(
        {"Groups": [{"SourceSegments": [{"Id": "paid"}], "Dimensions": [plan("pro")], "Type": "NONE"}]}
    )
    assert await matching(engine, app, paid_not_pro) == {"team-email", "team-sms"}


async def test_source_versions_are_pinned_and_nested_sources_resolve(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    await add_segment(engine, app, "s", [(plan("free"), None), (plan("team"), None)])
    await add_segment(engine, app, "outer", [(None, {"Groups": [{"SourceSegments": [{"Id": "s"}]}]})])

    def on(ref: dict[str, Any]) -> SegmentDefinition:
        return groups({"Groups": [{"SourceSegments": [ref], "Dimensions": [channel("EMAIL")]}]})

    assert await matching(engine, app, on({"Id": "s", "Version": 1})) == {"free-email"}
    assert await matching(engine, app, on({"Id": "s", "Version": 2})) == {"team-email"}
    assert await matching(engine, app, on({"Id": "s"})) == {"team-email"}  # latest
    assert await matching(engine, app, on({"Id": "outer"})) == {"team-email"}


async def test_imported_source_is_its_members_filtered(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    await add_segment(
        engine, app, "imp", [(None, None)], segment_type="IMPORT", members=["pro-email", "free-sms", "ghost"]
    )
    base = groups({"Groups": [{"SourceSegments": [{"Id": "imp"}]}]})
    assert await matching(engine, app, base) == {"pro-email", "free-sms"}  # "ghost" is no endpoint
    filtered = groups({"Groups": [{"SourceSegments": [{"Id": "imp"}], "Dimensions": [channel("SMS")]}]})
    assert await matching(engine, app, filtered) == {"free-sms"}
    # The imported segment itself, and with dimensions of its own.
    assert await matching(engine, app, SegmentDefinition("IMPORT", None, None, "imp")) == {"pro-email", "free-sms"}
    assert await matching(engine, app, SegmentDefinition("IMPORT", plan("pro"), None, "imp")) == {"pro-email"}
    async with engine.connect() as conn:
        loaded = await load_definition(conn, app, "imp")
    assert loaded == SegmentDefinition("IMPORT", None, None, "imp")
    assert await matching(engine, app, loaded) == {"pro-email", "free-sms"}
    # Page by page (the keyset bound is repeated inside the members subquery), and the complement.
    assert await members(engine, app, loaded, limit=1) == ["free-sms", "pro-email"]
    outside = groups({"Groups": [{"SourceSegments": [{"Id": "imp"}], "SourceType": "NONE"}]})
    assert await members(engine, app, outside, limit=1) == ["free-email", "pro-sms", "team-email", "team-sms"]


async def test_an_imported_source_must_be_alone_in_its_group(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    await add_segment(engine, app, "imp", [(None, None)], segment_type="IMPORT", members=["pro-email"])
    await add_segment(engine, app, "dyn", [(plan("pro"), None)])
    definition = groups({"Groups": [{"SourceSegments": [{"Id": "dyn"}, {"Id": "imp"}], "SourceType": "ANY"}]})
    async with engine.connect() as conn:
        with pytest.raises(BadRequest, match=r"SegmentGroups\.Groups\[0\]\.SourceSegments: an imported segment"):
            await compile_where(conn, app, definition, now=NOW)


async def test_missing_sources_are_refused_by_name(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    await add_segment(engine, app, "s", [(plan("pro"), None)])
    await add_segment(engine, app, "broken", [(None, {"Groups": [{"SourceSegments": [{"Id": "gone"}]}]})])
    async with engine.connect() as conn:
        with pytest.raises(BadRequest, match=r"Groups\[0\]\.SourceSegments\[1\]: segment nope was not found"):
            await compile_where(
                conn, app, groups({"Groups": [{"SourceSegments": [{"Id": "s"}, {"Id": "nope"}]}]}), now=NOW
            )
        with pytest.raises(BadRequest, match="segment s version 2 was not found"):
            await compile_where(
                conn, app, groups({"Groups": [{"SourceSegments": [{"Id": "s", "Version": 2}]}]}), now=NOW
            )
        with pytest.raises(BadRequest, match=r"\(in the definition of segment broken\): segment gone was not found"):
            await compile_where(conn, app, groups({"Groups": [{"SourceSegments": [{"Id": "broken"}]}]}), now=NOW)


async def test_cycles_are_refused(engine: AsyncEngine) -> None:
    app = await plans_app(engine)

    def on(source: str) -> dict[str, Any]:
        return {"Groups": [{"SourceSegments": [{"Id": source}]}]}

    await add_segment(engine, app, "a", [(None, on("b"))])
    await add_segment(engine, app, "b", [(None, on("a"))])
    await add_segment(engine, app, "c", [(plan("pro"), None)])
    async with engine.connect() as conn:
        with pytest.raises(BadRequest, match=r"cycle \(a -> b -> a\)"):
            await compile_where(conn, app, groups(on("a")), now=NOW)
        with pytest.raises(BadRequest, match="cycle"):
            await compile_where(conn, app, await load_definition(conn, app, "a"), now=NOW)
        # An update of c that would make c build on itself through a.
        await add_segment(engine, app, "d", [(None, on("c"))])
        with pytest.raises(BadRequest, match=r"cycle \(c -> d -> c\)"):
            await compile_where(conn, app, SegmentDefinition("DIMENSIONAL", None, on("d"), "c"), now=NOW)


async def test_load_definition(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_segment(engine, app, "s", [(plan("a"), None), (None, {"Groups": []})])
    async with engine.connect() as conn:
        assert await load_definition(conn, app, "s") == SegmentDefinition("DIMENSIONAL", None, {"Groups": []}, "s")
        assert await load_definition(conn, app, "s", 1) == SegmentDefinition("DIMENSIONAL", plan("a"), None, "s")
        with pytest.raises(NotFound, match="Segment s version 3 was not found"):
            await load_definition(conn, app, "s", 3)
        with pytest.raises(NotFound, match="Segment t was not found"):
            await load_definition(conn, app, "t")


# -- resolution: pages, counts, sendable, contains -----------------------------------------------


async def test_pages_cover_every_member_once_in_id_order(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    ids = [f"ep-{n:03d}" for n in range(53)]
    await add_endpoints(engine, app, {eid: {"metrics": {"n": n}} for n, eid in enumerate(ids)})
    other = await new_app(engine)
    await add_endpoints(engine, other, {eid: {"metrics": {"n": 1}} for eid in ids})
    even = dims({"Metrics": {"n": {"ComparisonOperator": "GREATER_THAN_OR_EQUAL", "Value": 10}}})
    pages: list[list[str]] = []
    after: str | None = None
    async with engine.connect() as conn:
        while page := await resolve_page(conn, app, even, after=after, limit=7, now=NOW):
            pages.append(page)
            after = page[-1]
        assert await count(conn, app, even, now=NOW) == 43
        assert await resolve_page(conn, app, even, after="ep-050", limit=7, now=NOW) == ["ep-051", "ep-052"]
    assert [len(p) for p in pages] == [7] * 6 + [1]
    assert [eid for p in pages for eid in p] == ids[10:]


async def test_sendable_leaves_out_opted_out_and_inactive_endpoints(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(
        engine,
        app,
        {
            "ok": {},
            "opted": {"opt_out": "ALL"},
            "inactive": {"endpoint_status": "INACTIVE"},
            "both": {"opt_out": "ALL", "endpoint_status": "INACTIVE"},
        },
    )
    everyone = dims({})
    assert await members(engine, app, everyone) == ["both", "inactive", "ok", "opted"]
    assert await members(engine, app, everyone, sendable=True) == ["ok"]
    async with engine.connect() as conn:
        assert await count(conn, app, everyone, now=NOW) == 4
        assert await count(conn, app, everyone, now=NOW, sendable=True) == 1
        assert await contains(conn, app, everyone, "opted", now=NOW)
        assert not await contains(conn, app, everyone, "opted", now=NOW, sendable=True)
        assert await contains(conn, app, everyone, "ok", now=NOW, sendable=True)


async def test_contains_answers_for_one_endpoint_as_of_now(engine: AsyncEngine) -> None:
    app = await new_app(engine)
    await add_endpoints(engine, app, {"fresh": {}, "stale": {"last_active_at": NOW - timedelta(days=3)}})
    other = await new_app(engine)
    await add_endpoints(engine, other, {"elsewhere": {}})
    active = dims({"Behavior": {"Recency": {"RecencyType": "ACTIVE", "Duration": "HR_24"}}})
    async with engine.connect() as conn:
        assert await contains(conn, app, active, "fresh", now=NOW)
        assert not await contains(conn, app, active, "stale", now=NOW)
        assert await contains(conn, app, active, "stale", now=NOW - timedelta(days=3))
        assert not await contains(conn, app, active, "missing", now=NOW)
        assert not await contains(conn, app, active, "elsewhere", now=NOW)


async def test_compile_where_composes_into_a_callers_query(engine: AsyncEngine) -> None:
    app = await plans_app(engine)
    definition = groups({"Groups": [{"Dimensions": [plan("pro"), channel("SMS")], "Type": "ANY"}]})
    async with engine.connect() as conn:
        where, params = await compile_where(conn, app, definition, now=NOW)
        assert params[0] == app
        pg = await driver(conn)
        sql = (
            f"SELECT e.id FROM endpoints e WHERE e.app_id = $1 AND ({where}) AND e.id <> ${len(params) + 1} ORDER BY 1"
        )
        rows = await pg.fetch(sql, *params, "pro-sms")
        assert [r["id"] for r in rows] == ["free-sms", "pro-email", "team-sms"]
        # Numbered from another offset, for a statement that has parameters of its own first.
        where, params = await compile_where(conn, app, definition, now=NOW, first=2)
        sql = f"SELECT count(*) FROM endpoints e WHERE e.id LIKE $1 AND e.app_id = $2 AND ({where})"
        assert await pg.fetchval(sql, "%sms", *params) == 3
