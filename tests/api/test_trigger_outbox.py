"""The trigger outbox: an acknowledged event never loses its trigger, a trigger handed to
Temporal twice sends and counts once, and one that cannot go out in time is counted, not lost.

Rows inserted into `trigger_outbox` by hand stand for what a gateway wrote before a dispatcher
died holding them, or for triggers that waited out an outage."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from workflows.campaign import CampaignTriggerWorkflow, TriggerBatch, trigger_workflow_id

EVENT = "cart.abandoned"


@pytest.fixture
def event_campaign(pinpoint: Any, app_id: str) -> tuple[str, str, list[str]]:
    """A project with 10 email endpoints (e00..e09) and an EVENT campaign on `cart.abandoned`."""
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    addresses = [f"o{i:02d}-{tag}@example.com" for i in range(10)]
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [
                {"Id": f"e{i:02d}", "Address": a, "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold"]}}
                for i, a in enumerate(addresses)
            ]
        },
    )
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "gold",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "cart",
            "SegmentId": segment,
            "Schedule": {
                "StartTime": "IMMEDIATE",
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": [EVENT]}},
                },
            },
            "MessageConfiguration": {"EmailMessage": {"Title": "Your cart", "Body": "Come back"}},
        },
    )["CampaignResponse"]
    time.sleep(1.1)  # past the second for which the gateway caches a project's triggers
    return app_id, campaign["Id"], addresses


def put_event(pinpoint: Any, app_id: str, endpoint_id: str, event_id: str) -> None:
    answer = pinpoint.put_events(
        ApplicationId=app_id,
        EventsRequest={
            "BatchItem": {
                endpoint_id: {
                    "Endpoint": {},
                    "Events": {event_id: {"EventType": EVENT, "Timestamp": datetime.now(UTC).isoformat()}},
                }
            }
        },
    )
    assert answer["EventsResponse"]["Results"][endpoint_id]["EventsItemResponse"][event_id]["StatusCode"] == 202


def outbox_row(stack: Stack, app_id: str, campaign_id: str, endpoint_id: str, event_id: str, **extra: Any) -> None:
    """A campaign trigger as PutEvents writes it (`claimed_until`: a dispatcher's lease)."""
    at = extra.pop("event_time", datetime.now(UTC))
    stack.sql(
        "INSERT INTO trigger_outbox (app_id, kind, target_id, endpoint_id, event_id, event_time, event, claimed_until)"
        " VALUES ($1, 'campaign', $2, $3, $4, $5, $6::jsonb, $7)",
        app_id,
        campaign_id,
        endpoint_id,
        event_id,
        at,
        orjson.dumps({"EventType": EVENT, "Attributes": {}, "Metrics": {}}).decode(),
        extra.pop("claimed_until", None),
    )


def wait_until(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def activity(pinpoint: Any, app_id: str, campaign_id: str) -> dict[str, Any]:
    items = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign_id)["ActivitiesResponse"]["Item"]
    return items[0] if items else {}


def test_put_events_writes_the_trigger_with_the_event_and_the_worker_sends_it(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, event_campaign: tuple[str, str, list[str]]
) -> None:
    app_id, campaign_id, addresses = event_campaign
    put_event(pinpoint, app_id, "e01", "ev-1")
    assert wait_until(lambda: smtp.sink.to(addresses[1]))
    assert wait_until(
        lambda: stack.sql("SELECT count(*) AS n FROM trigger_outbox WHERE app_id = $1", app_id)[0]["n"] == 0
    )

    def outcomes() -> list[tuple[str, str]]:
        rows = stack.sql("SELECT endpoint_id, outcome FROM trigger_outcomes WHERE app_id = $1", app_id)
        return [(r["endpoint_id"], r["outcome"]) for r in rows]

    # The outcome is recorded just after the mail is handed over (the same activity, a moment later).
    assert wait_until(lambda: outcomes() != [("e01", "PENDING")]) and outcomes() == [("e01", "SENT")]


def test_a_trigger_handed_over_twice_sends_and_counts_once(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, event_campaign: tuple[str, str, list[str]]
) -> None:
    """At-least-once hand-over: the same event's trigger twice in the outbox (a retried
    PutEvents, or rows a dead dispatcher had already handed over), and once more later."""
    app_id, campaign_id, addresses = event_campaign
    outbox_row(stack, app_id, campaign_id, "e02", "ev-2")
    outbox_row(stack, app_id, campaign_id, "e02", "ev-2")
    put_event(pinpoint, app_id, "e03", "ev-3")
    assert wait_until(lambda: smtp.sink.to(addresses[2]) and smtp.sink.to(addresses[3]))
    outbox_row(stack, app_id, campaign_id, "e02", "ev-2")
    put_event(pinpoint, app_id, "e04", "ev-4")  # a marker: handed over after the repeat
    assert wait_until(lambda: smtp.sink.to(addresses[4]))
    assert wait_until(lambda: activity(pinpoint, app_id, campaign_id).get("TotalEndpointCount") == 3)
    assert len(smtp.sink.to(addresses[2])) == 1
    got = activity(pinpoint, app_id, campaign_id)
    assert got["SuccessfulEndpointCount"] == 3
    assert got["ExecutionMetrics"]["ENDPOINT_PRODUCED"] == "3"


def test_rows_left_by_a_dead_dispatcher_are_sent_when_its_lease_ends(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, event_campaign: tuple[str, str, list[str]]
) -> None:
    app_id, campaign_id, addresses = event_campaign
    outbox_row(stack, app_id, campaign_id, "e05", "ev-5", claimed_until=datetime.now(UTC) + timedelta(seconds=2))
    assert wait_until(lambda: smtp.sink.to(addresses[5]))
    assert len(smtp.sink.to(addresses[5])) == 1


def test_a_trigger_past_the_allowed_delay_is_counted_not_sent(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, event_campaign: tuple[str, str, list[str]]
) -> None:
    """An event whose trigger waited out a 6-minute outage: Pinpoint's 5-minute rule drops the
    message, and the campaign's metrics say why."""
    app_id, campaign_id, addresses = event_campaign
    outbox_row(stack, app_id, campaign_id, "e06", "ev-6", event_time=datetime.now(UTC) - timedelta(minutes=6))
    put_event(pinpoint, app_id, "e07", "ev-7")
    assert wait_until(lambda: smtp.sink.to(addresses[7]))
    metrics = wait_until(
        lambda: activity(pinpoint, app_id, campaign_id).get("ExecutionMetrics", {}).get("MAXIMUM_DELAY_EXCEEDED")
    )
    assert metrics == "1"
    assert smtp.sink.to(addresses[6]) == []
    outcome = stack.sql("SELECT outcome FROM trigger_outcomes WHERE app_id = $1 AND endpoint_id = 'e06'", app_id)
    assert [r["outcome"] for r in outcome] == ["MAXIMUM_DELAY_EXCEEDED"]


def test_the_same_trigger_in_two_workflows_at_once_sends_once(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, event_campaign: tuple[str, str, list[str]]
) -> None:
    """What an at-least-once hand-over can do: the same event's trigger reaches two workflows at
    the same moment. The first to claim it sends; the other leaves it alone."""
    app_id, campaign_id, addresses = event_campaign
    at = datetime.now(UTC).isoformat()
    batches = [TriggerBatch(app_id, campaign_id, ["e08", "e09"], ["ev-8", f"ev-9-{n}"], [at, at]) for n in range(2)]

    async def both() -> list[dict[str, int]]:
        handles = [
            await stack.temporal.start_workflow(
                CampaignTriggerWorkflow.run,
                batch,
                id=f"{trigger_workflow_id(app_id, campaign_id, 0)}-{n}-{secrets.token_hex(3)}",
                task_queue=stack.settings.task_queue,
            )
            for n, batch in enumerate(batches)
        ]
        return list(await asyncio.gather(*(h.result() for h in handles)))

    results = stack.run(both())
    assert sum(r.get("SENT", 0) for r in results) == 3  # e08 once, and e09's two different events
    assert len(smtp.sink.to(addresses[8])) == 1
    assert wait_until(lambda: len(smtp.sink.to(addresses[9])) == 2)
    got = wait_until(lambda: activity(pinpoint, app_id, campaign_id).get("TotalEndpointCount") == 3)
    assert got
