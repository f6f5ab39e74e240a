"""The analytics pages and funnels (OpenPoint extension routes, docs/analytics.md) on hand-built
data with known answers: funnels from PutEvents, campaign figures from the events the delivery
layer writes (tests/api/test_analytics.py's helpers), transactional figures from real sends;
each checked against counts computed independently (by hand, and by the date-range KPIs), CSV
against JSON, and bad input refused naming the parameter with nothing written."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.api.analytics_backends import analytics_backend  # noqa: F401 - both backends, every test
from tests.api.test_analytics import CampaignSends, add_campaign, add_event, add_run
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

NOW = datetime.now(UTC)
DAY = (NOW - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)


def call(
    stack: Stack,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    accept: str | None = None,
) -> httpx.Response:
    """A SigV4-signed request to an extension route, with a query string and an Accept header,
    to the gateway of the analytics backend under test (on ClickHouse, once the feeder has copied
    every event stored so far, as the rollup tests wait for the rollups)."""
    if stack.analytics_url != stack.url:
        stack.drain_clickhouse()
    url = stack.analytics_url + path + ("?" + urlencode(query) if query else "")
    data = orjson.dumps(body) if body is not None else b""
    headers = {"Content-Type": "application/json"} if data else {}
    if accept:
        headers["Accept"] = accept
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(Credentials(stack.access_key_id, stack.secret_access_key), "mobiletargeting", "us-east-1").add_auth(
        request
    )
    return httpx.request(method, url, content=data, headers=dict(request.headers.items()), timeout=60)


def page(stack: Stack, app_id: str, name: str, *query: tuple[str, str]) -> dict[str, Any]:
    resp = call(stack, "GET", f"/v1/apps/{app_id}/analytics/{name}", list(query))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def funnel(stack: Stack, app_id: str, body: dict[str, Any], *query: tuple[str, str]) -> dict[str, Any]:
    resp = call(stack, "POST", f"/v1/apps/{app_id}/analytics/funnel", list(query), body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


def table(answer: dict[str, Any]) -> dict[tuple[str, ...], dict[str, str]]:
    """Rows as {group values: {value key: value}}."""
    return {
        tuple(g["Value"] for g in row.get("GroupedBys", [])): {v["Key"]: v["Value"] for v in row["Values"]}
        for row in answer["KpiResult"]["Rows"]
    }


def same_table(answer: dict[str, Any], text: str) -> None:
    """The CSV says what the JSON says: a header of group and value keys, then a line per row in
    the same order, a blank where the JSON leaves a value out."""
    header, *lines = list(csv.reader(io.StringIO(text)))
    rows = answer["KpiResult"]["Rows"]
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        groups = row.get("GroupedBys", [])
        assert header[: len(groups)] == [g["Key"] for g in groups]
        assert line[: len(groups)] == [g["Value"] for g in groups]
        found = {k: v for k, v in zip(header[len(groups) :], line[len(groups) :], strict=True) if v != ""}
        assert found == {v["Key"]: v["Value"] for v in row["Values"]}


def refused(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    assert resp.headers["x-amzn-errortype"].startswith("BadRequestException")
    message: str = resp.json()["Message"]
    return message


# -- funnels ---------------------------------------------------------------------------------


def put_events(
    pinpoint: Any, app_id: str, endpoint_id: str, events: list[tuple[str, datetime, dict[str, str]]], **endpoint: Any
) -> None:
    pinpoint.put_events(
        ApplicationId=app_id,
        EventsRequest={
            "BatchItem": {
                endpoint_id: {
                    "Endpoint": endpoint,
                    "Events": {
                        f"{endpoint_id}-{i}": {
                            "EventType": kind,
                            "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            "Attributes": attributes,
                        }
                        for i, (kind, at, attributes) in enumerate(events)
                    },
                }
            }
        },
    )


@pytest.fixture
def shop(pinpoint: Any, app_id: str) -> str:
    """view -> cart -> buy, by hand:
    f1 (user u1, ios):     view, cart, buy (plan gold)        reaches 3
    f2 (user u1, android): view, cart                         reaches 2
    f3 (user u2, ios):     cart, view, buy: cart came first   reaches 1
    f4 (no user, android): view, cart, buy (plan silver)      reaches 3
    f5 (android):          buy                                reaches 0
    f6 (android):          view 5 days ago (before the range), cart, buy   reaches 0
    """
    t = [DAY + timedelta(minutes=m) for m in (0, 10, 20)]
    ios, android = {"Demographic": {"Platform": "ios"}}, {"Demographic": {"Platform": "android"}}
    put_events(
        pinpoint,
        app_id,
        "f1",
        [("view", t[0], {}), ("cart", t[1], {}), ("buy", t[2], {"plan": "gold"})],
        User={"UserId": "u1"},
        **ios,
    )
    put_events(pinpoint, app_id, "f2", [("view", t[0], {}), ("cart", t[1], {})], User={"UserId": "u1"}, **android)
    put_events(
        pinpoint,
        app_id,
        "f3",
        [("cart", t[0], {}), ("view", t[1], {}), ("buy", t[2], {"plan": "gold"})],
        User={"UserId": "u2"},
        **ios,
    )
    put_events(
        pinpoint, app_id, "f4", [("view", t[0], {}), ("cart", t[1], {}), ("buy", t[2], {"plan": "silver"})], **android
    )
    put_events(pinpoint, app_id, "f5", [("buy", t[0], {"plan": "gold"})], **android)
    put_events(
        pinpoint,
        app_id,
        "f6",
        [("view", DAY - timedelta(days=2), {}), ("cart", t[1], {}), ("buy", t[2], {})],
        **android,
    )
    return app_id


STEPS = [{"EventType": "view"}, {"EventType": "cart"}, {"EventType": "buy"}]
RANGE = {"StartTime": DAY.strftime("%Y-%m-%dT00:00:00Z"), "EndTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}


class TestFunnel:
    def test_ordered_steps_and_their_conversion(self, stack: Stack, shop: str) -> None:
        answer = funnel(stack, shop, {**RANGE, "Steps": STEPS})
        assert answer["ApplicationId"] == shop and answer["Page"] == "funnel"
        assert answer["StartTime"] == DAY.strftime("%Y-%m-%dT00:00:00.000Z")
        assert table(answer) == {
            ("1", "view"): {"Endpoints": "4", "Users": "2", "Conversion": "1.0", "OverallConversion": "1.0"},
            ("2", "cart"): {"Endpoints": "3", "Users": "1", "Conversion": "0.75", "OverallConversion": "0.75"},
            ("3", "buy"): {"Endpoints": "2", "Users": "1", "Conversion": repr(2 / 3), "OverallConversion": "0.5"},
        }

    def test_step_attributes_narrow_a_step(self, stack: Stack, shop: str) -> None:
        steps = [*STEPS[:2], {"EventType": "buy", "Attributes": {"plan": ["gold", "bronze"]}}]
        rows = table(funnel(stack, shop, {**RANGE, "Steps": steps}))
        assert [r["Endpoints"] for r in rows.values()] == ["4", "3", "1"]  # f4 bought silver

    def test_endpoint_filters_apply(self, stack: Stack, shop: str) -> None:
        rows = table(funnel(stack, shop, {**RANGE, "Steps": STEPS}, ("platform", "IOS")))
        assert [r["Endpoints"] for r in rows.values()] == ["2", "1", "1"]  # f1 and f3

    def test_a_segment_and_attribute_filters(self, pinpoint: Any, stack: Stack, shop: str) -> None:
        segment = pinpoint.create_segment(
            ApplicationId=shop,
            WriteSegmentRequest={
                "Name": "ios",
                "Dimensions": {"Demographic": {"Platform": {"DimensionType": "INCLUSIVE", "Values": ["ios"]}}},
            },
        )["SegmentResponse"]["Id"]
        rows = table(funnel(stack, shop, {**RANGE, "Steps": STEPS}, ("segment-id", segment)))
        assert [r["Endpoints"] for r in rows.values()] == ["2", "1", "1"]  # f1 and f3, as platform=ios
        pinpoint.update_endpoint(
            ApplicationId=shop, EndpointId="f4", EndpointRequest={"Attributes": {"tier": ["vip", "new"]}}
        )
        rows = table(funnel(stack, shop, {**RANGE, "Steps": STEPS}, ("attribute.tier", "vip,gone")))
        assert [r["Endpoints"] for r in rows.values()] == ["1", "1", "1"]
        assert rows[("1", "view")]["Users"] == "0"  # f4 has no user

    def test_the_same_event_twice_needs_two_events(self, stack: Stack, shop: str) -> None:
        rows = table(funnel(stack, shop, {**RANGE, "Steps": [{"EventType": "view"}, {"EventType": "view"}]}))
        assert [r["Endpoints"] for r in rows.values()] == ["4", "0"]
        assert "Conversion" in rows[("2", "view")] and rows[("2", "view")]["Conversion"] == "0.0"

    def test_csv_equals_json(self, stack: Stack, shop: str) -> None:
        answer = funnel(stack, shop, {**RANGE, "Steps": STEPS})
        resp = call(stack, "POST", f"/v1/apps/{shop}/analytics/funnel", [("format", "csv")], {**RANGE, "Steps": STEPS})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        same_table(answer, resp.text)

    @pytest.mark.parametrize(
        ("body", "query", "named"),
        [
            ({"Steps": []}, [], "Invalid value for Steps:"),
            ({"Steps": [{"EventType": "view"}] * 11}, [], "Invalid value for Steps:"),
            (
                {"Steps": [{"EventType": "view"}, {"EventType": "checkout"}]},
                [],
                "Invalid value for Steps[1].EventType:",
            ),
            ({"Steps": STEPS, "StartTime": "2020-01-01T00:00:00Z"}, [], "Invalid value for StartTime:"),
            ({"Steps": STEPS}, [("colour", "red")], "Invalid parameter: 'colour'"),
            ({"Steps": STEPS}, [("segment-id", "nope")], "Invalid value for segment-id:"),
        ],
    )
    def test_bad_funnels_name_the_field(
        self, stack: Stack, shop: str, body: dict[str, Any], query: list[tuple[str, str]], named: str
    ) -> None:
        before = stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", shop)[0]["n"]
        assert refused(call(stack, "POST", f"/v1/apps/{shop}/analytics/funnel", query, body)).startswith(named)
        assert stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", shop)[0]["n"] == before


# -- campaigns -------------------------------------------------------------------------------


@pytest.fixture
def ab_campaign(pinpoint: Any, stack: Stack, app_id: str) -> str:
    """One email campaign, two treatments, two endpoints held out.

    Treatment 0: e1 and e2 delivered, e3 refused; e1 opens at 10:05 and 10:40 (one hour) and
    11:10, and clicks; e2 opens once. Treatment 1: e4, e5 and e6 delivered, e5 hard-bounces,
    e4 opens once, e6 unsubscribes. Two sessions opened from the campaign at 10h, one at 15h.
    Another campaign and a direct send add noise. e1 and e2 are iOS endpoints."""
    campaign_id = add_campaign(stack, app_id)
    run0 = add_run(stack, app_id, campaign_id, 1, "0", execution_metrics=json.dumps({"TREATMENT_HOLDOUT": 2}))
    run1 = add_run(stack, app_id, campaign_id, 1, "1")
    zero = CampaignSends(stack, app_id, campaign_id, run0, DAY)
    for e in ("e1", "e2"):
        zero.send(e)
    zero.send("e3", status="PERMANENT_FAILURE")
    for minutes in (5, 40, 70):
        zero.engage("_email.open", "e1", minutes)
    zero.engage("_email.click", "e1", 6)
    zero.engage("_email.open", "e2", 120)
    one = CampaignSends(stack, app_id, campaign_id, run1, DAY)
    one.ids["treatment_id"] = "1"
    for e in ("e4", "e5", "e6"):
        one.send(e)
    one.engage("_email.hardbounce", "e5", 1)
    one.engage("_email.open", "e4", 3)
    one.engage("_email.unsubscribe", "e6", 4)
    for endpoint, hour in (("e1", 10), ("e2", 10), ("e4", 15)):
        add_event(stack, app_id, "_session.start", endpoint, DAY.replace(hour=hour, minute=30), campaign_id=campaign_id)
    other = add_campaign(stack, app_id)
    CampaignSends(stack, app_id, other, add_run(stack, app_id, other, 1), DAY).send("e9")
    add_event(stack, app_id, "_email.send", "e1", DAY, source="direct", delivery_status="SUCCESSFUL", message_id="m")
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={"Item": [{"Id": e, "Demographic": {"Platform": "ios"}} for e in ("e1", "e2")]},
    )
    stack.drain_rollups()
    return campaign_id


class TestCampaigns:
    def test_treatments_and_holdout_side_by_side(self, stack: Stack, app_id: str, ab_campaign: str) -> None:
        rows = table(page(stack, app_id, "campaigns", ("campaign-id", ab_campaign)))
        assert rows == {
            (ab_campaign, "0"): {
                "Sent": "3", "Delivered": "2", "DeliveryRate": repr(2 / 3), "Opens": "3", "OpenRate": "1.0",
                "Clicks": "1", "Bounces": "0", "OptOuts": "0", "Endpoints": "3",
            },
            (ab_campaign, "1"): {
                "Sent": "3", "Delivered": "2", "DeliveryRate": repr(2 / 3), "Opens": "1", "OpenRate": "0.5",
                "Clicks": "0", "Bounces": "1", "OptOuts": "1", "Endpoints": "3",
            },
            (ab_campaign, "HOLDOUT"): {"Endpoints": "2"},
        }  # fmt: skip

    def test_the_figures_agree_with_the_campaign_kpis(
        self, pinpoint: Any, stack: Stack, app_id: str, ab_campaign: str
    ) -> None:
        rows = table(page(stack, app_id, "campaigns"))
        for name, key in (("successful-deliveries", "Delivered"), ("attempted-deliveries", "Sent")):
            kpi = pinpoint.get_campaign_date_range_kpi(
                ApplicationId=app_id, CampaignId=ab_campaign, KpiName=f"{name}-grouped-by-campaign-activity"
            )["CampaignDateRangeKpiResponse"]["KpiResult"]["Rows"]
            assert sorted(float(r["Values"][0]["Value"]) for r in kpi) == sorted(
                float(rows[(ab_campaign, t)][key]) for t in ("0", "1")
            )
        assert {c for c, _ in rows} == {ab_campaign, *(c for c, t in rows if c != ab_campaign)}
        assert len(rows) == 4  # the other campaign's treatment 0 too; the direct send is not a campaign's

    def test_endpoint_filters(self, stack: Stack, app_id: str, ab_campaign: str) -> None:
        rows = table(page(stack, app_id, "campaigns", ("campaign-id", ab_campaign), ("platform", "ios")))
        assert rows[(ab_campaign, "0")]["Sent"] == "2" and rows[(ab_campaign, "0")]["Opens"] == "3"
        assert (ab_campaign, "1") not in rows

    def test_sessions_by_hour_of_day(self, stack: Stack, app_id: str, ab_campaign: str) -> None:
        answer = page(stack, app_id, "campaigns", ("campaign-id", ab_campaign), ("view", "sessions-by-hour"))
        rows = table(answer)
        assert len(rows) == 24 and rows[("10",)] == {"Sessions": "2"} and rows[("15",)] == {"Sessions": "1"}
        assert sum(int(r["Sessions"]) for r in rows.values()) == 3

    def test_csv_equals_json(self, stack: Stack, app_id: str, ab_campaign: str) -> None:
        answer = page(stack, app_id, "campaigns")
        resp = call(stack, "GET", f"/v1/apps/{app_id}/analytics/campaigns", accept="text/csv")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        same_table(answer, resp.text)


class TestJourneys:
    def test_per_journey_activity_without_test_participants(self, stack: Stack, app_id: str) -> None:
        ids = {"journey_id": "j1", "journey_activity_id": "a1", "source": "journey"}
        for e, status in (("p1", "SUCCESSFUL"), ("p2", "SUCCESSFUL"), ("p3", "PERMANENT_FAILURE")):
            add_event(
                stack,
                app_id,
                "_email.send" if status == "SUCCESSFUL" else "_email.rejected",
                e,
                DAY,
                delivery_status=status,
                message_id=f"m-{e}",
                **ids,
            )
            if status == "SUCCESSFUL":
                add_event(stack, app_id, "_email.delivered", e, DAY, message_id=f"m-{e}", **ids)
        add_event(stack, app_id, "_email.open", "p1", DAY, message_id="m-p1", **ids)
        add_event(
            stack,
            app_id,
            "_email.send",
            "t1",
            DAY,
            delivery_status="SUCCESSFUL",
            message_id="m-t",
            journey_test_run_id="r",
            **ids,
        )
        stack.drain_rollups()
        rows = table(page(stack, app_id, "journeys"))
        assert rows == {
            ("j1", "a1"): {
                "Sent": "3", "Delivered": "2", "DeliveryRate": repr(2 / 3), "Opens": "1", "OpenRate": "0.5",
                "Clicks": "0", "Bounces": "0", "OptOuts": "0", "Endpoints": "3",
            }
        }  # fmt: skip

    def test_an_unknown_journey_names_journey_id(self, stack: Stack, app_id: str) -> None:
        resp = call(stack, "GET", f"/v1/apps/{app_id}/analytics/journeys", [("journey-id", "f" * 32)])
        assert refused(resp).startswith("Invalid value for journey-id:")


# -- transactional ---------------------------------------------------------------------------


class TestTransactional:
    def test_email_and_sms_from_real_sends(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, twilio_api: FakeTwilio, app_id: str
    ) -> None:
        pinpoint.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
        )
        pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
        readers = [f"reader-{secrets.token_hex(4)}@example.com" for _ in range(2)]
        pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {a: {"ChannelType": "EMAIL"} for a in readers},
                "MessageConfiguration": {
                    "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Hi"}, "HtmlPart": {"Data": "<p>Hi</p>"}}}
                },
            },
        )
        numbers = ["+12065550142", "+12065550143", "+33612345678"]
        result = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {n: {"ChannelType": "SMS"} for n in numbers},
                "MessageConfiguration": {"SMSMessage": {"Body": "Code 1234", "OriginationNumber": "+15550000100"}},
            },
        )["MessageResponse"]["Result"]
        assert twilio_api.report(result["+33612345678"]["MessageId"], "delivered").status_code == 204
        assert twilio_api.report(result["+12065550142"]["MessageId"], "failed", error_code="30003").status_code == 204
        stack.drain_rollups()

        # Independently: the events the sends wrote, and the date-range KPIs.
        today = stack.sql(
            "SELECT DISTINCT to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM events WHERE app_id = $1",
            app_id,
        )
        assert len(today) == 1
        day = today[0]["d"]
        rows = table(page(stack, app_id, "transactional"))
        assert len(rows) == 30
        assert rows[(day,)] == {
            "EmailSent": "2", "EmailDelivered": "2", "EmailFailed": "0",
            "SmsSent": "3", "SmsDelivered": "1", "SmsFailed": "1",
        }  # fmt: skip
        kpi = pinpoint.get_application_date_range_kpi(ApplicationId=app_id, KpiName="txn-sms-sent")
        assert kpi["ApplicationDateRangeKpiResponse"]["KpiResult"]["Rows"][0]["Values"][0]["Value"] == "3.0"
        assert all(set(r.values()) == {"0"} for d, r in rows.items() if d != (day,))

        by_country = table(page(stack, app_id, "transactional", ("view", "sms-by-country")))
        assert by_country == {
            ("FR",): {"SmsSent": "1", "SmsDelivered": "1", "SmsFailed": "0"},
            ("US",): {"SmsSent": "2", "SmsDelivered": "0", "SmsFailed": "1"},
        }
        resp = call(
            stack, "GET", f"/v1/apps/{app_id}/analytics/transactional", [("view", "sms-by-country"), ("format", "csv")]
        )
        assert resp.text == "Country,SmsSent,SmsDelivered,SmsFailed\nFR,1,1,0\nUS,2,0,1\n"
        hourly = table(page(stack, app_id, "transactional", ("granularity", "HOUR")))
        assert len(hourly) == 7 * 24  # the last 7 days by default at HOUR granularity
        assert sum(int(r["SmsSent"]) for r in hourly.values()) == 3


# -- the pages answered from the rollups (analytics/usage.py, revenue.py, events.py, demographics.py)


@pytest.fixture
def rolled_up(stack: Stack, shop: str) -> str:
    """The shop once the worker's rollups hold its six endpoints (they follow the event feed)."""
    deadline = time.monotonic() + 60
    while True:
        rows = table(page(stack, shop, "demographics"))
        if sum(int(r["ActiveEndpoints"]) for r in rows.values()) >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # By hand: f1 and f3 are iOS, f2, f4, f5 and f6 Android.
    assert rows == {("android",): {"ActiveEndpoints": "4"}, ("ios",): {"ActiveEndpoints": "2"}}
    return shop


