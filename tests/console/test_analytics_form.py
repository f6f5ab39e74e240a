"""The Analytics page's URL as the API's query (pure: no browser, no stack), the API's refusals
mapped to the form's fields, and a Table as chart data."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.model import Column, Table
from console.analytics_form import AnalyticsForm, field_of
from console.charts import chart_of, label, shown
from openpoint.errors import BadRequest

TODAY = date(2026, 12, 6)


class TestForm:
    def test_a_range_becomes_the_apis_start_and_end(self) -> None:
        form = AnalyticsForm.read([("range", "7"), ("view", "daily"), ("platform", ""), ("start", "2026-01-01")])
        assert form.page_query(TODAY) == [
            ("start-time", "2026-11-30T00:00:00Z"),
            ("end-time", "2026-12-06T00:00:00Z"),
            ("view", "daily"),
        ]

    def test_custom_dates_filters_and_attributes(self) -> None:
        form = AnalyticsForm.read(
            [("range", "custom"), ("start", "2026-12-01"), ("end", ""), ("channel", "EMAIL"),
             ("attribute", "plan=gold,silver"), ("attribute.city", "Oslo")]
        )  # fmt: skip
        assert form.page_query(TODAY) == [
            ("start-time", "2026-12-01T00:00:00Z"),
            ("channel", "EMAIL"),
            ("attribute.city", "Oslo"),
            ("attribute.plan", "gold,silver"),
        ]

    def test_an_attribute_without_a_name_is_refused(self) -> None:
        with pytest.raises(BadRequest) as err:
            AnalyticsForm.read([("attribute", "gold")]).page_query(TODAY)
        assert field_of(err.value) == "attribute"

    def test_funnel_steps_in_order(self) -> None:
        form = AnalyticsForm.read([("range", "30"), ("step", "view"), ("step", "buy"), ("step", "")])
        assert form.funnel_body(TODAY)["Steps"] == [{"EventType": "view"}, {"EventType": "buy"}]

    @pytest.mark.parametrize(
        ("message", "field"),
        [
            ("Invalid value for start-time: it is after end-time.", "start"),
            ("Invalid value for EndTime: a range covers at most 90 days.", "end"),
            ("Invalid value for channel: 'X' is not a channel type.", "channel"),
            ("Invalid value for attribute.plan: it is empty.", "attribute"),
            ("Invalid value for Steps[2].EventType: project p has no event of type 'x'.", "step-2"),
            ("Invalid parameter: 'colour' is not a parameter of the usage page.", "colour"),
            ("Something else.", ""),
        ],
    )
    def test_refusals_name_their_field(self, message: str, field: str) -> None:
        assert field_of(BadRequest(message)) == field


class TestCharts:
    def test_days_without_rows_are_zero_and_ratios_go_right(self) -> None:
        table = Table([Column("Date", "String")], [Column("DailyActiveEndpoints", "Long"), Column("Stickiness")])
        table.add(["2026-12-02"], [3, 0.5])
        chart = chart_of(table, "t", ["2026-12-01", "2026-12-02"])
        assert chart["kind"] == "line" and chart["categories"] == ["2026-12-01", "2026-12-02"]
        assert chart["series"] == [
            {"name": "Daily active endpoints", "data": [0, 3], "ratio": False},
            {"name": "Stickiness", "data": [None, 0.5], "ratio": True},
        ]

    def test_cells_keep_the_apis_values(self) -> None:
        table = Table([Column("Hour", "String")], [Column("Sessions", "Long"), Column("OpenRate")])
        table.add(["3"], [1200, 0.25])
        view = shown(table, "t")
        assert [(c.text, c.value) for c in view.rows[0]] == [("3", "3"), ("1,200", "1200"), ("25.0%", "0.25")]
        assert view.chart["kind"] == "bar" and not view.empty
        assert shown(Table([Column("Hour", "String")], [Column("Sessions", "Long")], [(("0",), (0,))]), "t").empty

    def test_labels(self) -> None:
        assert label("SessionsPerActiveEndpoint") == "Sessions per active endpoint"
        assert label("Retention14Day") == "14-day retention"
        assert label("SmsSent") == "SMS sent" and label("TreatmentId") == "Treatment ID"
