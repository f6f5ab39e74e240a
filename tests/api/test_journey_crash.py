"""A worker process SIGKILLed while journey participants wait at a split, and again while they
wait at a Wait, loses no participant and sends no mail twice.

The journey runs on `openpoint worker` processes of its own (as in test_campaign_crash): 40
email endpoints, half on plan gold, go through `hello` → `check` (a yes/no split on Plan=gold
evaluated after 20 s) → gold: `gold` → `pause` (15 s) → `bye`; free: `free`. The worker is
killed once everybody waits at `check`, and again once every gold participant waits at `pause`
and no mail is being handed over; each time a fresh worker takes over. SMTP cannot drop a
repeat, so every mail counted at the sink is a mail a person got: each must arrive exactly once.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from rules.journeys import check_journey
from rules.participants import participant_workflow_id
from store import journeys as journeys_store
from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from tests.worker_process import WorkerProcess
from tests.workflows.journey_harness import resumed_at
from workflows.journey import (
    CURRENT,
    REFRESH,
    JourneyInput,
    JourneyWorkflow,
    journey_workflow_id,
)

pytestmark = pytest.mark.slow

ENDPOINTS = 40
ENDPOINT_IDS = [f"p{i:02d}" for i in range(ENDPOINTS)]
GOLD = ENDPOINT_IDS[::2]
FREE = ENDPOINT_IDS[1::2]
SUBJECTS = {"hello": "Hello", "gold": "Gold", "bye": "Bye", "free": "Free"}  # one template per send
PLAN_GOLD = {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}
# What each participant must have done in the end: journey_steps outcome per activity.
GOLD_PATH = {"hello": "SUCCESSFUL", "check": "True", "gold": "SUCCESSFUL", "pause": "ARRIVED", "bye": "SUCCESSFUL"}
FREE_PATH = {"hello": "SUCCESSFUL", "check": "False", "free": "SUCCESSFUL"}
PATIENCE = 120.0  # seconds before a wait gives up: a hang guard, not a measurement


def _path(endpoint_id: str) -> dict[str, str]:
    return GOLD_PATH if endpoint_id in GOLD else FREE_PATH


def _definition(segment_id: str, templates: dict[str, str]) -> dict[str, Any]:
    return {
        "Name": "crash",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
        "StartActivity": "hello",
        "Activities": {
            "hello": {"EMAIL": {"TemplateName": templates["hello"], "NextActivity": "check"}},
            "check": {
                "ConditionalSplit": {
                    "Condition": {"Conditions": [{"SegmentDimensions": PLAN_GOLD}], "Operator": "ALL"},
                    "EvaluationWaitTime": {"WaitFor": "PT20S"},
                    "TrueActivity": "gold",
                    "FalseActivity": "free",
                }
            },
            "gold": {"EMAIL": {"TemplateName": templates["gold"], "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "PT15S"}, "NextActivity": "bye"}},
            "bye": {"EMAIL": {"TemplateName": templates["bye"]}},
            "free": {"EMAIL": {"TemplateName": templates["free"]}},
        },
    }


def _audience(pinpoint: Any, app_id: str, tag: str) -> str:
    """The EMAIL channel, the endpoints (even ones on plan gold) and a segment of all of them."""
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "journeys@example.com", "Identity": "example.com"}
    )
    items = [
        {
            "Id": e,
            "Address": _address(e, tag),
            "ChannelType": "EMAIL",
            "Attributes": {"Plan": ["gold" if e in GOLD else "free"]},
        }
        for e in ENDPOINT_IDS
    ]
    pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    segment: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "members",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold", "free"]}}},
        },
    )["SegmentResponse"]["Id"]
    return segment


def _address(endpoint_id: str, tag: str) -> str:
    return f"{endpoint_id}-{tag}@example.com"


def _templates(pinpoint: Any, tag: str) -> dict[str, str]:
    names = {activity: f"crash-{activity}-{tag}" for activity in SUBJECTS}
    for activity, name in names.items():
        subject = SUBJECTS[activity]
        pinpoint.create_email_template(
            TemplateName=name, EmailTemplateRequest={"Subject": subject, "TextPart": f"{subject}, {{{{Address}}}}"}
        )
    return names


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


class Journey:
    """The journey under test, read the way its user would: the participants' current activity
    (the workflow query), the mail at the sink, and the rows execution metrics are made of."""

    def __init__(self, client: Client, engine: AsyncEngine, smtp: SmtpServer, app_id: str, tag: str) -> None:
        self.client, self.engine, self.smtp = client, engine, smtp
        self.app_id, self.tag = app_id, tag
        self.id = uuid.uuid4().hex

    def workflow_id(self, endpoint_id: str) -> str:
        return participant_workflow_id(self.app_id, self.id, endpoint_id, "run-0")

    async def publish(self, definition: dict[str, Any], task_queue: str) -> None:
        """Write it ACTIVE and start its workflow on `task_queue`, as the journey command does
        on the stack's own queue (whose in-process worker cannot be killed)."""
        check_journey(definition, now=datetime.now(UTC))
        async with self.engine.begin() as conn:
            await journeys_store.create(
                conn, app_id=self.app_id, journey_id=self.id, state="ACTIVE", definition=definition
            )
        await self.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(self.app_id, self.id),
            id=journey_workflow_id(self.app_id, self.id),
            task_queue=task_queue,
            start_signal=REFRESH,
        )

    async def where(self, endpoint_ids: list[str]) -> list[str | None]:
        """Each participant's current activity; None while it has not started or cannot answer."""

        async def one(endpoint_id: str) -> str | None:
            try:
                found = await self.client.get_workflow_handle(self.workflow_id(endpoint_id)).query(
                    CURRENT, rpc_timeout=timedelta(seconds=10)
                )
            except (RPCError, WorkflowQueryFailedError):
                # Started delayed to the end of the hold its first steps asked for: its input says.
                return await resumed_at(self.client, self.workflow_id(endpoint_id))
            activity: str | None = found["Activity"]
            return activity

        return list(await asyncio.gather(*(one(e) for e in endpoint_ids)))

    async def all_at(self, endpoint_ids: list[str], activity: str) -> bool:
        return all(w == activity for w in await self.where(endpoint_ids))

    async def sends_settled(self, count: int) -> bool:
        """`count` messages logged and none of them being handed over to SMTP."""
        rows = await self._rows("SELECT status FROM deliveries WHERE app_id = :app AND source_id = :journey")
        return len(rows) == count and not {r.status for r in rows} & {"PENDING", "SENDING"}

    async def steps(self) -> dict[str, dict[str, str]]:
        """participant -> activity -> outcome."""
        out: dict[str, dict[str, str]] = {e: {} for e in ENDPOINT_IDS}
        sql = (
            "SELECT participant, activity_id, outcome FROM journey_steps WHERE app_id = :app AND journey_id = :journey"
        )
        for r in await self._rows(sql):
            out[r.participant][r.activity_id] = r.outcome
        return out

    async def deliveries(self) -> dict[str, str]:
        """idempotency key -> status."""
        sql = "SELECT idempotency_key, status FROM deliveries WHERE app_id = :app AND source_id = :journey"
        return {r.idempotency_key: r.status for r in await self._rows(sql)}

    async def statuses(self) -> dict[str, str]:
        sql = "SELECT participant, status FROM journey_participants WHERE app_id = :app AND journey_id = :journey"
        return {r.participant: r.status for r in await self._rows(sql)}

    async def _rows(self, sql: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list(await conn.execute(text(sql), {"app": self.app_id, "journey": self.id}))

    def mails(self) -> dict[str, list[str]]:
        """endpoint -> subjects of the mail it got, in arrival order."""
        return {e: [str(m.message["Subject"]) for m in self.smtp.sink.to(_address(e, self.tag))] for e in ENDPOINT_IDS}

    async def histories(self) -> dict[str, list[HistoryEvent]]:
        async def one(endpoint_id: str) -> list[HistoryEvent]:
            return list((await self.client.get_workflow_handle(self.workflow_id(endpoint_id)).fetch_history()).events)

        return dict(zip(ENDPOINT_IDS, await asyncio.gather(*(one(e) for e in ENDPOINT_IDS)), strict=True))


def _workers(events: list[HistoryEvent]) -> set[int]:
    """The processes that completed the workflow's tasks (a worker's identity is pid@host)."""
    return {
        int(e.workflow_task_completed_event_attributes.identity.split("@")[0])
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }


def _cut_short(events: list[HistoryEvent]) -> bool:
    """A workflow task timed out: a killed worker left it unfinished."""
    return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT for e in events)


