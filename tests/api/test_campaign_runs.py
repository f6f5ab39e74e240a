"""Campaigns running for real: boto3 → gateway → campaign workflow → segment pages → SMTP."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import LoopbackServer
from tests.smtp_sink import SmtpServer
from tests.stack import Stack


def _wait_state(pinpoint: Any, app_id: str, campaign_id: str, state: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        c: dict[str, Any] = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"]
        if c["State"]["CampaignStatus"] == state or time.monotonic() > deadline:
            return c
        time.sleep(0.2)


def test_an_immediate_campaign_sends_once_to_each_member(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "welcome",
            "SegmentId": segment_id,
            "Priority": 1,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "MessageConfiguration": {
                "EmailMessage": {"Title": "Hi {{Attributes.Name}}", "HtmlBody": "<p>Hello {{Attributes.Name}}</p>"}
            },
        },
    )["CampaignResponse"]
    done = _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")
    assert done["State"]["CampaignStatus"] == "COMPLETED"

    received = Counter(a for a in addresses for _ in smtp.sink.to(a))
    expected = {a for i, a in enumerate(addresses) if i < 30 and i not in (3, 4)}
    assert set(received) == expected and set(received.values()) == {1}
    [mail] = smtp.sink.to(addresses[7])
    assert mail.message["Subject"] == "Hi N7" and "Hello N7" in mail.html

    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])[
        "ActivitiesResponse"
    ]["Item"]
    assert activity["State"] == "COMPLETED" and activity["Result"] == "SUCCESS"
    assert activity["TotalEndpointCount"] == 28 and activity["SuccessfulEndpointCount"] == 28
    assert activity["ExecutionMetrics"]["ENDPOINT_OPT_OUT"] == "2"
    sends = stack.sql(
        "SELECT count(*) AS n FROM events WHERE app_id = $1 AND event_type = '_email.send'"
        " AND attributes->>'campaign_id' = $2 AND attributes->>'campaign_activity_id' = $3",
        app_id,
        campaign["Id"],
        activity["Id"],
    )
    assert sends[0]["n"] == 28


def test_treatments_and_holdout_split_by_stable_cohort(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "ab",
            "SegmentId": segment_id,
            "HoldoutPercent": 20,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "A", "Body": "variant A"}},
            "AdditionalTreatments": [
                {"SizePercent": 40, "MessageConfiguration": {"EmailMessage": {"Title": "B", "Body": "variant B"}}}
            ],
        },
    )["CampaignResponse"]
    _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")
    cohorts = {
        r["id"]: r["cohort_id"] for r in stack.sql("SELECT id, cohort_id FROM endpoints WHERE app_id = $1", app_id)
    }
    for i, address in enumerate(addresses[:30]):
        if i in (3, 4):
            continue
        cohort = cohorts[f"e{i:02d}"]
        mails = smtp.sink.to(address)
        if cohort < 20:
            assert mails == [], f"holdout endpoint e{i:02d} got mail"
        else:
            [mail] = mails
            assert mail.message["Subject"] == ("A" if cohort < 60 else "B")
    items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])["ActivitiesResponse"][
        "Item"
    ]
    assert {i["TreatmentId"] for i in items} == {"0", "1"}
    assert sum(i["SuccessfulEndpointCount"] for i in items) == sum(
        1 for i in range(30) if i not in (3, 4) and cohorts[f"e{i:02d}"] >= 20
    )


def _put_event(pinpoint: Any, app_id: str, endpoint_id: str, event_type: str, event_id: str, **attrs: str) -> None:
    pinpoint.put_events(
        ApplicationId=app_id,
        EventsRequest={
            "BatchItem": {
                endpoint_id: {
                    "Endpoint": {},
                    "Events": {
                        event_id: {
                            "EventType": event_type,
                            "Timestamp": datetime.now(UTC).isoformat(),
                            "Attributes": attrs,
                        }
                    },
                }
            }
        },
    )


def _mails_within(smtp: SmtpServer, address: str, count: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while len(smtp.sink.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(smtp.sink.to(address))


def test_an_event_campaign_answers_the_endpoint_that_reported_the_event(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    start = datetime.now(UTC) + timedelta(seconds=1)
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "cart",
            "SegmentId": segment_id,
            "Schedule": {
                "StartTime": start.isoformat(),
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {
                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["cart.abandoned"]},
                        "Attributes": {"Value": {"AttributeType": "INCLUSIVE", "Values": ["high", "mid"]}},
                    },
                },
            },
            "MessageConfiguration": {"EmailMessage": {"Title": "Your cart", "Body": "Come back {{Attributes.Name}}"}},
        },
    )["CampaignResponse"]
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 0.2)

    _put_event(pinpoint, app_id, "e05", "cart.abandoned", "ev-1", Value="high")
    assert _mails_within(smtp, addresses[5], 1) == 1
    [mail] = smtp.sink.to(addresses[5])
    assert mail.message["Subject"] == "Your cart" and "Come back N5" in mail.text

    _put_event(pinpoint, app_id, "e05", "cart.abandoned", "ev-1", Value="high")  # a retried PutEvents
    _put_event(pinpoint, app_id, "e06", "cart.abandoned", "ev-2", Value="low")  # attribute does not match
    _put_event(pinpoint, app_id, "e07", "cart.viewed", "ev-3", Value="high")  # event type does not match
    _put_event(pinpoint, app_id, "e35", "cart.abandoned", "ev-4", Value="mid")  # not in the segment
    _put_event(pinpoint, app_id, "e03", "cart.abandoned", "ev-5", Value="mid")  # opted out
    _put_event(pinpoint, app_id, "e08", "cart.abandoned", "ev-6", Value="mid")  # a match: a marker that all ran
    assert _mails_within(smtp, addresses[8], 1) == 1
    time.sleep(1.0)
    for i, expected in ((5, 1), (6, 0), (7, 0), (35, 0), (3, 0)):
        assert len(smtp.sink.to(addresses[i])) == expected, i
    sent = stack.sql(
        "SELECT count(*) AS n FROM deliveries WHERE app_id = $1 AND source = 'campaign' AND source_id = $2",
        app_id,
        campaign["Id"],
    )
    assert sent[0]["n"] == 2
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])[
        "ActivitiesResponse"
    ]["Item"]
    assert activity["SuccessfulEndpointCount"] == 2


def test_a_local_time_run_reaches_each_zone_at_its_own_wall_clock(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    """StartTime is read in each endpoint's own zone: Paris reached it an hour ago (sent at once),
    UTC reaches it in two seconds, New York only in hours; endpoints without a zone never."""
    app_id, segment_id, addresses = audience
    zones = {10: "Europe/Paris", 11: "UTC", 12: "America/New_York"}
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [
                {"Id": f"e{i:02d}", "Demographic": {"Timezone": tz}, "ChannelType": "EMAIL", "Address": addresses[i]}
                for i, tz in zones.items()
            ]
        },
    )
    start = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "local",
            "SegmentId": segment_id,
            "Schedule": {"StartTime": start.isoformat(), "Frequency": "ONCE", "IsLocalTime": True, "Timezone": "UTC"},
            "MessageConfiguration": {"EmailMessage": {"Title": "Good morning", "Body": "local"}},
        },
    )["CampaignResponse"]
    assert _mails_within(smtp, addresses[11], 1) == 1
    assert datetime.now(UTC) >= start
    assert len(smtp.sink.to(addresses[10])) == 1
    assert smtp.sink.to(addresses[12]) == []
    assert smtp.sink.to(addresses[0]) == []  # no time zone: not messaged by a local-time campaign
    assert _wait_state(pinpoint, app_id, campaign["Id"], "EXECUTING")["State"]["CampaignStatus"] == "EXECUTING"
    pinpoint.delete_campaign(ApplicationId=app_id, CampaignId=campaign["Id"])


def test_a_campaign_hook_filters_and_enriches_the_audience(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]], tls_cert: tuple[Path, Path]
) -> None:
    app_id, segment_id, addresses = audience
    calls: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body)
        keep = {eid: {"Attributes": {"Name": ["Hooked"]}} for eid in body["Endpoints"] if int(eid[1:]) % 2 == 0}
        return JSONResponse(keep)

    with LoopbackServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])]), tls=tls_cert) as server:
        campaign = pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "hooked",
                "SegmentId": segment_id,
                "Hook": {"WebUrl": f"{server.url}/hook", "Mode": "FILTER"},
                "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
                "MessageConfiguration": {"EmailMessage": {"Title": "Hi", "Body": "Hello {{Attributes.Name}}"}},
            },
        )["CampaignResponse"]
        _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")
    [call] = calls
    assert call["CampaignId"] == campaign["Id"] and call["TreatmentId"] == "0"
    assert len(call["Endpoints"]) == 28  # the segment minus the two opted out
    for i in range(30):
        mails = smtp.sink.to(addresses[i])
        if i % 2 == 0 and i not in (3, 4):
            [mail] = mails
            assert "Hello Hooked" in mail.text
        else:
            assert mails == [], i
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])[
        "ActivitiesResponse"
    ]["Item"]
    assert activity["SuccessfulEndpointCount"] == 14 and activity["TotalEndpointCount"] == 14
    assert activity["ExecutionMetrics"]["FILTERED_BY_HOOK"] == "14"


def test_a_system_event_campaign_answers_an_email_open(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    """FilterType SYSTEM reacts to the events OpenPoint records itself: here an open of a
    direct mail triggers a follow-up to the reader."""
    app_id, segment_id, addresses = audience
    start = datetime.now(UTC) + timedelta(seconds=1)
    pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "follow-up",
            "SegmentId": segment_id,
            "Schedule": {
                "StartTime": start.isoformat(),
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "SYSTEM",
                    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}},
                },
            },
            "MessageConfiguration": {"EmailMessage": {"Title": "Thanks for reading", "Body": "More soon"}},
        },
    )
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 0.2)
    pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Endpoints": {"e09": {}},
            "MessageConfiguration": {
                "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "News"}, "HtmlPart": {"Data": "<p>News</p>"}}}
            },
        },
    )
    [news] = smtp.sink.to(addresses[9])
    [pixel] = re.findall(r'<img src="([^"]+)"', news.html)
    assert httpx.get(pixel).status_code == 200
    assert _mails_within(smtp, addresses[9], 2) == 2
    assert smtp.sink.to(addresses[9])[1].message["Subject"] == "Thanks for reading"


def test_a_completed_campaign_scheduled_again_runs_again(
    pinpoint: Any, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    request: dict[str, Any] = {
        "Name": "again",
        "SegmentId": segment_id,
        "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
        "MessageConfiguration": {"EmailMessage": {"Title": "First", "Body": "one"}},
    }
    campaign = pinpoint.create_campaign(ApplicationId=app_id, WriteCampaignRequest=request)["CampaignResponse"]
    _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")
    start = datetime.now(UTC) + timedelta(seconds=2)
    request["Schedule"] = {"StartTime": start.isoformat(), "Frequency": "ONCE"}
    request["MessageConfiguration"] = {"EmailMessage": {"Title": "Second", "Body": "two"}}
    pinpoint.update_campaign(ApplicationId=app_id, CampaignId=campaign["Id"], WriteCampaignRequest=request)
    assert _mails_within(smtp, addresses[0], 2) == 2
    assert [m.message["Subject"] for m in smtp.sink.to(addresses[0])] == ["First", "Second"]
    _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")
    items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])["ActivitiesResponse"][
        "Item"
    ]
    assert len(items) == 2 and all(i["SuccessfulEndpointCount"] == 28 for i in items)


def test_a_treatment_with_its_own_schedule_sends_at_its_own_time(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    later = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "ab-times",
            "SegmentId": segment_id,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "Now", "Body": "now"}},
            "AdditionalTreatments": [
                {
                    "SizePercent": 50,
                    "Schedule": {"StartTime": later.isoformat(), "Frequency": "ONCE"},
                    "MessageConfiguration": {"EmailMessage": {"Title": "Later", "Body": "later"}},
                }
            ],
        },
    )["CampaignResponse"]
    cohorts = {
        r["id"]: r["cohort_id"] for r in stack.sql("SELECT id, cohort_id FROM endpoints WHERE app_id = $1", app_id)
    }
    members = [i for i in range(30) if i not in (3, 4)]
    early = [i for i in members if cohorts[f"e{i:02d}"] < 50]
    late = [i for i in members if cohorts[f"e{i:02d}"] >= 50]
    assert early and late
    for i in early:  # sent over several connections at once: in no particular order
        _mails_within(smtp, addresses[i], 1)
    assert all(len(smtp.sink.to(addresses[i])) == 1 for i in early)
    if datetime.now(UTC) < later:
        assert all(smtp.sink.to(addresses[i]) == [] for i in late)
    assert _mails_within(smtp, addresses[late[-1]], 1) == 1
    for i in late:
        _mails_within(smtp, addresses[i], 1)
        [mail] = smtp.sink.to(addresses[i])
        assert mail.message["Subject"] == "Later"
    assert _wait_state(pinpoint, app_id, campaign["Id"], "COMPLETED")["State"]["CampaignStatus"] == "COMPLETED"
    items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])["ActivitiesResponse"][
        "Item"
    ]
    by_treatment = {i["TreatmentId"]: i for i in items}
    assert set(by_treatment) == {"0", "1"}
    assert by_treatment["1"]["ScheduledStart"].startswith(later.strftime("%Y-%m-%dT%H:%M:%S"))
    assert by_treatment["0"]["SuccessfulEndpointCount"] == len(early)
    assert by_treatment["1"]["SuccessfulEndpointCount"] == len(late)


def test_an_immediate_event_campaign_fires_from_its_creation(
    pinpoint: Any, smtp: SmtpServer, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "now",
            "SegmentId": segment_id,
            "Schedule": {
                "StartTime": "IMMEDIATE",
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["signed.up"]}},
                },
            },
            "MessageConfiguration": {"EmailMessage": {"Title": "Welcome", "Body": "hi"}},
        },
    )
    _put_event(pinpoint, app_id, "e12", "signed.up", "ev-now")  # PutEvents keeps working
    assert _mails_within(smtp, addresses[12], 1) == 1
    assert smtp.sink.to(addresses[12])[0].message["Subject"] == "Welcome"
