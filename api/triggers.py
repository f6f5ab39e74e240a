"""Event-triggered campaigns: after PutEvents commits, each accepted event is matched against
the project's EVENT campaigns and every match starts one CampaignEventWorkflow.

The workflow id names the campaign, endpoint and event, so a PutEvents retried by the client
cannot send twice. The campaigns a project triggers on are cached for a second per gateway
process: a new or changed campaign takes effect within that second, and a busy ingest path
does not read them on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.context import Context
from rules.event_filters import matches
from rules.schedules import within_schedule
from workflows.campaign import CampaignEventWorkflow, TriggerInput, event_workflow_id

log = logging.getLogger("openpoint.triggers")

CACHE_SECONDS = 1.0

_TRIGGERS = text(
    """
    SELECT c.id, v.definition
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

    def fires_on(self, event: dict[str, Any], at: datetime) -> bool:
        if self.paused or self.event_filter.get("FilterType", "ENDPOINT") != "ENDPOINT":
            return False
        return within_schedule(self.schedule, at) and matches(self.event_filter, event)


class Triggers:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[Trigger]]] = {}

    async def of(self, ctx: Context, app_id: str) -> list[Trigger]:
        cached = self._cache.get(app_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with ctx.engine.connect() as conn:
            rows = (await conn.execute(_TRIGGERS, {"app": app_id})).all()
        found = [
            Trigger(
                r.id,
                r.definition["Schedule"],
                r.definition["Schedule"]["EventFilter"],
                bool(r.definition.get("IsPaused")),
            )
            for r in rows
            if r.definition["Schedule"].get("EventFilter")
        ]
        self._cache[app_id] = (time.monotonic() + CACHE_SECONDS, found)
        return found

    async def fire(self, ctx: Context, app_id: str, event_rows: list[dict[str, Any]]) -> None:
        """Start a send for every (campaign, event) that matches; failures are logged, never
        raised: the events are stored whatever happens to the sends they trigger."""
        triggers = await self.of(ctx, app_id)
        if not triggers or not event_rows:
            return
        starts = []
        for row in event_rows:
            event = {"EventType": row["event_type"], "Attributes": row["attributes"], "Metrics": row["metrics"]}
            for trigger in triggers:
                if trigger.fires_on(event, row["event_time"]):
                    starts.append(self._start(ctx, app_id, trigger.campaign_id, row))
        if starts:
            await asyncio.gather(*starts)

    async def _start(self, ctx: Context, app_id: str, campaign_id: str, row: dict[str, Any]) -> None:
        request = TriggerInput(app_id, campaign_id, row["endpoint_id"], row["event_id"], row["event_time"].isoformat())
        try:
            client = await ctx.temporal()
            await client.start_workflow(
                CampaignEventWorkflow.run,
                request,
                id=event_workflow_id(app_id, campaign_id, row["endpoint_id"], row["event_id"]),
                task_queue=ctx.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass  # the same event sent again: it has triggered already
        except (RPCError, RuntimeError, OSError) as e:
            log.warning("campaign %s: could not trigger on event %s: %s", campaign_id, row["event_id"], e)


TRIGGERS = Triggers()
