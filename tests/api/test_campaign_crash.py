"""A worker process SIGKILLed in the middle of a campaign loses nothing and sends nothing twice.

The campaign (3,000 endpoints on the custom channel) runs on `openpoint worker` processes of its
own. When the custom channel has been handed about a third of the messages, in the middle of the
second page, the worker is killed with SIGKILL and a fresh one started; Temporal retries the
page that was in flight there. Messages the dead worker had handed over without recording the
answer are sent again under the same idempotency key, and the receiving end drops the repeat, as
an idempotent receiver does: every endpoint's message must be accepted exactly once.

The custom channel is either destination a DeliveryUri may name: an HTTPS webhook (one request
per message, the key in `Idempotency-Key`) or an AWS Lambda function (up to 50 endpoints per
invocation, the keys in the event's `IdempotencyKeys`), on the loopback Lambda API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from openpoint.vault import vault_from
from rules.webhooks import signing_secret
from tests.fakes.lambda_api import FakeLambda, delay
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.stack import Stack
from tests.worker_process import WorkerProcess
from workflows.campaign import SEND_PAGE, START_RUN, CampaignInput, CampaignWorkflow, workflow_id

ENDPOINTS = 3000
KILL_AT = 1250  # messages handed over: about a third, in the middle of the second page of 1,000
ROOT = Path(__file__).resolve().parents[2]
FUNCTION_BATCH = 50  # endpoints per Lambda invocation at most, as Pinpoint


@pytest.fixture
def receiver(stack: Stack, tls_cert: tuple[Path, Path]) -> Iterator[WebhookReceiver]:
    # A few milliseconds per message: the campaign takes seconds, so the kill lands mid-page.
    with WebhookReceiver(signing_secret(stack.settings, vault_from(stack.settings)), tls_cert, delay=0.003) as r:
        yield r


@dataclass
class Destination:
    """Where the campaign's custom channel delivers, and what the receiving end saw there."""

    uri: str  # the DeliveryUri
    data: str  # the CustomMessage's Data
    expected_data: Callable[[int], str]  # Data rendered for endpoint i
    env: dict[str, str]  # what the worker processes need to reach it
    per_call: int  # messages per request or invocation, at most
    handed: Callable[[], list[list[tuple[str, str]]]]  # (key, Data) of each message, per call answered
    arrived: Callable[[], int]  # messages that reached it so far, answered or not
    accepted: Callable[[], list[str]]  # keys accepted, each once
    dropped: Callable[[], list[str]]  # repeats of an accepted key


@pytest.fixture(params=["webhook", "lambda"])
def destination(
    request: pytest.FixtureRequest, app_id: str, tls_cert: tuple[Path, Path], lambda_api: FakeLambda
) -> Destination:
    if request.param == "webhook":
        receiver: WebhookReceiver = request.getfixturevalue("receiver")
        return Destination(
            uri=receiver.url,
            data="hello {{Attributes.Name}}",
            expected_data=lambda i: f"hello N{i}",
            env={"SSL_CERT_FILE": str(tls_cert[0])},
            per_call=1,
            handed=lambda: [[(r.headers["Idempotency-Key"], r.json()["Data"])] for r in receiver.requests],
            arrived=lambda: len(receiver.requests),
            accepted=lambda: receiver.accepted,
            dropped=lambda: receiver.dropped,
        )
    name = f"crash-{app_id[:8]}"
    function = lambda_api.add_custom_channel(name)
    # A tenth of a second per invocation: the kill lands while one is in flight.
    lambda_api.script(name, *[delay(0.1)] * (4 * ENDPOINTS // FUNCTION_BATCH))
    return Destination(
        uri=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        # One Data per 50 endpoints (message variables): endpoints rendered alike share an invocation.
        data="hello {{Attributes.Group}}",
        expected_data=lambda i: f"hello G{i // FUNCTION_BATCH}",
        env={"OPENPOINT_LAMBDA_ENDPOINT_URL": lambda_api.url},  # AWS_* come from the environment
        per_call=FUNCTION_BATCH,
        handed=lambda: [
            [(key, c.event["Data"]) for key in c.event["IdempotencyKeys"].values()]
            for c in lambda_api.to(name)
            if c.status == 200
        ],
        arrived=lambda: sum(len(c.event["Endpoints"]) for c in lambda_api.to(name)),
        accepted=lambda: function.accepted,
        dropped=lambda: function.dropped,
    )


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def _activities_scheduled(handle: WorkflowHandle[Any, Any]) -> set[str]:
    history = await handle.fetch_history()
    return {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }


def _create_audience(pinpoint: Any, app_id: str) -> str:
    for start in range(0, ENDPOINTS, 100):
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {
                        "Id": f"c{i:05d}",
                        "Address": f"device-{i}",
                        "ChannelType": "CUSTOM",
                        "Attributes": {"Plan": ["crash"], "Name": [f"N{i}"], "Group": [f"G{i // FUNCTION_BATCH}"]},
                    }
                    for i in range(start, start + 100)
                ]
            },
        )
    segment: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "everyone",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["crash"]}}},
        },
    )["SegmentResponse"]["Id"]
    return segment


