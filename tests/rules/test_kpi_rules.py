"""KPI names, date ranges and result rows, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openpoint.errors import BadRequest
from rules import kpis
from rules.engagement import TWILIO_STATUS_EVENTS, delivery_events
from rules.kpis import Group, Scope, Totals, country_of, date_range, lookup, result_rows

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

# §6.1 of PINPOINT.md: every name Pinpoint defines for the two operations.
CAMPAIGN_NAMES = """attempted-deliveries-grouped-by-campaign-activity successful-deliveries-grouped-by-campaign-activity
successful-delivery-rate successful-delivery-rate-grouped-by-campaign-activity successful-delivery-rate-grouped-by-date
unique-deliveries unique-deliveries-grouped-by-campaign-activity unique-deliveries-grouped-by-date email-open-rate
email-open-rate-grouped-by-campaign-activity direct-email-opens-grouped-by-campaign-activity
clicks-grouped-by-campaign-activity hard-bounce-rate hard-bounce-rate-grouped-by-campaign-activity push-open-rate
push-open-rate-grouped-by-campaign-activity direct-push-opens-grouped-by-campaign-activity sms-spend""".split()
_TXN_EMAIL = [
    f"txn-emails-{m}{g}"
    for m in (
        "sent delivered delivery-rate opened unique-opens clicked unique-clicks hard-bounced soft-bounced"
        " with-complaints complaint-rate"
    ).split()
    for g in ("", "-grouped-by-date")
]
APPLICATION_NAMES = (
    """successful-delivery-rate successful-delivery-rate-grouped-by-date email-open-rate
