"""Campaign runs and date-range KPIs through boto3.

Transactional numbers come from real sends (SMTP sink, Twilio fake, the open pixel). Campaign
runs and the events of campaign sends are written the way the campaign workflow writes them
(rows in `campaign_activities`, delivery events carrying the campaign ids), since the workflow
is not what these tests are about; push opens arrive through PutEvents as the app's SDK sends
them.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rules.engagement import delivery_events
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

NOW = datetime.now(UTC)
# Whole clock hours, well inside the default 31-day window.
DAY1 = (NOW - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
DAY2 = DAY1 + timedelta(days=1)


# -- writing what the campaign workflow and the delivery layer write ------------------------


def add_campaign(stack: Stack, app_id: str) -> str:
    campaign_id = uuid.uuid4().hex
    stack.sql("INSERT INTO campaigns (app_id, id) VALUES ($1, $2)", app_id, campaign_id)
    return campaign_id


def add_run(stack: Stack, app_id: str, campaign_id: str, run: int, treatment: str = "0", **columns: Any) -> str:
    activity_id = uuid.uuid4().hex
    values = {
        "scheduled_start": DAY1 + timedelta(days=run),
        "state": "COMPLETED",
        "result": "SUCCESS",
        "execution_metrics": "{}",
        **columns,
    }
    names = ", ".join(values)
    slots = ", ".join(f"${i}" + ("::jsonb" if k == "execution_metrics" else "") for i, k in enumerate(values, 6))
    stack.sql(
        "INSERT INTO campaign_activities (app_id, campaign_id, id, run_number, treatment_id, campaign_version, "
        f"{names}) VALUES ($1, $2, $3, $4, $5, 1, {slots})",
        app_id,
        campaign_id,
        activity_id,
        run,
        treatment,
        *values.values(),
    )
    return activity_id


def add_event(stack: Stack, app_id: str, event_type: str, endpoint_id: str, at: datetime, **attributes: str) -> None:
    stack.sql("SELECT ensure_event_partition($1::date)", at.date())
    stack.sql(
        "INSERT INTO events (app_id, endpoint_id, event_id, event_type, event_time, attributes)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        app_id,
        endpoint_id,
        uuid.uuid4().hex,
        event_type,
        at,
        json.dumps(attributes),
    )


class CampaignSends:
    """Deliveries of one campaign run and what came back, with the attributes the delivery
    layer and the engagement routes write."""

    def __init__(self, stack: Stack, app_id: str, campaign_id: str, activity_id: str, at: datetime) -> None:
        self.stack, self.app_id, self.at = stack, app_id, at
        self.ids = {"campaign_id": campaign_id, "treatment_id": "0", "campaign_activity_id": activity_id}
        self.messages: dict[str, str] = {}

    def send(self, endpoint_id: str, channel: str = "EMAIL", status: str = "SUCCESSFUL") -> None:
        message_id = uuid.uuid4().hex if status == "SUCCESSFUL" else ""
        self.messages[endpoint_id] = message_id
        outcome = {"channel_type": channel, "delivery_status": status, "source": "campaign", "source_id": "x"}
        for event_type in delivery_events(channel, status):
            extra = {"message_id": message_id} if message_id else {}
            add_event(self.stack, self.app_id, event_type, endpoint_id, self.at, **self.ids, **outcome, **extra)

    def engage(self, event_type: str, endpoint_id: str, minutes: int) -> None:
        """An open, click or bounce reported `minutes` after the run's hour began."""
        at = self.at + timedelta(minutes=minutes)
        attributes = {**self.ids, "message_id": self.messages[endpoint_id], "source": "campaign"}
        add_event(self.stack, self.app_id, event_type, endpoint_id, at, **attributes)


def values(resp: dict[str, Any], key: str) -> list[tuple[str | None, str]]:
    """(group value or None, Value) per row of a *DateRangeKpiResponse."""
    out = []
    for row in resp[key]["KpiResult"]["Rows"]:
        groups = row.get("GroupedBys") or [{"Value": None}]
        out.append((groups[0]["Value"], row["Values"][0]["Value"]))
    return out


def campaign_kpi(pinpoint: Any, app_id: str, campaign_id: str, name: str, **extra: Any) -> list[tuple[str | None, str]]:
    resp = pinpoint.get_campaign_date_range_kpi(ApplicationId=app_id, CampaignId=campaign_id, KpiName=name, **extra)
    return values(resp, "CampaignDateRangeKpiResponse")