class TestRollupPages:
    """The routes reach every figure the rollups keep (their numbers are the rollup tests', and
    under filters tests/api/test_analytics_filters.py's): each view answers, its CSV equals its JSON."""

    @pytest.mark.parametrize(
        ("name", "query"),
        [
            ("usage", []),
            ("usage", [("view", "daily")]),
            ("usage", [("view", "sessions-by-hour")]),
            ("usage", [("platform", "ios")]),
            ("usage", [("view", "daily"), ("platform", "ios"), ("channel", "EMAIL")]),
            ("revenue", [("view", "products"), ("app-version", "1.0")]),
            ("retention", []),
            ("retention", [("view", "weekly")]),
            ("revenue", []),
            ("revenue", [("view", "products")]),
            ("revenue", [("view", "paying-users")]),
            ("events", []),
            ("events", [("event-type", "view"), ("metric", "price"), ("attribute.plan", "gold")]),
            ("demographics", []),
            ("demographics", [("dimension", "country")]),
        ],
    )
    def test_every_view_answers_and_its_csv_equals_its_json(
        self, stack: Stack, rolled_up: str, name: str, query: list[tuple[str, str]]
    ) -> None:
        shop = rolled_up
        answer = page(stack, shop, name, *query)
        assert answer["Page"] == name and isinstance(answer["KpiResult"]["Rows"], list)
        resp = call(stack, "GET", f"/v1/apps/{shop}/analytics/{name}", [*query, ("format", "csv")])
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        same_table(answer, resp.text)

    @pytest.mark.parametrize(
        ("name", "query", "named"),
        [
            ("events", [("event-type", "checkout")], "Invalid value for event-type:"),
            ("demographics", [("dimension", "colour")], "Invalid value for dimension:"),
            ("revenue", [("channel", "PIGEON")], "Invalid value for channel:"),
            ("retention", [("segment-id", "s")], "Invalid value for segment-id:"),
        ],
    )
    def test_refusals_name_the_parameter(
        self, stack: Stack, shop: str, name: str, query: list[tuple[str, str]], named: str
    ) -> None:
        assert refused(call(stack, "GET", f"/v1/apps/{shop}/analytics/{name}", query)).startswith(named)