email-open-rate-grouped-by-campaign unique-deliveries unique-deliveries-grouped-by-campaign
unique-deliveries-grouped-by-date successful-deliveries-grouped-by-campaign push-open-rate
push-open-rate-grouped-by-campaign txn-sms-sent txn-sms-sent-grouped-by-country txn-sms-sent-grouped-by-date
txn-sms-delivered txn-sms-delivered-grouped-by-country txn-sms-delivered-grouped-by-date txn-sms-delivery-rate
txn-sms-delivery-rate-grouped-by-date txn-sms-sent-by-parts txn-sms-sent-by-parts-grouped-by-country
txn-sms-delivered-by-parts txn-sms-delivered-by-parts-grouped-by-country txn-sms-error-distribution
txn-sms-average-price-grouped-by-country txn-sms-average-price-by-parts-grouped-by-country
txn-sms-total-price-grouped-by-country""".split()
    + _TXN_EMAIL
)


class TestNames:
    @pytest.mark.parametrize(("names", "campaign"), [(CAMPAIGN_NAMES, True), (APPLICATION_NAMES, False)])
    def test_every_pinpoint_name_is_served_or_refused_with_a_reason(self, names: list[str], campaign: bool) -> None:
        served = {n for (n, c) in kpis.KPIS if c is campaign}
        refused = {n for (n, c) in kpis.UNAVAILABLE if c is campaign}
        assert served | refused == set(names)
        assert not served & refused

    def test_grouping_and_keys_follow_the_name(self) -> None:
        kpi = lookup("successful-delivery-rate-grouped-by-campaign-activity", campaign=True)
        assert (kpi.key, kpi.group, kpi.scope, kpi.is_rate) == (
            "SuccessfulDeliveryRate",
            Group.CAMPAIGN_ACTIVITY,
            Scope.CAMPAIGN,
            True,
        )
        assert lookup("unique-deliveries-grouped-by-campaign", campaign=False).key == "UniqueDeliveries"
        txn = lookup("txn-sms-sent-grouped-by-country", campaign=False)
        assert (txn.key, txn.group, txn.scope) == ("TxnSmsSent", Group.COUNTRY, Scope.TRANSACTIONAL)

    def test_the_same_name_is_one_campaign_or_every_campaign_by_operation(self) -> None:
        assert lookup("unique-deliveries", campaign=True).scope is Scope.CAMPAIGN
        assert lookup("unique-deliveries", campaign=False).scope is Scope.CAMPAIGNS

    def test_unknown_names_are_refused_by_name(self) -> None:
        with pytest.raises(BadRequest, match="'open-sesame' is not a campaign metric"):
            lookup("open-sesame", campaign=True)

    def test_a_name_of_the_other_operation_says_where_it_belongs(self) -> None:
        with pytest.raises(BadRequest, match="It is an application metric"):
            lookup("txn-emails-sent", campaign=True)
        with pytest.raises(BadRequest, match="It is a campaign metric"):
            lookup("clicks-grouped-by-campaign-activity", campaign=False)

    def test_metrics_without_data_say_why(self) -> None:
        with pytest.raises(BadRequest, match="sms-spend is not available: .*charged"):
            lookup("sms-spend", campaign=True)
        with pytest.raises(BadRequest, match="complaint"):
            lookup("txn-emails-complaint-rate-grouped-by-date", campaign=False)

    def test_country_groups_only_add_up_event_counts(self) -> None:
        # Numbers are folded into countries after the query: only plain counts survive that.
        for kpi in kpis.KPIS.values():
            if kpi.group is Group.COUNTRY:
                assert not kpi.is_rate and kpi.value.count is kpis.Count.EVENTS


class TestEvents:
    """The events the metrics count are the ones the delivery layer and callbacks write."""

    def test_sent_is_every_outcome_event(self) -> None:
        written = {
            e
            for channel in ("EMAIL", "SMS", "VOICE", "GCM", "CUSTOM")
            for status in ("SUCCESSFUL", "PERMANENT_FAILURE")
            for e in delivery_events(channel, status)
        }
        assert kpis.SENT.events == written - {"_email.delivered"}
        assert kpis.SENT.outcomes_only

    def test_delivered_is_the_channel_receipt(self) -> None:
        assert TWILIO_STATUS_EVENTS[("SMS", "delivered")] in kpis.DELIVERED.events
        assert TWILIO_STATUS_EVENTS[("VOICE", "completed")] in kpis.DELIVERED.events
        assert "_SMS.BUFFERED" not in kpis.DELIVERED.events
        assert kpis.DELIVERED.less == kpis.HARD_BOUNCES


class TestDateRange:
    def test_defaults_to_the_last_31_days(self) -> None:
        assert date_range(None, None, now=NOW) == (NOW - timedelta(days=31), NOW)

    def test_a_lone_start_runs_31_days_or_to_now(self) -> None:
        start = NOW - timedelta(days=60)
        assert date_range(start, None, now=NOW) == (start, start + timedelta(days=31))
        recent = NOW - timedelta(days=3)
        assert date_range(recent, None, now=NOW) == (recent, NOW)

    def test_a_lone_end_starts_31_days_earlier(self) -> None:
        end = NOW - timedelta(days=10)
        assert date_range(None, end, now=NOW) == (end - timedelta(days=31), end)

    def test_31_calendar_days_inclusive_are_allowed(self) -> None:
        start = datetime(2026, 10, 1, tzinfo=UTC)
        end = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
        assert date_range(start, end, now=NOW) == (start, end)

    @pytest.mark.parametrize(
        ("start", "end", "message"),
        [
            (NOW - timedelta(days=40), NOW, "end-time: a date range covers at most 31 days"),
            (NOW - timedelta(days=91), NOW - timedelta(days=80), "start-time: it must be within the last 90 days"),
            (NOW - timedelta(days=1), NOW - timedelta(days=2), "start-time: it is after end-time"),
        ],
    )
    def test_refused_ranges_name_the_parameter(self, start: datetime, end: datetime, message: str) -> None:
        with pytest.raises(BadRequest, match=message):
            date_range(start, end, now=NOW)


class TestRows:
    def test_a_count_is_a_double_in_a_string(self) -> None:
        kpi = lookup("unique-deliveries", campaign=True)
        assert result_rows(kpi, [("", Totals(value=1368, basis=1400))]) == [
            {"Values": [{"Key": "UniqueDeliveries", "Type": "Double", "Value": "1368.0"}]}
        ]

    def test_a_rate_is_a_ratio(self) -> None:
        kpi = lookup("successful-delivery-rate", campaign=True)
        [row] = result_rows(kpi, [("", Totals(value=3, per=4))])
        assert row["Values"][0]["Value"] == "0.75"

    def test_a_day_never_reads_above_1(self) -> None:
        kpi = lookup("txn-sms-delivery-rate-grouped-by-date", campaign=False)
        [row] = result_rows(kpi, [("2026-11-02", Totals(value=5, per=3))])
        assert row["Values"][0]["Value"] == "1.0"

    def test_no_data_gives_no_rows(self) -> None:
        assert result_rows(lookup("email-open-rate", campaign=True), [("", Totals(value=0, per=0))]) == []
        assert result_rows(lookup("txn-emails-hard-bounced", campaign=False), [("", Totals())]) == []

    def test_zero_is_data_where_the_channel_was_used(self) -> None:
        [row] = result_rows(lookup("txn-emails-hard-bounced", campaign=False), [("", Totals(value=0, basis=2))])
        assert row["Values"][0]["Value"] == "0.0"

    def test_grouped_rows_name_their_group_and_skip_events_without_it(self) -> None:
        kpi = lookup("clicks-grouped-by-campaign-activity", campaign=True)
        rows = result_rows(kpi, [("run-1", Totals(value=2, basis=5)), ("", Totals(value=1, basis=1))])
        assert rows == [
            {
                "GroupedBys": [{"Key": "CampaignActivityId", "Type": "String", "Value": "run-1"}],
                "Values": [{"Key": "Clicks", "Type": "Double", "Value": "2.0"}],
            }
        ]

    def test_numbers_fold_into_countries(self) -> None:
        kpi = lookup("txn-sms-sent-grouped-by-country", campaign=False)
        counted = [
            ("+12065550142", Totals(value=2, basis=2)),
            ("+15551234567", Totals(value=1, basis=1)),  # outside the plan: +1's main country
            ("+33612345678", Totals(value=4, basis=4)),
            ("not-a-number", Totals(value=9, basis=9)),
        ]
        rows = result_rows(kpi, counted)
        assert [(r["GroupedBys"][0]["Value"], r["Values"][0]["Value"]) for r in rows] == [("FR", "4.0"), ("US", "3.0")]
        assert rows[0]["GroupedBys"][0]["Key"] == "Country"

    def test_country_of(self) -> None:
        assert country_of("+447700900123") == "GB"
        assert country_of("+61491570156") == "AU"
        assert country_of("12") is None
