"""What recorded events do to journeys: an event matching an ACTIVE event-started journey's
EventFilter starts a participant (admission is the participant's first step), and an event of
an endpoint whose participant waits at a split is signalled to that participant.

Both are read per project and cached for a second, like campaign triggers; a project without
event-started journeys or waiting participants costs one cached lookup per batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from rules.event_filters import matches
from store import journey_participants as participants
from workflows.journey import ENGAGEMENT, JourneyParticipantWorkflow, ParticipantInput
from workflows.journey_starts import ensure_search_attributes, participant_start_options

log = logging.getLogger("openpoint.triggers")

CACHE_SECONDS = 1.0

_EVENT_JOURNEYS = text(
    """
    SELECT id, definition -> 'StartCondition' -> 'EventStartCondition' -> 'EventFilter' AS filter
    FROM journeys
    WHERE app_id = :app AND state = 'ACTIVE' AND definition -> 'StartCondition' ? 'EventStartCondition'
    """
)
_ANY_LISTENER = text("SELECT EXISTS (SELECT 1 FROM journey_listeners WHERE app_id = :app)")


@dataclass(frozen=True)
class _Project:
    starts: list[tuple[str, dict[str, Any]]]  # (journey id, EventFilter)
    listening: bool


class JourneyTriggers:
    def __init__(self, engine: AsyncEngine, client: Callable[[], Awaitable[Client]], task_queue: str) -> None:
        self._engine = engine
        self._client = client
        self._task_queue = task_queue
        self._cache: dict[str, tuple[float, _Project]] = {}

    async def _project(self, app_id: str) -> _Project:
        cached = self._cache.get(app_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._engine.connect() as conn:
            starts = [(r.id, r.filter) for r in await conn.execute(_EVENT_JOURNEYS, {"app": app_id}) if r.filter]
            listening = bool(await conn.scalar(_ANY_LISTENER, {"app": app_id}))
        found = _Project(starts, listening)
        # Listeners come and go with participants: a split that starts waiting must hear the
        # next event, so only "nobody listens" is cached, and briefly.
        self._cache[app_id] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    def forget(self, app_id: str) -> None:
        self._cache.pop(app_id, None)

    async def fire(self, app_id: str, rows: list[dict[str, Any]], filter_type: str) -> None:
        project = await self._project(app_id)
        jobs: list[Awaitable[None]] = []
        for row in rows:
            event = _event(row)
            for journey_id, event_filter in project.starts:
                if event_filter.get("FilterType", "ENDPOINT") == filter_type and not _own(row, journey_id):
                    if matches(event_filter, event):
                        jobs.append(self._start(app_id, journey_id, row))
        if project.listening:
            jobs.append(self._signal(app_id, rows))
        await asyncio.gather(*jobs)

    async def _start(self, app_id: str, journey_id: str, row: dict[str, Any]) -> None:
        who = ParticipantInput(
            app_id,
            journey_id,
            row["endpoint_id"],
            f"event-{row['event_id']}",
            event_time=row["event_time"].isoformat(),
        )
        try:
            client = await self._client()
            options = participant_start_options(
                who, self._task_queue, searchable=await ensure_search_attributes(client)
            )
            await client.start_workflow(JourneyParticipantWorkflow.run, who, **options)
        except WorkflowAlreadyStartedError:
            pass  # the same event again
        except (RPCError, RuntimeError, OSError) as e:
            log.warning("journey %s: could not start a participant on event %s: %s", journey_id, row["event_id"], e)

    async def _signal(self, app_id: str, rows: list[dict[str, Any]]) -> None:
        """Events of endpoints whose participants wait at a split, told to those participants."""
        endpoint_ids = sorted({r["endpoint_id"] for r in rows})
        if not endpoint_ids:
            return
        async with self._engine.connect() as conn:
            waiting = await participants.listening(conn, app_id, endpoint_ids)
        if not waiting:
            return
        client = await self._client()
        for listener in waiting:
            for row in rows:
                if row["endpoint_id"] != listener["endpoint_id"]:
                    continue
                if not listener["since"] <= row["event_time"] <= listener["until"]:
                    continue
                try:
                    await client.get_workflow_handle(listener["workflow_id"]).signal(ENGAGEMENT, _event(row))
                except RPCError:
                    pass  # it moved on meanwhile


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {"EventType": row["event_type"], "Attributes": row["attributes"] or {}, "Metrics": row["metrics"] or {}}


def _own(row: dict[str, Any], journey_id: str) -> bool:
    """A journey's own messages never start it again."""
    return (row["attributes"] or {}).get("journey_id") == journey_id