def app_kpi(pinpoint: Any, app_id: str, name: str, **extra: Any) -> list[tuple[str | None, str]]:
    resp = pinpoint.get_application_date_range_kpi(ApplicationId=app_id, KpiName=name, **extra)
    return values(resp, "ApplicationDateRangeKpiResponse")


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(Exception) as info:
        call(**kwargs)
    err = info.value.response["Error"]  # type: ignore[attr-defined]
    return err["Code"], err["Message"]


# -- GetCampaignActivities ------------------------------------------------------------------


class TestGetCampaignActivities:
    def test_runs_come_newest_first_with_their_counts(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        first = add_run(
            stack,
            app_id,
            campaign_id,
            1,
            started_at=DAY1,
            ended_at=DAY1 + timedelta(minutes=5),
            total_endpoint_count=120,
            successful_endpoint_count=117,
            timezones_total_count=2,
            timezones_completed_count=2,
            execution_metrics=json.dumps({"ENDPOINT_OPT_OUT": 3, "TREATMENT_HOLDOUT": 0}),
        )
        second = add_run(stack, app_id, campaign_id, 2, state="RUNNING", result=None, started_at=DAY2)

        items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign_id)["ActivitiesResponse"]
        assert [i["Id"] for i in items["Item"]] == [second, first]
        running, done = items["Item"]
        assert running["State"] == "RUNNING" and "Result" not in running and "End" not in running
        assert done == {
            "ApplicationId": app_id,
            "CampaignId": campaign_id,
            "Id": first,
            "TreatmentId": "0",
            "ScheduledStart": (DAY1 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "Start": DAY1.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "End": (DAY1 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "State": "COMPLETED",
            "Result": "SUCCESS",
            "TotalEndpointCount": 120,
            "SuccessfulEndpointCount": 117,
            "TimezonesTotalCount": 2,
            "TimezonesCompletedCount": 2,
            "ExecutionMetrics": {"ENDPOINT_OPT_OUT": "3", "TREATMENT_HOLDOUT": "0"},
        }
        assert "NextToken" not in items

    def test_pages_walk_runs_and_treatments(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        expected = [(run, treatment) for run in (3, 2, 1) for treatment in ("0", "1")]
        ids = {add_run(stack, app_id, campaign_id, run, treatment): (run, treatment) for run, treatment in expected}
        pages: list[list[tuple[int, str]]] = []
        token: dict[str, str] = {}
        while True:
            page = pinpoint.get_campaign_activities(
                ApplicationId=app_id, CampaignId=campaign_id, PageSize="4", **token
            )["ActivitiesResponse"]
            pages.append([ids[i["Id"]] for i in page["Item"]])
            if "NextToken" not in page:
                break
            token = {"Token": page["NextToken"]}
        assert pages == [expected[:4], expected[4:]]

    def test_a_campaign_without_runs_has_none(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign_id)["ActivitiesResponse"]
        assert items["Item"] == []

    def test_an_unknown_campaign_is_not_found(self, pinpoint: Any, app_id: str) -> None:
        code, message = error_of(pinpoint.get_campaign_activities, ApplicationId=app_id, CampaignId="f" * 32)
        assert (code, message) == ("NotFoundException", "Resource not found")


# -- GetCampaignDateRangeKpi ----------------------------------------------------------------


@pytest.fixture
def email_campaign(stack: Stack, app_id: str) -> tuple[str, str, str]:
    """Two runs of one email campaign, a day apart (campaign id, run 1, run 2).

    Run 1: e1 and e2 delivered, e3 refused; e1 opens at 10:05 and 10:40 (one hour) and 11:10,
    and clicks once; e2 opens once. Run 2: e1, e2 and e4 delivered, e5 refused, e4 hard-bounces
    later; e1 opens once. Another campaign and a direct send in the same project add noise.
    """
    campaign_id = add_campaign(stack, app_id)
    run1, run2 = add_run(stack, app_id, campaign_id, 1), add_run(stack, app_id, campaign_id, 2)
    one = CampaignSends(stack, app_id, campaign_id, run1, DAY1)
    for e in ("e1", "e2"):
        one.send(e)
    one.send("e3", status="PERMANENT_FAILURE")
    for minutes in (5, 40, 70):
        one.engage("_email.open", "e1", minutes)
    one.engage("_email.click", "e1", 6)
    one.engage("_email.open", "e2", 120)

    two = CampaignSends(stack, app_id, campaign_id, run2, DAY2)
    for e in ("e1", "e2", "e4"):
        two.send(e)
    two.send("e5", status="PERMANENT_FAILURE")
    two.engage("_email.hardbounce", "e4", 1)
    two.engage("_email.open", "e1", 30)

    other = add_campaign(stack, app_id)
    noise = CampaignSends(stack, app_id, other, add_run(stack, app_id, other, 1), DAY1)
    noise.send("e9")
    noise.engage("_email.open", "e9", 1)
    add_event(stack, app_id, "_email.send", "e1", DAY1, source="direct", delivery_status="SUCCESSFUL", message_id="m")
    return campaign_id, run1, run2


class TestCampaignKpis:
    def test_delivery_numbers_per_run(self, pinpoint: Any, app_id: str, email_campaign: tuple[str, str, str]) -> None:
        campaign_id, run1, run2 = email_campaign

        def by_run(name: str) -> dict[str | None, str]:
            return dict(campaign_kpi(pinpoint, app_id, campaign_id, name + "-grouped-by-campaign-activity"))

        assert by_run("attempted-deliveries") == {run1: "3.0", run2: "4.0"}
        # A hard bounce reported later takes its delivery back.
        assert by_run("successful-deliveries") == {run1: "2.0", run2: "2.0"}
        assert by_run("successful-delivery-rate") == {run1: repr(2 / 3), run2: "0.5"}
        assert by_run("unique-deliveries") == {run1: "2.0", run2: "3.0"}
        assert by_run("hard-bounce-rate") == {run1: "0.0", run2: "0.25"}

    def test_opens_and_clicks_count_once_per_message_and_hour(
        self, pinpoint: Any, app_id: str, email_campaign: tuple[str, str, str]
    ) -> None:
        campaign_id, run1, run2 = email_campaign
        opens = dict(campaign_kpi(pinpoint, app_id, campaign_id, "direct-email-opens-grouped-by-campaign-activity"))
        assert opens == {run1: "3.0", run2: "1.0"}  # e1: 10:05 and 10:40 once, 11:10 again; e2 once
        clicks = dict(campaign_kpi(pinpoint, app_id, campaign_id, "clicks-grouped-by-campaign-activity"))
        assert clicks == {run1: "1.0", run2: "0.0"}
        rates = dict(campaign_kpi(pinpoint, app_id, campaign_id, "email-open-rate-grouped-by-campaign-activity"))
        assert rates == {run1: "1.0", run2: "0.5"}  # opened messages / delivered ones

    def test_whole_campaign_and_by_day(self, pinpoint: Any, app_id: str, email_campaign: tuple[str, str, str]) -> None:
        campaign_id = email_campaign[0]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "successful-delivery-rate") == [(None, repr(4 / 7))]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "unique-deliveries") == [(None, "3.0")]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "email-open-rate") == [(None, "0.75")]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "hard-bounce-rate") == [(None, repr(1 / 7))]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "successful-delivery-rate-grouped-by-date") == [
            (DAY1.strftime("%Y-%m-%d"), repr(2 / 3)),
            (DAY2.strftime("%Y-%m-%d"), "0.5"),
        ]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "unique-deliveries-grouped-by-date") == [
            (DAY1.strftime("%Y-%m-%d"), "2.0"),
            (DAY2.strftime("%Y-%m-%d"), "3.0"),
        ]

    def test_the_response_echoes_the_query(
        self, pinpoint: Any, app_id: str, email_campaign: tuple[str, str, str]
    ) -> None:
        campaign_id = email_campaign[0]
        start, end = DAY2.replace(hour=0), DAY2.replace(hour=23, minute=59, second=59)
        resp = pinpoint.get_campaign_date_range_kpi(
            ApplicationId=app_id, CampaignId=campaign_id, KpiName="unique-deliveries", StartTime=start, EndTime=end
        )["CampaignDateRangeKpiResponse"]
        assert (resp["ApplicationId"], resp["CampaignId"], resp["KpiName"]) == (
            app_id,
            campaign_id,
            "unique-deliveries",
        )
        assert (resp["StartTime"], resp["EndTime"]) == (start, end)
        # Only run 2's day: e1, e2 and e4.
        assert resp["KpiResult"]["Rows"] == [
            {"Values": [{"Key": "UniqueDeliveries", "Type": "Double", "Value": "3.0"}]}
        ]
        assert "NextToken" not in resp

    def test_the_default_range_is_the_last_31_days(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        resp = pinpoint.get_campaign_date_range_kpi(
            ApplicationId=app_id, CampaignId=campaign_id, KpiName="unique-deliveries"
        )["CampaignDateRangeKpiResponse"]
        assert resp["EndTime"] - resp["StartTime"] == timedelta(days=31)
        assert resp["KpiResult"]["Rows"] == []  # no sends, no data

    def test_push_opens_from_the_sdk_count(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        run = add_run(stack, app_id, campaign_id, 1)
        sends = CampaignSends(stack, app_id, campaign_id, run, DAY1)
        for device in ("p1", "p2"):
            sends.send(device, channel="GCM")
        opened = {
            "EventType": "_campaign.opened_notification",
            "Attributes": {"campaign_id": campaign_id, "campaign_activity_id": run, "treatment_id": "0"},
        }
        stamps = [DAY1 + timedelta(minutes=m) for m in (10, 50)]  # one notification opened twice in an hour
        pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "p1": {
                        "Endpoint": {},
                        "Events": {
                            f"open-{i}": {**opened, "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
                            for i, at in enumerate(stamps)
                        },
                    }
                }
            },
        )
        assert campaign_kpi(pinpoint, app_id, campaign_id, "push-open-rate") == [(None, "0.5")]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "push-open-rate-grouped-by-campaign-activity") == [
            (run, "0.5")
        ]
        assert campaign_kpi(pinpoint, app_id, campaign_id, "direct-push-opens-grouped-by-campaign-activity") == [
            (run, "1.0")
        ]
        assert app_kpi(pinpoint, app_id, "push-open-rate-grouped-by-campaign") == [(campaign_id, "0.5")]

    def test_bad_names_and_ranges_are_refused(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        campaign_id = add_campaign(stack, app_id)
        call = pinpoint.get_campaign_date_range_kpi
        ids = {"ApplicationId": app_id, "CampaignId": campaign_id}
        assert error_of(call, **ids, KpiName="opens-by-moon-phase") == (
            "BadRequestException",
            "Invalid value for kpi-name: 'opens-by-moon-phase' is not a campaign metric Pinpoint defines.",
        )
        code, message = error_of(call, **ids, KpiName="sms-spend")
        assert code == "BadRequestException" and "sms-spend is not available" in message
        code, message = error_of(call, **ids, KpiName="txn-emails-sent")
        assert code == "BadRequestException" and "It is an application metric" in message
        code, message = error_of(
            call, **ids, KpiName="unique-deliveries", StartTime=NOW - timedelta(days=40), EndTime=NOW
        )
        assert code == "BadRequestException" and "at most 31 days" in message
        code, message = error_of(call, **ids, KpiName="unique-deliveries", StartTime=NOW - timedelta(days=95))
        assert code == "BadRequestException" and "start-time" in message and "90 days" in message

    def test_an_unknown_campaign_is_not_found(self, pinpoint: Any, app_id: str) -> None:
        code, _ = error_of(
            pinpoint.get_campaign_date_range_kpi, ApplicationId=app_id, CampaignId="a" * 32, KpiName="unique-deliveries"
        )
        assert code == "NotFoundException"


# -- GetApplicationDateRangeKpi -------------------------------------------------------------


@pytest.fixture
def email_app(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    return app_id


class TestApplicationKpis:
    def test_transactional_email_from_real_sends(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
    ) -> None:
        readers = {f"r{i}": f"reader-{secrets.token_hex(4)}@example.com" for i in range(2)}
        pinpoint.update_endpoints_batch(
            ApplicationId=email_app,
            EndpointBatchRequest={
                "Item": [{"Id": e, "Address": a, "ChannelType": "EMAIL"} for e, a in readers.items()]
            },
        )
        pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Endpoints": {e: {} for e in readers},
                "MessageConfiguration": {
                    "EmailMessage": {
                        "SimpleEmail": {"Subject": {"Data": "Receipt"}, "HtmlPart": {"Data": "<p>Thanks</p>"}}
                    }
                },
            },
        )
        [mail] = smtp.sink.to(readers["r0"])
        [pixel] = re.findall(r'<img src="([^"]+)"', mail.html)
        assert httpx.get(pixel).status_code == 200
        # A campaign's mail in the same project is not transactional.
        campaign_id = add_campaign(stack, email_app)
        CampaignSends(stack, email_app, campaign_id, add_run(stack, email_app, campaign_id, 1), DAY1).send("c1")

        assert app_kpi(pinpoint, email_app, "txn-emails-sent") == [(None, "2.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-delivered") == [(None, "2.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-delivery-rate") == [(None, "1.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-opened") == [(None, "1.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-unique-opens") == [(None, "1.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-clicked") == [(None, "0.0")]
        assert app_kpi(pinpoint, email_app, "txn-emails-hard-bounced") == [(None, "0.0")]
        [sent_at] = stack.sql(
            "SELECT event_time FROM events WHERE app_id = $1 AND event_type = '_email.send'"
            " AND attributes->>'source' = 'direct' LIMIT 1",
            email_app,
        )
        day = sent_at["event_time"].astimezone(UTC).strftime("%Y-%m-%d")
        assert app_kpi(pinpoint, email_app, "txn-emails-sent-grouped-by-date") == [(day, "2.0")]

    def test_transactional_sms_by_country(self, pinpoint: Any, twilio_api: FakeTwilio, app_id: str) -> None:
        pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
        numbers = ["+12065550142", "+12065550143", "+33612345678"]
        resp = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {n: {"ChannelType": "SMS"} for n in numbers},
                "MessageConfiguration": {
                    "SMSMessage": {"Body": "Your code is 1234", "OriginationNumber": "+15550000100"}
                },
            },
        )["MessageResponse"]
        # The carrier confirms the French message only.
        assert twilio_api.report(resp["Result"]["+33612345678"]["MessageId"], "delivered").status_code == 204

        assert app_kpi(pinpoint, app_id, "txn-sms-sent") == [(None, "3.0")]
        assert app_kpi(pinpoint, app_id, "txn-sms-sent-grouped-by-country") == [("FR", "1.0"), ("US", "2.0")]
        assert app_kpi(pinpoint, app_id, "txn-sms-delivered-grouped-by-country") == [("FR", "1.0"), ("US", "0.0")]
        assert app_kpi(pinpoint, app_id, "txn-sms-delivery-rate") == [(None, repr(1 / 3))]

    def test_campaign_roll_ups(self, pinpoint: Any, app_id: str, email_campaign: tuple[str, str, str]) -> None:
        campaign_id = email_campaign[0]
        [other] = [g for g, _ in app_kpi(pinpoint, app_id, "unique-deliveries-grouped-by-campaign") if g != campaign_id]
        assert dict(app_kpi(pinpoint, app_id, "unique-deliveries-grouped-by-campaign")) == {
            campaign_id: "3.0",
            other: "1.0",
        }
        assert dict(app_kpi(pinpoint, app_id, "successful-deliveries-grouped-by-campaign")) == {
            campaign_id: "4.0",
            other: "1.0",
        }
        assert dict(app_kpi(pinpoint, app_id, "email-open-rate-grouped-by-campaign")) == {
            campaign_id: "0.75",
            other: "1.0",
        }
        # Both campaigns, not the direct send: 5 of 8 delivered; endpoints e1, e2, e4, e9.
        assert app_kpi(pinpoint, app_id, "successful-delivery-rate") == [(None, repr(5 / 8))]
        assert app_kpi(pinpoint, app_id, "unique-deliveries") == [(None, "4.0")]

    def test_unavailable_and_unknown_names_are_refused(self, pinpoint: Any, app_id: str) -> None:
        call = pinpoint.get_application_date_range_kpi
        code, message = error_of(call, ApplicationId=app_id, KpiName="txn-sms-total-price-grouped-by-country")
        assert code == "BadRequestException" and "not available" in message and "charged" in message
        code, message = error_of(
            call, ApplicationId=app_id, KpiName="attempted-deliveries-grouped-by-campaign-activity"
        )
        assert code == "BadRequestException" and "It is a campaign metric" in message

    def test_an_unknown_project_is_not_found(self, pinpoint: Any) -> None:
        code, _ = error_of(pinpoint.get_application_date_range_kpi, ApplicationId="0" * 32, KpiName="unique-deliveries")
        assert code == "NotFoundException"
