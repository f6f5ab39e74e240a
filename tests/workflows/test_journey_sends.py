"""Journey messages of participants stepping together go to the Deliverer as one batch, and
each step gets its own recipients' results or its own error (journeys/sends.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from temporalio.exceptions import ApplicationError

from channels.deliverer import Deliverer, TransientDeliveryError
from journeys.sends import Coalescer
from workflows.shared import DeliveryBatch, DeliveryResult, Recipient


class FakeDeliverer:
    """Answers every recipient SUCCESSFUL but those whose key is in `later` (left PENDING)."""

    def __init__(self, later: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[str]] = []
        self.later = later

    async def deliver(
        self, batch: DeliveryBatch, *, last_attempt: bool
    ) -> tuple[list[DeliveryResult], list[TransientDeliveryError]]:
        keys = [r.key for r in batch.recipients]
        assert len(set(keys)) == len(keys), "a batch claims a key once"
        self.calls.append(keys)
        done = [
            DeliveryResult(r.key, r.address, r.endpoint_id, "SUCCESSFUL", 200, "ok")
            for r in batch.recipients
            if r.key not in self.later
        ]
        failed = [TransientDeliveryError("busy", 429) for r in batch.recipients if r.key in self.later]
        return done, failed


def batch(*keys: str, content: dict[str, Any] | None = None) -> DeliveryBatch:
    return DeliveryBatch(
        app_id="app",
        channel="CUSTOM",
        source="journey",
        source_id="j",
        content=content or {"CustomMessage": {"Data": "hi"}},
        recipients=[Recipient(k, f"https://sink/{k}", k) for k in keys],
        attributes={"journey_activity_id": "send1"},
    )


def coalescer(fake: FakeDeliverer) -> Coalescer:
    return Coalescer(cast(Deliverer, fake), window=0.01)


async def test_steps_sending_together_make_one_batch_and_each_gets_its_results() -> None:
    fake = FakeDeliverer()
    sends = coalescer(fake)
    answers = await asyncio.gather(*(sends.deliver(batch(f"k{i}"), attempt=1) for i in range(5)))
    assert fake.calls == [["k0", "k1", "k2", "k3", "k4"]]
    assert [[r.key for r in a] for a in answers] == [[f"k{i}"] for i in range(5)]


async def test_a_recipient_left_for_later_fails_only_its_own_step() -> None:
    fake = FakeDeliverer(later=frozenset({"k1"}))
    sends = coalescer(fake)
    answers = await asyncio.gather(
        *(sends.deliver(batch(f"k{i}"), attempt=1) for i in range(3)), return_exceptions=True
    )
    assert isinstance(answers[1], ApplicationError)
    assert [r.key for r in cast(list[DeliveryResult], answers[0])] == ["k0"]
    assert [r.key for r in cast(list[DeliveryResult], answers[2])] == ["k2"]


async def test_the_same_key_twice_and_other_content_go_in_batches_of_their_own() -> None:
    fake = FakeDeliverer()
    sends = coalescer(fake)
    await asyncio.gather(
        sends.deliver(batch("k0"), attempt=1),
        sends.deliver(batch("k0"), attempt=1),
        sends.deliver(batch("k1", content={"CustomMessage": {"Data": "other"}}), attempt=1),
    )
    assert sorted(fake.calls) == [["k0"], ["k0"], ["k1"]]


async def test_a_full_batch_goes_at_once() -> None:
    fake = FakeDeliverer()
    sends = Coalescer(cast(Deliverer, fake), window=60, most=2)
    await asyncio.wait_for(
        asyncio.gather(sends.deliver(batch("a"), attempt=1), sends.deliver(batch("b"), attempt=1)), 5
    )
    assert fake.calls == [["a", "b"]]


async def test_an_error_of_the_call_fails_every_step_in_it() -> None:
    class Broken(FakeDeliverer):
        async def deliver(self, batch: DeliveryBatch, *, last_attempt: bool) -> Any:
            raise ConnectionError("database gone")

    sends = coalescer(Broken())
    answers = await asyncio.gather(*(sends.deliver(batch(k), attempt=1) for k in "ab"), return_exceptions=True)
    assert all(isinstance(a, ConnectionError) for a in answers)
