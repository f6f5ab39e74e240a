"""The analytics rollup loop: beside the Temporal worker (like the dispatcher), it folds the
events the feed (store/feed.py) has for it into the rollups (analytics/rollups.py) in small
batches, right after they are stored; the first time, it also backfills what was stored before.
PutEvents does not wait for it: rollups cost the ingest path nothing but the feed's column."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import rollups

log = logging.getLogger("openpoint.rollups")


@dataclass(frozen=True)
class RollupSettings:
    batch_size: int = 10_000  # events folded per transaction (whole transactions of the feed)
    # How often a caught-up loop looks again: events arriving meanwhile are folded together (a
    # batch costs about a dozen statements and an upsert of its distinct rollup rows, whatever
    # its size, so fewer, larger batches cost ingest less; pages lag by about this much).
    poll_seconds: float = 1.0
    keep_days: int = 90  # the analytics retention: older days are not rolled up
    retry_seconds: float = 2.0  # after a failed batch (the database away)


class RollupLoop:
    def __init__(self, engine: AsyncEngine, settings: RollupSettings | None = None) -> None:
        self._engine = engine
        self.settings = settings or RollupSettings()

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            try:
                read = await rollups.step(
                    self._engine, batch=self.settings.batch_size, keep_days=self.settings.keep_days
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the batch is rolled back and read again
                log.exception("analytics rollup batch failed")
                await asyncio.sleep(self.settings.retry_seconds)
                continue
            if read == 0:
                await asyncio.sleep(self.settings.poll_seconds)