def test_sigkill_mid_campaign_delivers_every_message_exactly_once(
    pinpoint: Any,
    stack: Stack,
    app_id: str,
    destination: Destination,
    temporal_address: str,
    tmp_path: Path,
) -> None:
    queue = f"crash-{app_id}"
    log = tmp_path / "worker.log"
    first = WorkerProcess(stack, temporal_address, queue, log, **destination.env)
    second = WorkerProcess(stack, temporal_address, queue, log, **destination.env)
    first.start()  # it imports and connects while the audience is created
    try:
        segment = _create_audience(pinpoint, app_id)
        cid = pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "crash",
                "SegmentId": segment,
                "Schedule": {
                    "StartTime": (datetime.now(UTC) + timedelta(seconds=5)).isoformat(),
                    "Frequency": "ONCE",
                },
                "CustomDeliveryConfiguration": {"DeliveryUri": destination.uri, "EndpointTypes": ["CUSTOM"]},
                "MessageConfiguration": {"CustomMessage": {"Data": destination.data}},
            },
        )["CampaignResponse"]["Id"]
        # The gateway started the campaign's workflow on the test stack's in-process worker,
        # which cannot be SIGKILLed. It is still waiting for StartTime, so it is terminated
        # now, before it can send anything (checked below from its history), and the same
        # workflow, under the same id, is started on the worker processes' queue instead.
        wid = workflow_id(app_id, cid)
        stack.drain_outbox(app_id)  # the API's command to start it has been carried out
        gateway_run = stack.run(stack.temporal.get_workflow_handle(wid).describe()).run_id
        gateway_copy = stack.temporal.get_workflow_handle(wid, run_id=gateway_run)
        stack.run(gateway_copy.terminate("moved to a worker process the test can kill"))
        handle = stack.run(
            stack.temporal.start_workflow(CampaignWorkflow.run, CampaignInput(app_id, cid), id=wid, task_queue=queue)
        )

        _wait(lambda: destination.arrived() >= KILL_AT, 120, f"{KILL_AT} messages handed over")
        first.kill()
        at_kill = len(destination.accepted())
        assert at_kill < ENDPOINTS, "the campaign finished before the worker was killed"
        second.start()
        stack.run(handle.result(), timeout=180)
    finally:
        first.kill()
        second.kill()

    assert not stack.run(_activities_scheduled(gateway_copy)) & {START_RUN, SEND_PAGE}, "two copies ran"
    # Each endpoint's message accepted exactly once: none lost, none accepted twice, and every
    # other message was a repeat of an accepted key (no second key for anyone, no bad signature).
    keys = [f"campaign-{app_id}-{cid}/0/c{i:05d}" for i in range(ENDPOINTS)]
    accepted, dropped = destination.accepted(), destination.dropped()
    assert sorted(accepted) == keys, log.read_text()[-3000:]
    calls = destination.handed()
    handed = [message for call in calls for message in call]
    assert len(handed) == ENDPOINTS + len(dropped)
    assert set(dropped) <= set(keys)
    assert max(len(call) for call in calls) <= destination.per_call
    # A repeat carries the same message as the first time.
    assert all(data == destination.expected_data(int(key[-5:])) for key, data in handed)

    state = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=cid)["CampaignResponse"]["State"]
    assert state["CampaignStatus"] == "COMPLETED"
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=cid)["ActivitiesResponse"]["Item"]
    assert (activity["TotalEndpointCount"], activity["SuccessfulEndpointCount"]) == (ENDPOINTS, ENDPOINTS)
    rows = stack.sql("SELECT endpoint_id, status, attempts FROM deliveries WHERE app_id = $1", app_id)
    assert sorted(r["endpoint_id"] for r in rows) == [f"c{i:05d}" for i in range(ENDPOINTS)]
    assert {r["status"] for r in rows} == {"SUCCESSFUL"}
    handed_twice = sum(r["attempts"] > 1 for r in rows)
    print(
        f"\n{len(calls)} calls, {len(accepted)} keys accepted ({at_kill} before the kill),"
        f" {len(dropped)} repeats dropped; {handed_twice} messages handed over again after the kill"
    )