def _kill(worker: WorkerProcess) -> None:
    worker.kill()
    assert worker.process is not None and worker.process.returncode == -signal.SIGKILL


async def test_sigkill_while_participants_wait_and_split_sends_every_mail_once(
    pinpoint: Any,
    stack: Stack,
    app_id: str,
    engine: AsyncEngine,
    smtp: SmtpServer,
    temporal_address: str,
    tmp_path: Path,
) -> None:
    queue = f"journey-crash-{app_id}"
    log = tmp_path / "worker.log"
    # The session's SMTP sink, which the test reads.
    workers = [WorkerProcess(stack, temporal_address, queue, log, OPENPOINT_SMTP_URL=smtp.url) for _ in range(3)]
    first, second, third = workers
    began = time.monotonic()
    first.start()  # it imports and connects while the project is set up
    try:
        tag = secrets.token_hex(3)
        definition = _definition(_audience(pinpoint, app_id, tag), _templates(pinpoint, tag))
        client = await Client.connect(temporal_address)
        journey = Journey(client, engine, smtp, app_id, tag)
        await journey.publish(definition, queue)

        await _until(lambda: journey.all_at(ENDPOINT_IDS, "check"), "every participant at check")
        _kill(first)
        at_first_kill = time.monotonic()
        # Nothing moves while no worker runs: what the rows say now is what they said at the kill.
        # The split has decided for nobody yet (it records its step when it decides).
        assert await journey.steps() == {e: {"hello": "SUCCESSFUL"} for e in ENDPOINT_IDS}
        assert journey.mails() == {e: ["Hello"] for e in ENDPOINT_IDS}
        second.start()

        async def gold_paused_nothing_in_flight() -> bool:
            # Killing while SMTP has a message would make it UNKNOWN_FAILURE (never sent again,
            # as SMTP cannot drop a repeat): the kill waits until every send so far has settled.
            return await journey.all_at(GOLD, "pause") and await journey.sends_settled(ENDPOINTS * 2)

        await _until(gold_paused_nothing_in_flight, "every gold participant at pause")
        _kill(second)
        at_second_kill = time.monotonic()
        # Gold participants hold at pause (its step recorded, bye not yet); free ones are through.
        before_bye = {e: {a: o for a, o in _path(e).items() if a != "bye"} for e in ENDPOINT_IDS}
        assert await journey.steps() == before_bye
        assert all("Bye" not in subjects for subjects in journey.mails().values())
        third.start()

        results = await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(journey.workflow_id(e)).result() for e in ENDPOINT_IDS)),
            PATIENCE,
        )
        finished = time.monotonic()
        await asyncio.wait_for(client.get_workflow_handle(journey_workflow_id(app_id, journey.id)).result(), PATIENCE)
    finally:
        for worker in workers:
            worker.kill()

    assert results == ["LEFT"] * ENDPOINTS, log.read_text()[-3000:]
    # Each send activity on a participant's path: one mail, one delivery row, SUCCESSFUL.
    assert journey.mails() == {e: [SUBJECTS[a] for a in _path(e) if a in SUBJECTS] for e in ENDPOINT_IDS}
    assert await journey.steps() == {e: _path(e) for e in ENDPOINT_IDS}
    sent = {f"{journey.workflow_id(e)}/{a}/{e}" for e in ENDPOINT_IDS for a in _path(e) if a in SUBJECTS}
    assert await journey.deliveries() == dict.fromkeys(sent, "SUCCESSFUL")
    assert await journey.statuses() == dict.fromkeys(ENDPOINT_IDS, "LEFT")
    state = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey.id)["JourneyResponse"]["State"]
    assert state == "COMPLETED"
    # Every participant was carried across a kill: hello went out from the first process (its
    # entry page's, journeys/prestart.py: the mail was there at the first kill), the split was
    # decided after the first kill, bye went out after the second.
    histories = await journey.histories()
    pids = [w.process.pid for w in workers if w.process is not None]
    ran_on = {e: _workers(events) for e, events in histories.items()}
    assert all(ran_on[e] <= set(pids) for e in ENDPOINT_IDS), ran_on
    assert all(pids[1] in ran_on[e] for e in FREE) and all(pids[2] in ran_on[e] for e in GOLD), ran_on
    print(
        f"\nfirst kill at {at_first_kill - began:.1f}s, second at {at_second_kill - began:.1f}s,"
        f" all {ENDPOINTS} participants left at {finished - began:.1f}s;"
        f" {sum(map(_cut_short, histories.values()))} participants had a workflow task cut short by a kill"
    )
