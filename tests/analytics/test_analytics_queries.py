"""analytics/queries.py: a page's or a funnel's question read and checked, each refusal naming
the parameter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from analytics.model import Filters, Granularity
from analytics.queries import (
    MAX_FUNNEL_STEPS,
    Step,
    parse_funnel,
    parse_page_query,
    window_of,
)
from openpoint.errors import BadRequest

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


def refusal(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(BadRequest) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.message


class TestWindow:
    def test_the_default_is_the_last_30_days_ending_today(self) -> None:
        w = window_of(None, None, now=NOW)
        assert (w.first, w.last, w.granularity) == (date(2026, 11, 7), date(2026, 12, 6), Granularity.DAY)
        assert len(w.days) == 30

    def test_instants_give_their_utc_days(self) -> None:
        w = window_of("2026-12-01T23:30:00-02:00", "2026-12-03T00:10:00Z", "hour", now=NOW)
        assert (w.first, w.last, w.granularity) == (date(2026, 12, 2), date(2026, 12, 3), Granularity.HOUR)

    def test_the_whole_retention_is_one_range_at_day_granularity(self) -> None:
        w = window_of("2026-09-08T00:00:00Z", "2026-12-06T00:00:00Z", now=NOW)
        assert len(w.days) == 90

    @pytest.mark.parametrize(
        ("start", "end", "granularity", "named"),
        [
            ("2026-09-07T00:00:00Z", None, None, "start-time"),  # 91 days ago: past retention
            ("2026-12-05T00:00:00Z", "2026-12-01T00:00:00Z", None, "start-time"),  # after the end
            ("yesterday", None, None, "start-time"),
            (None, "2026-13-01", None, "end-time"),
            ("2026-11-20T00:00:00Z", "2026-12-01T00:00:00Z", "HOUR", "end-time"),  # 12 days of hours
            (None, None, "WEEK", "granularity"),
        ],
    )
    def test_bad_ranges_name_the_parameter(self, start: str, end: str, granularity: str, named: str) -> None:
        assert refusal(window_of, start, end, granularity, now=NOW).startswith(f"Invalid value for {named}:")

    def test_a_span_past_the_maximum_names_end_time(self) -> None:
        message = refusal(window_of, "2026-09-08T00:00:00Z", "2026-12-07T00:00:00Z", now=NOW)  # 91 days
        assert message.startswith("Invalid value for end-time: a range covers at most 90 days")


class TestPageQuery:
    def test_filters_and_page_parameters(self) -> None:
        q = parse_page_query(
            "campaigns",
            [
                ("platform", "ios,android"),
                ("attribute.plan", "gold,silver"),
                ("attribute.plan", "bronze"),
                ("channel", "email"),
                ("app-version", "2.0"),
                ("segment-id", "s1"),
                ("campaign-id", "c1"),
                ("format", "CSV"),
            ],
            now=NOW,
        )
        assert q.filters == Filters(
            segment_id="s1",
            attributes={"plan": ("gold", "silver", "bronze")},
            platforms=("ios", "android"),
            channels=("EMAIL",),
            app_versions=("2.0",),
        )
        assert (q.one("campaign-id"), q.one("view"), q.csv) == ("c1", "treatments", True)

    def test_no_filters_is_every_endpoint(self) -> None:
        q = parse_page_query("transactional", [], now=NOW)
        assert q.filters.empty and not q.csv and q.one("view") == "daily"

    @pytest.mark.parametrize(
        ("page", "query", "named"),
        [
            ("funnels", [], "Invalid value for page:"),
            ("campaigns", [("event-type", "x")], "Invalid parameter: 'event-type'"),
            ("usage", [("colour", "red")], "Invalid parameter: 'colour'"),
            ("campaigns", [("granularity", "HOUR")], "Invalid value for granularity:"),
            ("campaigns", [("view", "daily")], "Invalid value for view:"),
            ("campaigns", [("campaign-id", "a,b")], "Invalid value for campaign-id:"),
            ("usage", [("channel", "FAX")], "Invalid value for channel:"),
            ("usage", [("platform", ",")], "Invalid value for platform:"),
            ("usage", [("segment-id", "a"), ("segment-id", "b")], "Invalid value for segment-id:"),
            ("usage", [("format", "xml")], "Invalid value for format:"),
            ("usage", [("start-time", "a"), ("start-time", "b")], "Invalid value for start-time:"),
        ],
    )
    def test_bad_input_names_the_parameter(self, page: str, query: list[tuple[str, str]], named: str) -> None:
        assert refusal(parse_page_query, page, query, now=NOW).startswith(named)


class TestFunnel:
    def test_steps_and_their_attributes(self) -> None:
        f = parse_funnel(
            {
                "StartTime": "2026-12-01T00:00:00Z",
                "Steps": [{"EventType": "view"}, {"EventType": "buy", "Attributes": {"plan": ["a", "b", "a"]}}],
            },
            [("platform", "ios")],
            now=NOW,
        )
        assert f.steps == (Step("view"), Step("buy", {"plan": ("a", "b")}))
        assert (f.window.first, f.window.last, f.filters.platforms) == (date(2026, 12, 1), date(2026, 12, 6), ("ios",))

    @pytest.mark.parametrize(
        ("body", "named"),
        [
            ({}, "Steps"),
            ({"Steps": []}, "Steps"),
            ({"Steps": [{"EventType": "e"}] * (MAX_FUNNEL_STEPS + 1)}, "Steps"),
            ({"Steps": [{"EventType": ""}]}, "Steps[0].EventType"),
            ({"Steps": [{"EventType": "a"}, "b"]}, "Steps[1]"),
            ({"Steps": [{"EventType": "a", "Attributes": {"k": "v"}}]}, "Steps[0].Attributes.k"),
            ({"Steps": [{"EventType": "a", "Metrics": {}}]}, "Steps[0].Metrics"),
            ({"Steps": [{"EventType": "a"}], "StartTime": "2026-01-01T00:00:00Z"}, "StartTime"),
            ({"Steps": [{"EventType": "a"}], "Colour": 1}, "Colour"),
        ],
    )
    def test_bad_funnels_name_the_member(self, body: dict[str, object], named: str) -> None:
        assert refusal(parse_funnel, body, now=NOW).startswith(f"Invalid value for {named}:")

    def test_the_maximum_of_steps_is_allowed(self) -> None:
        assert len(parse_funnel({"Steps": [{"EventType": "e"}] * MAX_FUNNEL_STEPS}, now=NOW).steps) == MAX_FUNNEL_STEPS

    def test_an_unknown_filter_is_refused(self) -> None:
        assert refusal(parse_funnel, {"Steps": [{"EventType": "a"}]}, [("event-type", "x")], now=NOW).startswith(
            "Invalid parameter: 'event-type'"
        )


class TestPageParameters:
    def test_views_default_to_the_first(self) -> None:
        assert parse_page_query("usage", [], now=NOW).one("view") == "active"
        assert parse_page_query("revenue", [("view", "products")], now=NOW).one("view") == "products"

    def test_hours_only_where_the_page_has_an_hourly_axis(self) -> None:
        assert (
            parse_page_query("transactional", [("granularity", "HOUR")], now=NOW).window.granularity is Granularity.HOUR
        )
        assert refusal(parse_page_query, "usage", [("granularity", "HOUR")], now=NOW).startswith(
            "Invalid value for granularity:"
        )

    def test_on_the_events_page_attributes_are_the_events_own(self) -> None:
        q = parse_page_query(
            "events", [("attribute.plan", "gold"), ("event-type", "buy"), ("metric", "price")], now=NOW
        )
        assert q.event_attributes == {"plan": ("gold",)} and q.filters.empty
        assert (q.one("event-type"), q.one("metric")) == ("buy", "price")

    def test_demographics_group_by_platform_unless_told(self) -> None:
        assert parse_page_query("demographics", [], now=NOW).one("dimension") == "platform"
        assert parse_page_query("demographics", [("dimension", "city")], now=NOW).one("dimension") == "city"