# -- the pages' bad input --------------------------------------------------------------------


class TestBadInput:
    @pytest.mark.parametrize(
        ("name", "query", "named"),
        [
            ("weather", [], "Invalid value for page:"),
            (
                "campaigns",
                [("start-time", (NOW - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ"))],
                "Invalid value for start-time:",
            ),
            (
                "transactional",
                [("granularity", "HOUR"), ("start-time", (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))],
                "Invalid value for end-time:",
            ),
            ("campaigns", [("colour", "red")], "Invalid parameter: 'colour'"),
            ("campaigns", [("campaign-id", "f" * 32)], "Invalid value for campaign-id:"),
            ("campaigns", [("segment-id", "f" * 32)], "Invalid value for segment-id:"),
            ("transactional", [("view", "weekly")], "Invalid value for view:"),
        ],
    )
    def test_refusals_name_the_parameter(
        self, stack: Stack, app_id: str, name: str, query: list[tuple[str, str]], named: str
    ) -> None:
        assert refused(call(stack, "GET", f"/v1/apps/{app_id}/analytics/{name}", query)).startswith(named)

    def test_an_unknown_project_is_not_found(self, stack: Stack) -> None:
        resp = call(stack, "GET", f"/v1/apps/{'f' * 32}/analytics/campaigns")
        assert resp.status_code == 404

    def test_unsigned_calls_are_refused(self, stack: Stack, app_id: str) -> None:
        assert httpx.get(f"{stack.url}/v1/apps/{app_id}/analytics/campaigns").status_code == 403

    def test_the_routes_are_in_openapi(self, stack: Stack) -> None:
        paths = httpx.get(f"{stack.url}/openapi.json").json()["paths"]
        pages = paths["/v1/apps/{application_id}/analytics/{page}"]["get"]
        assert {p["name"] for p in pages["parameters"]} >= {"start-time", "end-time", "granularity", "segment-id"}
        assert "text/csv" in pages["responses"]["200"]["content"]
        assert "Steps" in json.dumps(paths["/v1/apps/{application_id}/analytics/funnel"]["post"]["requestBody"])
        assert re.search("funnel", json.dumps(paths))
