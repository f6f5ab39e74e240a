"""Segment definition rules the model cannot express, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.instants import parse_instant
from rules.segments import (
    check_dimensions,
    check_segment,
    check_segment_groups,
    count_dimensions,
)

FIELD = "WriteSegmentRequest.Dimensions"
GROUPS = "WriteSegmentRequest.SegmentGroups"


def attr(kind: str, *values: str) -> dict[str, Any]:
    return {"AttributeType": kind, "Values": list(values)}


def gps(lat: float = 48.9, lon: float = 2.3, **extra: Any) -> dict[str, Any]:
    return {"Location": {"GPSPoint": {"Coordinates": {"Latitude": lat, "Longitude": lon}, **extra}}}


GOOD: dict[str, Any] = {
    "Attributes": {
        "Plan": attr("INCLUSIVE", "pro"),
        "Email": attr("CONTAINS", "@example.com"),
        "Signup": attr("BETWEEN", "2026-01-01", "2026-01-01T00:00:00Z"),
        "Seen": attr("ON", "2026-03-10T23:30:00-02:00"),
    },
    "UserAttributes": {"Tier": attr("EXCLUSIVE", "gold", "silver"), "Born": attr("BEFORE", "2000-02-29")},
    "Metrics": {"spend": {"ComparisonOperator": "GREATER_THAN_OR_EQUAL", "Value": 10}},
    "Demographic": {"Platform": {"Values": ["ios"]}, "Channel": {"DimensionType": "EXCLUSIVE", "Values": ["SMS"]}},
    "Location": {
        "Country": {"Values": ["FR"]},
        "GPSPoint": {"Coordinates": {"Latitude": -90, "Longitude": 180}, "RangeInKilometers": 0.5},
    },
    "Behavior": {"Recency": {"Duration": "DAY_7", "RecencyType": "ACTIVE"}},
}


def test_a_full_valid_definition_passes() -> None:
    check_dimensions(GOOD, FIELD)
    check_segment_groups(
        {"Include": "ANY", "Groups": [{"Dimensions": [GOOD, {}]}, {"SourceSegments": [{"Id": "s"}]}]}, GROUPS
    )
    check_segment(GOOD, {"Groups": [{"SourceSegments": [{"Id": "s", "Version": 2}]}]}, "WriteSegmentRequest")
    check_dimensions({}, FIELD)
    check_dimensions(gps(), FIELD)  # RangeInKilometers is optional


@pytest.mark.parametrize(
    ("dims", "path", "why"),
    [
        pytest.param(
            {"Metrics": {"spend": {"ComparisonOperator": "MORE", "Value": 1}}},
            "Metrics.spend.ComparisonOperator",
            "must be one of GREATER_THAN",
            id="unknown-comparison-operator",
        ),
        pytest.param(
            {"Metrics": {"spend": {"ComparisonOperator": "EQUAL", "Value": float("nan")}}},
            "Metrics.spend.Value",
            "finite",
            id="metric-value-not-finite",
        ),
        pytest.param(
            {"Attributes": {"Plan": attr("INCLUSIVE")}}, "Attributes.Plan.Values", "at least one", id="no-values"
        ),
        pytest.param(
            {"UserAttributes": {"Tier": attr("EXCLUSIVE")}},
            "UserAttributes.Tier.Values",
            "at least one",
            id="user-no-values",
        ),
        pytest.param(
            {"Attributes": {"Plan": attr("CONTAINS", "x" * 101)}},
            "Attributes.Plan.Values",
            "100 characters",
            id="long-value",
        ),
        pytest.param(
            {"Attributes": {"At": attr("BEFORE", "2026-01-01", "2026-02-01")}},
            "Attributes.At.Values",
            "BEFORE takes exactly 1",
            id="before-two-values",
        ),
        pytest.param(
            {"Attributes": {"At": attr("AFTER", "yesterday")}},
            "Attributes.At.Values",
            "'yesterday' is not an ISO-8601",
            id="after-unparseable",
        ),
        pytest.param(
            {"Attributes": {"At": attr("ON", "2026-02-30")}},
            "Attributes.At.Values",
            "not an ISO-8601",
            id="on-impossible-date",
        ),
        pytest.param(
            {"Attributes": {"At": attr("BETWEEN", "2026-01-01")}},
            "Attributes.At.Values",
            "BETWEEN takes exactly 2",
            id="between-one-value",
        ),
        pytest.param(
            {"Attributes": {"At": attr("BETWEEN", "2026-02-01", "2026-01-01T23:00:00-02:00")}},
            "Attributes.At.Values",
            "must not be after its end",
            id="between-reversed",
        ),
        pytest.param(
            {"Attributes": {"At": attr("BETWEEN", "2026-01-01", "2026-13-01")}},
            "Attributes.At.Values",
            "'2026-13-01' is not",
            id="between-bad-end",
        ),
        pytest.param(
            {"Demographic": {"Platform": {"Values": []}}},
            "Demographic.Platform.Values",
            "at least one",
            id="set-no-values",
        ),
        pytest.param(
            {"Demographic": {"Model": {"Values": ["m" * 101]}}},
            "Demographic.Model.Values",
            "100 characters",
            id="set-long-value",
        ),
        pytest.param(
            {"Location": {"Country": {"DimensionType": "EXCLUSIVE", "Values": []}}},
            "Location.Country.Values",
            "at least one",
            id="country-no-values",
        ),
        pytest.param(gps(lat=90.5), "Location.GPSPoint.Coordinates.Latitude", "between -90 and 90", id="latitude"),
        pytest.param(gps(lon=-181), "Location.GPSPoint.Coordinates.Longitude", "between -180 and 180", id="longitude"),
        pytest.param(
            gps(RangeInKilometers=0), "Location.GPSPoint.RangeInKilometers", "must be greater than 0.", id="range-zero"
        ),
        pytest.param(
            gps(RangeInKilometers=-5), "Location.GPSPoint.RangeInKilometers", "greater than 0", id="range-negative"
        ),
        pytest.param({"Attributes": {"": attr("INCLUSIVE", "x")}}, "Attributes", "must not be empty", id="no-name"),
        pytest.param(
            {"UserAttributes": {"  ": attr("INCLUSIVE", "x")}}, "UserAttributes", "must not be empty", id="blank-name"
        ),
        pytest.param(
            {"Metrics": {"": {"ComparisonOperator": "EQUAL", "Value": 1}}},
            "Metrics",
            "must not be empty",
            id="metric-no-name",
        ),
        pytest.param(
            {"Attributes": {f"a{n}": attr("INCLUSIVE", "x") for n in range(101)}},
            "",
            "at most 100 dimensions (101 given)",
            id="too-many-dimensions",
        ),
    ],
)
def test_bad_dimensions_are_refused_naming_the_member(dims: dict[str, Any], path: str, why: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_dimensions(dims, FIELD)
    where = f"{FIELD}.{path}" if path else FIELD
    assert caught.value.message.startswith(f"Invalid value for {where}: ")
    assert why in caught.value.message


def test_the_gps_message_reads_as_pinpoints() -> None:
    with pytest.raises(BadRequest) as caught:
        check_dimensions(gps(RangeInKilometers=0), FIELD)
    assert caught.value.message == (
        "Invalid value for WriteSegmentRequest.Dimensions.Location.GPSPoint.RangeInKilometers: must be greater than 0."
    )


def test_counting_dimensions() -> None:
    assert count_dimensions(None) == 0
    assert count_dimensions({}) == 0
    # 4 + 2 attributes, 1 metric, 2 demographic, 2 location, 1 recency
    assert count_dimensions(GOOD) == 12
    hundred = {
        "Attributes": {f"a{n}": attr("INCLUSIVE", "x") for n in range(92)},
        **{k: GOOD[k] for k in GOOD if k != "Attributes"},
    }
    check_dimensions(hundred, FIELD)  # 92 + 2 + 1 + 2 + 2 + 1 = 100: the limit itself is allowed


@pytest.mark.parametrize(
    ("groups", "path", "why"),
    [
        pytest.param({"Groups": [{}]}, "Groups[0]", "needs SourceSegments, Dimensions or both", id="empty-group"),
        pytest.param(
            {"Groups": [{"SourceSegments": [{"Id": "a"}]}, {"SourceSegments": [], "Dimensions": []}]},
            "Groups[1]",
            "needs SourceSegments",
            id="empty-lists",
        ),
        pytest.param(
            {"Groups": [{"SourceSegments": [{"Id": "a"}, {"Id": ""}]}]},
            "Groups[0].SourceSegments[1].Id",
            "needs an Id",
            id="source-without-id",
        ),
        pytest.param(
            {"Groups": [{"SourceSegments": [{"Id": "a", "Version": 0}]}]},
            "Groups[0].SourceSegments[0].Version",
            "versions start at 1",
            id="source-version-zero",
        ),
        pytest.param(
            {"Groups": [{"Dimensions": [{}, gps(RangeInKilometers=-1)]}]},
            "Groups[0].Dimensions[1].Location.GPSPoint.RangeInKilometers",
            "greater than 0",
            id="group-dimension-checked",
        ),
        pytest.param(
            {"Groups": [{"Dimensions": [{"Metrics": {"m": {"ComparisonOperator": "NOT", "Value": 1}}}]}]},
            "Groups[0].Dimensions[0].Metrics.m.ComparisonOperator",
            "must be one of",
            id="group-metric-operator",
        ),
        pytest.param(
            {
                "Groups": [
                    {"Dimensions": [{"Attributes": {f"a{n}": attr("INCLUSIVE", "x") for n in range(60)}}]},
                    {
                        "Dimensions": [
                            {"Metrics": {f"m{n}": {"ComparisonOperator": "EQUAL", "Value": 1} for n in range(41)}}
                        ]
                    },
                ]
            },
            "",
            "at most 100 dimensions (101 given)",
            id="too-many-across-groups",
        ),
    ],
)
def test_bad_groups_are_refused_naming_the_member(groups: dict[str, Any], path: str, why: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_segment_groups(groups, GROUPS)
    where = f"{GROUPS}.{path}" if path else GROUPS
    assert caught.value.message.startswith(f"Invalid value for {where}: ")
    assert why in caught.value.message


def test_the_quota_spans_dimensions_and_groups() -> None:
    top = {"Attributes": {f"a{n}": attr("INCLUSIVE", "x") for n in range(60)}}
    grouped = {"Groups": [{"Dimensions": [{"Attributes": {f"b{n}": attr("INCLUSIVE", "x") for n in range(41)}}]}]}
    check_dimensions(top, FIELD)
    check_segment_groups(grouped, GROUPS)
    with pytest.raises(BadRequest, match=r"^Invalid value for WriteSegmentRequest: .*\(101 given\)"):
        check_segment(top, grouped, "WriteSegmentRequest")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15", datetime(2026, 1, 15, tzinfo=UTC)),
        ("2026-01-15T10:20", datetime(2026, 1, 15, 10, 20, tzinfo=UTC)),
        ("2026-01-15 10:20:30", datetime(2026, 1, 15, 10, 20, 30, tzinfo=UTC)),
        ("2026-01-15T10:20:30.5Z", datetime(2026, 1, 15, 10, 20, 30, 500000, tzinfo=UTC)),
        ("2026-01-15T10:20:30.123456+02:00", datetime(2026, 1, 15, 8, 20, 30, 123456, tzinfo=UTC)),
        ("2026-01-15T10:20-0530", datetime(2026, 1, 15, 15, 50, tzinfo=UTC)),
        ("2026-01-15T10:20+14", datetime(2026, 1, 14, 20, 20, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2000-02-29", datetime(2000, 2, 29, tzinfo=UTC)),
    ],
)
def test_instants_segments_accept(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected
    assert parse_instant(text).tzinfo == UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-1-5",
        "2026-02-29",  # not a leap year
        "1900-02-29",  # centuries are not, unless divisible by 400
        "2026-04-31",
        "2026-13-01",
        "2026-00-10",
        "0000-01-01",
        "2026-01-01T24:00",
        "2026-01-01T10:60",
        "2026-01-01T10:00:60",
        "2026-01-01T10:00:00.1234567Z",
        "2026-01-01T10:00+15:00",
        "2026-01-01Z",
        "2026-01-01t10:00z",
        "2026-01-01T10:00:00Z trailing",
        "20260101T100000Z",
        "2026-01-01\n",
        "２０２６-01-01",
    ],
)
def test_text_that_is_no_instant(text: str) -> None:
    assert parse_instant(text) is None


def test_offsets_are_applied() -> None:
    local = datetime(2026, 1, 1, 23, 30, tzinfo=timezone(-timedelta(hours=2)))
    assert parse_instant("2026-01-01T23:30-02:00") == local.astimezone(UTC)
