"""Event-triggered campaigns: each stored event is matched against the project's EVENT
campaigns and every match starts one CampaignEventWorkflow. PutEvents fires the ENDPOINT
filters with the events it accepted; the events OpenPoint records itself (`_email.delivered`,
`_SMS.SUCCESS`, `_email.open`, ...) fire the SYSTEM filters, from the worker or the gateway.

The workflow id names the campaign, endpoint and event, so a PutEvents retried by the client
cannot send twice. The campaigns a project triggers on are cached for a second per gateway
process: a new or changed campaign takes effect within that second, and a busy ingest path
does not read them on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.journey_triggers import JourneyTriggers
from rules.event_filters import matches
from rules.schedules import resolve_start, within_schedule
from workflows.campaign import CampaignEventWorkflow, TriggerInput, event_workflow_id

log = logging.getLogger("openpoint.triggers")

CACHE_SECONDS = 1.0

_TRIGGERS = text(
    """
    SELECT c.id, c.created_at, v.definition
    FROM campaigns c
    JOIN campaign_versions v ON v.app_id = c.app_id AND v.campaign_id = c.id AND v.version = c.version
    WHERE c.app_id = :app AND c.state NOT IN ('COMPLETED', 'DELETED', 'INVALID')
      AND v.definition -> 'Schedule' ->> 'Frequency' = 'EVENT'
    """
)


@dataclass(frozen=True)
class Trigger:
    campaign_id: str
    schedule: dict[str, Any]
    event_filter: dict[str, Any]
    paused: bool

    def fires_on(self, event: dict[str, Any], at: datetime, filter_type: str) -> bool:
        if self.paused or self.event_filter.get("FilterType", "ENDPOINT") != filter_type:
            return False
        # A campaign's own sends never trigger it again (a SYSTEM filter on `_email.send` would
        # otherwise feed itself).
        if event["Attributes"].get("campaign_id") == self.campaign_id:
            return False
        return within_schedule(self.schedule, at) and matches(self.event_filter, event)


class Triggers:
    def __init__(self, engine: AsyncEngine, client: Callable[[], Awaitable[Client]], task_queue: str) -> None:
        self._engine = engine
        self._client = client
        self._task_queue = task_queue
        self._cache: dict[str, tuple[float, list[Trigger]]] = {}
        self._journeys = JourneyTriggers(engine, client, task_queue)

    async def of(self, app_id: str) -> list[Trigger]:
        cached = self._cache.get(app_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_TRIGGERS, {"app": app_id})).all()
        found = [
            Trigger(
                r.id,
                # IMMEDIATE means from the campaign's creation on.
                resolve_start(r.definition["Schedule"], created=r.created_at),
                r.definition["Schedule"]["EventFilter"],
                bool(r.definition.get("IsPaused")),
            )
            for r in rows
            if r.definition["Schedule"].get("EventFilter")
        ]
        self._cache[app_id] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    async def fire(self, app_id: str, event_rows: list[dict[str, Any]], filter_type: str = "ENDPOINT") -> None:
        """Start a send for every (campaign, event) that matches, and tell journeys of the
        events; failures are logged, never raised: the events are stored whatever happens to
        the sends they trigger."""
        if not event_rows:
            return
        try:
            await self._journeys.fire(app_id, event_rows, filter_type)
        except Exception:  # noqa: BLE001 - a broken trigger must never fail ingest
            log.exception("project %s: journey triggers failed", app_id)
        try:
            triggers = await self.of(app_id)
        except Exception:  # noqa: BLE001 - a broken trigger must never fail ingest
            log.exception("project %s: event triggers could not be read", app_id)
            return
        if not triggers:
            return
        starts = []
        for row in event_rows:
            event = {"EventType": row["event_type"], "Attributes": row["attributes"], "Metrics": row["metrics"]}
            for trigger in triggers:
                try:
                    fires = trigger.fires_on(event, row["event_time"], filter_type)
                except ValueError as e:  # a schedule the rules cannot read: skip it, keep ingesting
                    log.warning("campaign %s: trigger skipped: %s", trigger.campaign_id, e)
                    continue
                if fires:
                    starts.append(self._start(app_id, trigger.campaign_id, row))
        if starts:
            await asyncio.gather(*starts)

    async def _start(self, app_id: str, campaign_id: str, row: dict[str, Any]) -> None:
        request = TriggerInput(app_id, campaign_id, row["endpoint_id"], row["event_id"], row["event_time"].isoformat())
        try:
            client = await self._client()
            await client.start_workflow(
                CampaignEventWorkflow.run,
                request,
                id=event_workflow_id(app_id, campaign_id, row["endpoint_id"], row["event_id"]),
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # the same event sent again: it has triggered already
        except (RPCError, RuntimeError, OSError) as e:
            log.warning("campaign %s: could not trigger on event %s: %s", campaign_id, row["event_id"], e)
