"""Endpoint merge semantics and limits as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.endpoints import check_endpoint_request, cohort_of, merge_endpoint

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def merge(
    existing: dict[str, Any] | None, req: dict[str, Any], removed: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    return merge_endpoint(existing, req, app_id="a", endpoint_id="e", now=NOW, removed=removed or {})


def test_new_endpoint_defaults() -> None:
    row = merge(None, {"Address": "x@example.com"})
    assert row["endpoint_status"] == "ACTIVE" and row["opt_out"] == "NONE"
    assert row["cohort_id"] == cohort_of("e") and row["created_at"] == NOW
    assert row["effective_date"] == "2026-11-29T12:00:00.000Z"


def test_attribute_lists_replace_per_name() -> None:
    first = merge(None, {"Attributes": {"a": ["1", "2"], "b": ["x"]}, "Metrics": {"m": 1.0}})
    second = merge(first, {"Attributes": {"a": ["3"]}})
    assert second["attributes"] == {"a": ["3"], "b": ["x"]} and second["metrics"] == {"m": 1.0}


def test_user_id_and_attributes() -> None:
    row = merge(None, {"User": {"UserId": "u", "UserAttributes": {"n": ["Ann"]}}})
    row = merge(row, {"User": {"UserAttributes": {"t": ["gold"]}}})
    assert row["user_id"] == "u" and row["user_attributes"] == {"n": ["Ann"], "t": ["gold"]}


def test_removed_names_are_not_recorded() -> None:
    row = merge(None, {"Attributes": {"a": ["1"], "gone": ["x"]}}, {"endpoint-custom-attributes": ["gone"]})
    assert row["attributes"] == {"a": ["1"]}


def test_coordinates_keep_one_decimal() -> None:
    row = merge(None, {"Location": {"Latitude": 47.6062, "Longitude": -122.3321}})
    assert row["location"] == {"Latitude": 47.6, "Longitude": -122.3}


def test_cohorts_spread_over_0_to_99() -> None:
    cohorts = [cohort_of(f"endpoint-{i}") for i in range(10_000)]
    assert min(cohorts) == 0 and max(cohorts) == 99
    assert all(60 <= cohorts.count(c) <= 140 for c in range(100))  # about 4 sigma


@pytest.mark.parametrize(
    "req",
    [
        {"OptOut": "X"},
        {"EndpointStatus": "X"},
        {"Attributes": {"": ["v"]}},
        {"Metrics": {"m" * 51: 1.0}},
        {"Location": {"Longitude": 181.0}},
        {"Attributes": {f"a{i}": ["v"] for i in range(251)}},
        {"Attributes": {f"a{i}": ["v" * 99] * 3 for i in range(60)}},  # over 15 KB
    ],
)
def test_limits(req: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        check_endpoint_request(req, "EndpointRequest")
