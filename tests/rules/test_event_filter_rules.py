"""Event-triggered campaign filters: which PutEvents events start a send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpoint.errors import BadRequest
from rules.event_filters import check_event_filter, matches

FIELD = "WriteCampaignRequest.Schedule.EventFilter"


def event(event_type: str = "purchase", attributes: dict[str, str] | None = None, **metrics: float) -> dict[str, Any]:
    return {"EventType": event_type, "Attributes": attributes or {}, "Metrics": metrics}


def filter_of(**dims: Any) -> dict[str, Any]:
    return {"FilterType": "ENDPOINT", "Dimensions": dims}


def attr(kind: str, *values: str) -> dict[str, Any]:
    return {"AttributeType": kind, "Values": list(values)}


def metric(op: str, value: float) -> dict[str, Any]:
    return {"ComparisonOperator": op, "Value": value}


class TestEventType:
    def test_inclusive_matches_listed_types(self) -> None:
        f = filter_of(EventType={"DimensionType": "INCLUSIVE", "Values": ["purchase", "signup"]})
        assert matches(f, event("signup")) and not matches(f, event("logout"))

    def test_exclusive_matches_the_others(self) -> None:
        f = filter_of(EventType={"DimensionType": "EXCLUSIVE", "Values": ["_session.start"]})
        assert matches(f, event("purchase")) and not matches(f, event("_session.start"))

    def test_types_compare_exactly(self) -> None:
        f = filter_of(EventType={"Values": ["Purchase"]})
        assert not matches(f, event("purchase"))

    def test_no_dimensions_match_every_event(self) -> None:
        assert matches(filter_of(), event("anything"))


class TestAttributes:
    @pytest.mark.parametrize(
        ("dim", "value", "hit"),
        [
            (attr("INCLUSIVE", "gold", "silver"), "silver", True),
            (attr("INCLUSIVE", "gold"), "Gold", False),
            (attr("EXCLUSIVE", "gold"), "silver", True),
            (attr("EXCLUSIVE", "gold"), "gold", False),
            (attr("CONTAINS", "@example.", "@test."), "ann@example.com", True),
            (attr("CONTAINS", "EXAMPLE"), "ann@example.com", False),
            (attr("BEFORE", "2026-03-01"), "2026-02-28T23:59:59Z", True),
            (attr("BEFORE", "2026-03-01"), "2026-03-01T00:00:00Z", False),
            (attr("AFTER", "2026-03-01T00:00:00Z"), "2026-03-01T00:00:01Z", True),
            (attr("AFTER", "2026-03-01T00:00:00Z"), "2026-03-01", False),
            (attr("ON", "2028-02-29"), "2028-02-29T23:59:59Z", True),
            (attr("ON", "2028-02-29"), "2028-02-29T23:30:00-01:00", False),  # 1 March in UTC
            (attr("ON", "2028-02-29T18:00:00Z"), "2028-02-29", True),
            (attr("BETWEEN", "2026-01-01", "2026-01-31"), "2026-01-31T00:00:00Z", True),
            (attr("BETWEEN", "2026-01-01", "2026-01-31"), "2026-01-31T00:00:01Z", False),
            (attr("BETWEEN", "2026-01-01", "2026-01-31"), "not a date", False),
            (attr("BEFORE", "2026-03-01"), "2026-02-30", False),
        ],
    )
    def test_attribute_types(self, dim: dict[str, Any], value: str, hit: bool) -> None:
        assert matches(filter_of(Attributes={"k": dim}), event(attributes={"k": value})) is hit

    @pytest.mark.parametrize(
        ("kind", "hit"), [(k, k == "EXCLUSIVE") for k in ("INCLUSIVE", "EXCLUSIVE", "CONTAINS", "ON")]
    )
    def test_a_missing_attribute_matches_only_exclusive(self, kind: str, hit: bool) -> None:
        f = filter_of(Attributes={"k": attr(kind, "2026-01-01")})
        assert matches(f, event(attributes={"other": "2026-01-01"})) is hit

    def test_different_keys_are_anded(self) -> None:
        f = filter_of(Attributes={"plan": attr("INCLUSIVE", "pro"), "country": attr("INCLUSIVE", "FR", "DE")})
        assert matches(f, event(attributes={"plan": "pro", "country": "DE"}))
        assert not matches(f, event(attributes={"plan": "pro", "country": "US"}))


class TestMetrics:
    @pytest.mark.parametrize(
        ("op", "hits"),
        [
            ("GREATER_THAN", [False, False, True]),
            ("GREATER_THAN_OR_EQUAL", [False, True, True]),
            ("LESS_THAN", [True, False, False]),
            ("LESS_THAN_OR_EQUAL", [True, True, False]),
            ("EQUAL", [False, True, False]),
        ],
    )
    def test_operators(self, op: str, hits: list[bool]) -> None:
        f = filter_of(Metrics={"price": metric(op, 10)})
        assert [matches(f, event(price=v)) for v in (9.5, 10.0, 10.5)] == hits

    def test_a_missing_metric_never_matches(self) -> None:
        f = filter_of(Metrics={"price": metric("LESS_THAN", 10)})
        assert not matches(f, event(other=1))

    def test_all_dimensions_together(self) -> None:
        f = filter_of(
            EventType={"Values": ["purchase"]},
            Attributes={"plan": attr("INCLUSIVE", "pro")},
            Metrics={"price": metric("GREATER_THAN", 100)},
        )
        assert matches(f, event("purchase", {"plan": "pro"}, price=150))
        assert not matches(f, event("purchase", {"plan": "pro"}, price=50))
        assert not matches(f, event("refund", {"plan": "pro"}, price=150))


class TestCheck:
    def test_a_good_filter_passes(self) -> None:
        check_event_filter(
            {
                "FilterType": "SYSTEM",
                "Dimensions": {
                    "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.delivered"]},
                    "Attributes": {"when": attr("BETWEEN", "2026-01-01", "2026-12-31T23:59:59Z")},
                    "Metrics": {"n": metric("EQUAL", 1)},
                },
            },
            FIELD,
        )

    @pytest.mark.parametrize(
        ("event_filter", "path"),
        [
            ({"FilterType": "ENDPOINT"}, "EventFilter.Dimensions"),
            ({"FilterType": "OTHER", "Dimensions": {}}, "EventFilter.FilterType"),
            (filter_of(EventType={"DimensionType": "MAYBE", "Values": ["x"]}), "Dimensions.EventType.DimensionType"),
            (filter_of(EventType={"Values": []}), "Dimensions.EventType.Values"),
            (filter_of(Attributes={"k": attr("SOUNDS_LIKE", "x")}), "Dimensions.Attributes.k.AttributeType"),
            (filter_of(Attributes={"k": attr("INCLUSIVE")}), "Dimensions.Attributes.k.Values"),
            (filter_of(Attributes={"k": attr("BETWEEN", "2026-01-01")}), "Dimensions.Attributes.k.Values"),
            (
                filter_of(Attributes={"k": attr("BETWEEN", "2026-02-01", "2026-01-01")}),
                "Dimensions.Attributes.k.Values",
            ),
            (filter_of(Attributes={"k": attr("ON", "2026-02-30")}), "Dimensions.Attributes.k.Values"),
            (filter_of(Attributes={"k": attr("AFTER", "yesterday")}), "Dimensions.Attributes.k.Values"),
            (filter_of(Metrics={"m": metric("ABOUT", 1)}), "Dimensions.Metrics.m.ComparisonOperator"),
            (filter_of(Metrics={"m": metric("EQUAL", float("nan"))}), "Dimensions.Metrics.m.Value"),
        ],
    )
    def test_malformed_filters_name_the_member(self, event_filter: dict[str, Any], path: str) -> None:
        with pytest.raises(BadRequest, match=path.replace(".", r"\.")):
            check_event_filter(event_filter, FIELD)


values = st.text(alphabet="abc", min_size=1, max_size=3)


@settings(max_examples=100)
@given(wanted=st.lists(values, min_size=1, max_size=3), actual=st.one_of(st.none(), values))
def test_exclusive_is_the_negation_of_inclusive(wanted: list[str], actual: str | None) -> None:
    attributes = {} if actual is None else {"k": actual}
    inclusive = matches(filter_of(Attributes={"k": attr("INCLUSIVE", *wanted)}), event(attributes=attributes))
    exclusive = matches(filter_of(Attributes={"k": attr("EXCLUSIVE", *wanted)}), event(attributes=attributes))
    assert inclusive is (actual in wanted) and exclusive is not inclusive


@settings(max_examples=100)
@given(wanted=st.lists(values, min_size=1, max_size=3), actual=values)
def test_values_of_one_key_are_ored(wanted: list[str], actual: str) -> None:
    one_at_a_time = [
        matches(filter_of(Attributes={"k": attr("CONTAINS", w)}), event(attributes={"k": actual})) for w in wanted
    ]
    together = matches(filter_of(Attributes={"k": attr("CONTAINS", *wanted)}), event(attributes={"k": actual}))
    assert together is any(one_at_a_time)
