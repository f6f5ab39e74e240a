"""A worker process SIGKILLed in the middle of a 1,000-endpoint email campaign: nobody gets a
message twice, and the messages it was handing over are reported, not silently lost.

SMTP cannot drop a repeat, so the delivery log does not send again a message a dead worker left
SENDING: it becomes UNKNOWN_FAILURE (it may or may not have reached the relay). The campaign runs
on `openpoint worker` processes of its own (as in test_campaign_crash); it is killed once the
SMTP sink holds some but not all of the messages, and a fresh worker finishes the page. Counted
at the sink by Message-ID (the idempotency key's hash): every endpoint gets at most one message;
every endpoint not reported UNKNOWN_FAILURE gets exactly one; the uncertain ones are at most
the messages in flight at the kill, and the campaign's ActivityResponse reports them
(`ExecutionMetrics["UNKNOWN_FAILURE"]`, and SuccessfulEndpointCount without them).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from channels.deliverer import UNCERTAIN_WINDOW
from channels.email import message_id_for
from sending.fanout import SEND_CONCURRENCY
from tests.api.test_campaign_crash import _activities_scheduled, _wait
from tests.smtp_sink import SmtpServer, SmtpSink
from tests.stack import Stack
from tests.worker_process import WorkerProcess
from workflows.campaign import SEND_PAGE, START_RUN, CampaignInput, CampaignWorkflow, workflow_id

pytestmark = pytest.mark.slow

ENDPOINTS = 1000
KILL_AT = 300  # messages at the sink when the worker is killed: some, not all
# A message is SENDING from the moment its window is marked until the window's outcomes are
# recorded; each of the page's concurrent sub-batches has one such window of email messages.
IN_FLIGHT = UNCERTAIN_WINDOW * SEND_CONCURRENCY


class SlowSink(SmtpSink):
    """The relay takes a little while to answer each message: the campaign lasts seconds, so
    the kill lands mid-page whatever the machine's speed (it only makes the run slower)."""

    delay = 0.02

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply


@pytest.fixture
def slow_smtp() -> Iterator[SmtpServer]:
    # A sink of its own: the session's sink holds other tests' mail, and this one must be slow.
    server = SmtpServer()
    server.sink = SlowSink()
    server.controller = Controller(server.sink, hostname="127.0.0.1", port=server.port)
    server.start()
    yield server
    server.stop()


def _endpoint_id(i: int) -> str:
    return f"m{i:04d}"


