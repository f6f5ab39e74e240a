"""A worker process SIGKILLed in the middle of a campaign loses nothing and sends nothing twice.

The campaign (3,000 endpoints on the custom channel) runs on a worker in its own process. When
the webhook receiver is in the middle of the second page the worker is killed with SIGKILL;
a fresh worker process takes over (Temporal retries the page that was in flight). Every
endpoint's message must be accepted exactly once. Messages the dead worker had handed over
without recording the answer are sent again under the same Idempotency-Key, and the receiver
drops the repeat, as an idempotent receiver does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openpoint.vault import Vault, vault_from
from rules.webhooks import signing_secret
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.stack import Stack
from workflows.campaign import CampaignInput, CampaignWorkflow, workflow_id

ENDPOINTS = 3000


class WorkerProcess:
    """`openpoint worker` on a task queue of its own, as production runs it."""

    def __init__(self, stack: Stack, temporal_address: str, task_queue: str, ca_file: Path, log: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": stack.settings.database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_TASK_QUEUE": task_queue,
            "OPENPOINT_MASTER_KEY": stack.settings.master_key,
            "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "OPENPOINT_DB_POOL_SIZE": "5",
            "SSL_CERT_FILE": str(ca_file),  # the receiver's self-signed certificate
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "openpoint.cli", "worker"], env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def receiver(stack: Stack, tls_cert: tuple[Path, Path]) -> Iterator[WebhookReceiver]:
    vault: Vault = vault_from(stack.settings)
    with WebhookReceiver(signing_secret(stack.settings, vault), tls_cert, delay=0.002) as r:
        yield r


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sigkill_mid_campaign_delivers_every_message_exactly_once(
    pinpoint: Any,
    stack: Stack,
    app_id: str,
    receiver: WebhookReceiver,
    temporal_address: str,
    tls_cert: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    for start in range(0, ENDPOINTS, 100):
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {"Id": f"c{i:05d}", "Address": f"device-{i}", "ChannelType": "CUSTOM", "Attributes": {"K": ["v"]}}
                    for i in range(start, start + 100)
                ]
            },
        )
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "all",
            "Dimensions": {"Attributes": {"K": {"AttributeType": "INCLUSIVE", "Values": ["v"]}}},
        },
    )["SegmentResponse"]["Id"]
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "crash",
            "SegmentId": segment,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "IsPaused": False,
            "CustomDeliveryConfiguration": {"DeliveryUri": receiver.hook_url, "EndpointTypes": ["CUSTOM"]},
            "MessageConfiguration": {"CustomMessage": {"Data": "hello {{Address}}"}},
        },
    )["CampaignResponse"]
    # The gateway started the campaign on the test stack's in-process worker; this test needs it
    # on a worker process it can kill, so that copy is stopped before it can send and the
    # campaign is run on the process's own task queue instead.
    cid = campaign["Id"]
    stack.run(stack.temporal.get_workflow_handle(workflow_id(app_id, cid)).terminate("moved to the crash worker"))
    sent_by_stack = receiver.requests

    queue = f"crash-{cid}"
    log = tmp_path / "worker.log"
    first = WorkerProcess(stack, temporal_address, queue, tls_cert[0], log)
    second = WorkerProcess(stack, temporal_address, queue, tls_cert[0], log)
    first.start()
    try:
        handle = stack.run(
            stack.temporal.start_workflow(
                CampaignWorkflow.run,
                CampaignInput(app_id, cid),
                id=f"{workflow_id(app_id, cid)}-crash",
                task_queue=queue,
            )
        )
        # Mid-page: the second page (1,000 to 2,000) is being sent in parallel sub-batches.
        _wait(lambda: receiver.requests - sent_by_stack >= 1300, 120, "the middle of the second page")
        first.kill()
        at_kill = len(receiver.accepted)
        assert at_kill < ENDPOINTS, "the campaign finished before the worker was killed"
        second.start()
        stack.run(handle.result(), timeout=180)
    finally:
        first.kill()
        second.kill()

    keys = {f"campaign-{app_id}-{cid}/0/c{i:05d}" for i in range(ENDPOINTS)}
    assert set(receiver.accepted) == keys, log.read_text()[-3000:]
    assert set(receiver.accepted.values()) == {1}
    assert receiver.bad_signatures == 0
    rows = stack.sql("SELECT status, count(*) AS n FROM deliveries WHERE app_id = $1 GROUP BY status", app_id)
    assert {r["status"]: r["n"] for r in rows} == {"SUCCESSFUL": ENDPOINTS}
    state = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=cid)["CampaignResponse"]["State"]
    assert state["CampaignStatus"] == "COMPLETED"
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=cid)["ActivitiesResponse"]["Item"]
    assert activity["SuccessfulEndpointCount"] == ENDPOINTS and activity["TotalEndpointCount"] == ENDPOINTS
    print(f"accepted {at_kill} before the kill; {receiver.dropped} repeats dropped after it")
