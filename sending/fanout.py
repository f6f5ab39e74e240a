"""The last stage of a send, inside a send activity: batches through the one Deliverer, several
at a time, and the error a retry needs. Worker-only (it drives the providers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TypeVar

from channels.deliverer import Deliverer, TransientDeliveryError, beat
from workflows.policy import last_attempt, transient
from workflows.shared import DeliveryBatch, DeliveryResult

SEND_CONCURRENCY = 8  # batches in flight at once per activity (each holds a provider connection)

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


async def pace(sent: int, messages_per_second: int | None, started: float) -> None:
    """MessagesPerSecond, best effort as in Pinpoint: what sent `sent` messages since `started`
    (time.monotonic) takes at least sent / rate."""
    if not messages_per_second or not sent:
        return
    remaining = sent / messages_per_second - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