def _audience(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "news@example.com", "Identity": "example.com"}
    )
    for start in range(0, ENDPOINTS, 100):
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {
                        "Id": _endpoint_id(i),
                        "Address": f"{_endpoint_id(i)}@example.com",
                        "ChannelType": "EMAIL",
                        "Attributes": {"Plan": ["crash"]},
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


def test_sigkill_mid_email_campaign_sends_at_most_once_and_reports_the_uncertain(
    pinpoint: Any, stack: Stack, app_id: str, slow_smtp: SmtpServer, temporal_address: str, tmp_path: Path
) -> None:
    queue = f"email-crash-{app_id}"
    log = tmp_path / "worker.log"
    first, second = (WorkerProcess(stack, temporal_address, queue, log, OPENPOINT_SMTP_URL=slow_smtp.url) for _ in "12")
    first.start()  # it imports and connects while the audience is created
    try:
        segment = _audience(pinpoint, app_id)
        cid = pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "email-crash",
                "SegmentId": segment,
                "Schedule": {
                    "StartTime": (datetime.now(UTC) + timedelta(seconds=5)).isoformat(),
                    "Frequency": "ONCE",
                },
                "MessageConfiguration": {"EmailMessage": {"Title": "News", "Body": "Hello {{Address}}"}},
            },
        )["CampaignResponse"]["Id"]
        # Moved from the stack's in-process worker (which cannot be killed) to the worker
        # processes' queue before StartTime, as in test_campaign_crash (checked below).
        wid = workflow_id(app_id, cid)
        stack.drain_outbox(app_id)  # the API's command to start it has been carried out
        gateway_run = stack.run(stack.temporal.get_workflow_handle(wid).describe()).run_id
        gateway_copy = stack.temporal.get_workflow_handle(wid, run_id=gateway_run)
        stack.run(gateway_copy.terminate("moved to a worker process the test can kill"))
        handle = stack.run(
            stack.temporal.start_workflow(CampaignWorkflow.run, CampaignInput(app_id, cid), id=wid, task_queue=queue)
        )

        def kill_time() -> bool:
            assert first.process is not None and first.process.poll() is None, log.read_text()[-3000:]
            return len(slow_smtp.sink.messages) >= KILL_AT

        _wait(kill_time, 120, f"{KILL_AT} messages at the sink")
        first.kill()
        assert first.process is not None and first.process.returncode == -signal.SIGKILL
        at_kill = len(slow_smtp.sink.messages)
        assert at_kill < ENDPOINTS, "the campaign finished before the worker was killed"
        second.start()
        stack.run(handle.result(), timeout=180)
    finally:
        first.kill()
        second.kill()

    assert not stack.run(_activities_scheduled(gateway_copy)) & {START_RUN, SEND_PAGE}, "two copies ran"
    ids = [_endpoint_id(i) for i in range(ENDPOINTS)]
    key_of = {e: f"campaign-{app_id}-{cid}/0/{e}" for e in ids}
    endpoint_of = {f"<{message_id_for(key)}>": e for e, key in key_of.items()}
    with slow_smtp.sink.lock:
        received = [m.message for m in slow_smtp.sink.messages]
    arrived = Counter(endpoint_of[str(m["Message-ID"])] for m in received)
    # The Message-ID and the To header name the same endpoint: the count is per recipient.
    assert all(str(m["To"]) == f"{endpoint_of[str(m['Message-ID'])]}@example.com" for m in received)

    rows = stack.sql("SELECT endpoint_id, status, status_message FROM deliveries WHERE app_id = $1", app_id)
    status = {r["endpoint_id"]: r["status"] for r in rows}
    assert sorted(status) == ids
    uncertain = {e for e, s in status.items() if s == "UNKNOWN_FAILURE"}
    exactly_once = {e for e in ids if arrived[e] == 1}
    missing = {e for e in ids if arrived[e] == 0}
    duplicate = {e for e in ids if arrived[e] > 1}
    arrived_uncertain = uncertain & exactly_once
    print(
        f"\n{ENDPOINTS} endpoints, killed with {at_kill} messages at the sink:"
        f" exactly-once {len(exactly_once)}, missing {len(missing)}, duplicate {len(duplicate)},"
        f" uncertain {len(uncertain)} (reported UNKNOWN_FAILURE; {len(arrived_uncertain)} of them had arrived,"
        f" {len(uncertain - arrived_uncertain)} had not; bound {IN_FLIGHT} = {SEND_CONCURRENCY} sub-batches"
        f" x {UNCERTAIN_WINDOW} per window)"
    )

    # At most once for everybody; exactly once for everybody not reported uncertain.
    assert not duplicate, sorted(duplicate)
    assert set(status.values()) <= {"SUCCESSFUL", "UNKNOWN_FAILURE"}, log.read_text()[-3000:]
    assert missing <= uncertain
    assert exactly_once >= set(ids) - uncertain
    # The uncertain are the messages in flight at the kill: at most one window per sub-batch.
    assert len(uncertain) <= IN_FLIGHT
    assert all("worker stopped" in r["status_message"] for r in rows if r["status"] == "UNKNOWN_FAILURE")

    # What a Pinpoint user reads: the run's ActivityResponse accounts for every endpoint.
    state = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=cid)["CampaignResponse"]["State"]
    assert state["CampaignStatus"] == "COMPLETED"
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=cid)["ActivitiesResponse"]["Item"]
    assert activity["TotalEndpointCount"] == ENDPOINTS
    assert activity["SuccessfulEndpointCount"] == ENDPOINTS - len(uncertain)
    assert int(activity["ExecutionMetrics"].get("UNKNOWN_FAILURE", "0")) == len(uncertain), activity
