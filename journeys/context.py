"""What the steps of every participant on one worker share: the database, the Deliverer, reads
kept for a second (openpoint/ttl.py), and MessagesPerSecond pacers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from channels.deliverer import Deliverer
from journeys.sends import Coalescer
from openpoint.ttl import TTLCache

RECENT_SECONDS = 1.0
RECENT_KEPT = 10_000  # keys kept at most; past this the reads start afresh


class StepContext:
    """One per worker process (JourneyActivities holds it)."""

    def __init__(self, engine: AsyncEngine, deliverer: Deliverer) -> None:
        self.engine = engine
        self.deliverer = deliverer
        self.sends = Coalescer(deliverer)  # messages of participants stepping together: one batch
        self._pacers: dict[str, Pacer] = {}
        self._recent: TTLCache[tuple[str, ...], Any] = TTLCache(RECENT_SECONDS, max_entries=RECENT_KEPT)

    async def recent(self, key: tuple[str, ...], load: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """What every participant of a journey reads at every step (the journey, the project's
        settings, an activity's message), read at most once a second per worker: a journey's
        participants move in crowds. A pause or cancellation reaches participants by signal at
        once; this only delays what a step reads by that second."""

        async def read() -> Any:
            async with self.engine.connect() as conn:
                return await load(conn)

        return await self._recent.get_or_load(key, read)

    def forget(self, key: tuple[str, ...]) -> None:
        """Read `key` afresh next time."""
        self._recent.drop(key)

    async def pace(self, journey_id: str, per_second: int | None) -> None:
        if per_second:
            pacer = self._pacers.setdefault(journey_id, Pacer())
            await pacer.wait(per_second)


class Pacer:
    """MessagesPerSecond, per worker process: each send waits for its slot."""

    def __init__(self) -> None:
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self, per_second: int) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / per_second
        if slot > now:
            await asyncio.sleep(slot - now)
