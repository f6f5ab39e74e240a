"""Journey messages of many participants through the Deliverer as one batch.

Every participant's message step sends on its own (its own step, key and retry), but a journey's
participants move in crowds: an entry page takes 500 first steps at once, and the workflows that
wake at the end of the same wait take their next step together. Each Deliverer call costs its
PostgreSQL round trips (claim, channel settings, sending, record) whatever the batch's size, so
messages of one activity, channel and content that steps hand over within `WINDOW` seconds go as
one batch of at most `MOST` recipients; each step gets back the results of its own recipients.

Nothing changes for a message: its idempotency key, its row in the delivery log and its
provider call are its own. A recipient the provider may accept later (left PENDING) fails its
own step with `workflows.policy.transient`, which retries it, and only it; an error of the whole
call fails every step in it, each retried on its own. A key already waiting (a step retried
while its first attempt still sends) waits for the next batch: a batch never claims one key twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from channels.deliverer import Deliverer
from workflows.policy import last_attempt, transient
from workflows.shared import DeliveryBatch, DeliveryResult

WINDOW = 0.005  # seconds a batch waits for more steps' messages
MOST = 100  # recipients per batch at most


@dataclass
class _Pending:
    batch: DeliveryBatch  # the first step's: what the others share with it
    final: bool
    keys: set[str] = field(default_factory=set)
    waiting: list[tuple[list[str], asyncio.Future[list[DeliveryResult]]]] = field(default_factory=list)


class Coalescer:
    """One per worker (StepContext holds it)."""

    def __init__(self, deliverer: Deliverer, *, window: float = WINDOW, most: int = MOST) -> None:
        self._deliverer = deliverer
        self._window = window
        self._most = most
        self._open: dict[tuple[Any, ...], list[_Pending]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def deliver(self, batch: DeliveryBatch, *, attempt: int) -> list[DeliveryResult]:
        """`batch`'s results, in its recipients' order; raises `transient` when the provider
        left any of them for a later attempt (`attempt`: the step's, as deliver_all's)."""
        final = last_attempt(attempt)
        shape = (
            batch.app_id,
            batch.channel,
            batch.source,
            batch.source_id,
            batch.max_attempts,
            final,
            tuple(sorted(batch.attributes.items())),
        )
        keys = [r.key for r in batch.recipients]
        groups = self._open.setdefault(shape, [])
        pending = next(
            (p for p in groups if p.batch.content == batch.content and p.keys.isdisjoint(keys)),
            None,
        )
        if pending is None:
            pending = _Pending(replace(batch, recipients=[]), final)
            groups.append(pending)
            asyncio.get_running_loop().call_later(self._window, self._flush, shape, pending)
        pending.batch.recipients.extend(batch.recipients)
        pending.keys.update(keys)
        future: asyncio.Future[list[DeliveryResult]] = asyncio.get_running_loop().create_future()
        pending.waiting.append((keys, future))
        if len(pending.batch.recipients) >= self._most:
            self._flush(shape, pending)
        return await future

    def _flush(self, shape: tuple[Any, ...], pending: _Pending) -> None:
        groups = self._open.get(shape) or []
        if pending not in groups:
            return  # already sent (it filled up before its window ended)
        groups.remove(pending)
        if not groups:
            self._open.pop(shape, None)
        task = asyncio.create_task(self._send(pending))
        self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
        task.add_done_callback(self._tasks.discard)

    async def _send(self, pending: _Pending) -> None:
        try:
            done, failed = await self._deliverer.deliver(pending.batch, last_attempt=pending.final)
        except BaseException as e:  # noqa: BLE001 - every step in the batch fails with it, and retries
            for _, future in pending.waiting:
                if not future.done():
                    future.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        by_key = {r.key: r for r in done}
        messages = [e.message for e in failed]
        for keys, future in pending.waiting:
            if future.done():
                continue
            if all(k in by_key for k in keys):
                future.set_result([by_key[k] for k in keys])
            else:
                future.set_exception(transient(messages, len(keys)))
