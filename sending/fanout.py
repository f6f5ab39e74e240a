"""The last stage of a send, inside a send activity: batches through the one Deliverer, several
at a time, and the error a retry needs. Worker-only (it drives the providers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from channels.deliverer import Deliverer, TransientDeliveryError, beat
from workflows.policy import last_attempt, transient
from workflows.shared import DeliveryBatch, DeliveryResult

SEND_CONCURRENCY = 8  # batches in flight at once per activity (each holds a provider connection)
PACE_BEAT_SECONDS = 2.0  # pacing sleeps this long at most between heartbeats

Tag = TypeVar("Tag")


async def deliver_all(
    deliverer: Deliverer, batches: Sequence[tuple[Tag, DeliveryBatch]], *, attempt: int
) -> list[tuple[Tag, DeliveryResult]]:
    """Every batch through the Deliverer, SEND_CONCURRENCY at a time; each result with its
    batch's tag (a treatment, a channel). `attempt`: the activity's (activity.info().attempt).

    Messages a provider may accept later are left for the next attempt: once every batch has
    been through, `workflows.policy.transient` is raised for them, unless this is the last
    attempt, where the Deliverer records them as TEMPORARY_FAILURE instead."""
    final = last_attempt(attempt)
    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    results: list[tuple[Tag, DeliveryResult]] = []
    left: list[TransientDeliveryError] = []

    async def one(tag: Tag, batch: DeliveryBatch) -> None:
        async with gate:
            done, failed = await deliverer.deliver(batch, last_attempt=final)
            results.extend((tag, r) for r in done)
            left.extend(failed)
            beat()

    await asyncio.gather(*(one(t, b) for t, b in batches))
    if left:
        raise transient([e.message for e in left], sum(len(b.recipients) for _, b in batches))
    return results


class Lanes:
    """Batches through the Deliverer as they are put, up to `lanes` in flight at once (each holds
    a provider connection): a campaign's next page starts on the connections its previous page
    frees, instead of after the slowest of them. `attempt`: the activity's.

    `put` waits for a free lane. Messages a provider may accept later are left for the next
    attempt (see deliver_all); once one is met, `put` takes no more batches (`throttled`: the
    caller stops producing them), so a provider answering 429 gets the activity's retry backoff,
    not the rest of the run. `drain` waits for what is in flight and raises
    `workflows.policy.transient` for what was left, or the first error a batch met."""

    def __init__(self, deliverer: Deliverer, *, attempt: int, lanes: int = SEND_CONCURRENCY) -> None:
        self._deliverer = deliverer
        self._final = last_attempt(attempt)
        self._gate = asyncio.Semaphore(lanes)
        self._tasks: set[asyncio.Task[None]] = set()
        self._left: list[TransientDeliveryError] = []
        self._offered = 0
        self._error: BaseException | None = None

    @property
    def throttled(self) -> bool:
        return bool(self._left) or self._error is not None

    async def put(self, batch: DeliveryBatch, done: Callable[[list[DeliveryResult]], None]) -> None:
        """Send `batch` on the next free lane; `done` gets its final results."""
        await self._gate.acquire()
        if self.throttled:
            self._gate.release()
            return
        self._offered += len(batch.recipients)
        task = asyncio.create_task(self._one(batch, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, batch: DeliveryBatch, done: Callable[[list[DeliveryResult]], None]) -> None:
        try:
            results, failed = await self._deliverer.deliver(batch, last_attempt=self._final)
            done(results)
            self._left.extend(failed)
            beat()
        except BaseException as e:
            self._error = self._error or e
            raise
        finally:
            self._gate.release()

    async def drain(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._error is not None:
            raise self._error
        if self._left:
            raise transient([e.message for e in self._left], self._offered)

    async def abort(self) -> None:
        """Cancel what is in flight (the activity is failing anyway)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def pace(sent: int, messages_per_second: int | None, started: float) -> None:
    """MessagesPerSecond, best effort as in Pinpoint: what sent `sent` messages since `started`
    (time.monotonic) takes at least sent / rate."""
    if not messages_per_second or not sent:
        return
    # Heartbeating meanwhile: a slow MessagesPerSecond can hold a page longer than the
    # activity's heartbeat timeout.
    while (remaining := sent / messages_per_second - (time.monotonic() - started)) > 0:
        await asyncio.sleep(min(remaining, PACE_BEAT_SECONDS))
        beat()
