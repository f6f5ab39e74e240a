"""The housekeeping activity: a bounded step of purging deleted projects, then the retention of
raw events and analytics rollups (whole partitions dropped)."""

from __future__ import annotations

import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from store import analytics_rollups, purge
from store import events as events_store
from workflows.housekeeping import HOUSEKEEP, HousekeepingStep

log = logging.getLogger("openpoint.housekeeping")

STEP_ROWS = 50_000  # rows purged per activity run: a step ends well inside its timeouts
RETENTION_EVERY = 600.0  # seconds between retention checks (they list the partitions)


class Housekeeping:
    def __init__(self, engine: AsyncEngine, keep_days: int = 90) -> None:
        self._engine = engine
        self._keep_days = keep_days  # settings.analytics_retention_days: raw events and rollups
        self._retention_at = 0.0

    @activity.defn(name=HOUSEKEEP)
    async def housekeep(self) -> HousekeepingStep:
        budget = STEP_ROWS
        for app_id in await self._pending():
            n = await purge.purge_some(self._engine, app_id, budget)
            activity.heartbeat(app_id, n)
            budget -= n
            if budget <= 0:
                return HousekeepingStep(more=True)
            if await purge.finish_if_clean(self._engine, app_id):
                log.info("project %s purged", app_id)
        await self._retention()
        return HousekeepingStep(more=False)

    async def _pending(self) -> list[str]:
        async with self._engine.connect() as conn:
            return await purge.pending(conn)

    async def _retention(self) -> None:
        if time.monotonic() - self._retention_at < RETENTION_EVERY:
            return
        async with self._engine.begin() as conn:
            dropped = await events_store.drop_expired_partitions(conn, self._keep_days)
        if dropped:
            events_store.forget_partitions()
            log.info("event retention dropped %s", ", ".join(dropped))
        async with self._engine.begin() as conn:
            rolled = await analytics_rollups.drop_expired(conn, self._keep_days)
        if rolled:
            log.info("analytics retention dropped %s", ", ".join(rolled))
        self._retention_at = time.monotonic()
