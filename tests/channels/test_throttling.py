"""A provider answering 429 gets the activity's retry backoff, not a storm: the rest of a batch is
not offered to it, a campaign's lanes take no more batches, and pacing heartbeats while it
waits. Real PostgreSQL, a provider that counts what it is offered."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from channels.deliverer import Deliverer, Outcome, Send, TransientDeliveryError
from openpoint.vault import Vault
from sending import fanout
from sending.fanout import Lanes, pace
from store.channels import ChannelConfig
from workflows.shared import DeliveryBatch, DeliveryResult, Recipient

VAULT = Vault(secrets.token_bytes(32))


class ThrottlingProvider:
    """Answers 429 from the `after`-th message on (counted over its life); idempotent like the
    webhook channel, so a batch is one window."""

    channel = "CUSTOM"
    idempotent = True

    def __init__(self, after: int = 0) -> None:
        self.offered: list[str] = []
        self.after = after

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        async def send(r: Recipient) -> Outcome:
            self.offered.append(r.address)
            if len(self.offered) > self.after:
                raise TransientDeliveryError("Too many requests", 429)
            return Outcome("SUCCESSFUL", 200, "ok", r.key)

        yield send


def batch(count: int, *, max_attempts: int = 3) -> DeliveryBatch:
    run = secrets.token_hex(4)
    return DeliveryBatch(
        app_id="a" * 32,
        channel="CUSTOM",
        source="campaign",
        source_id=run,
        content={},
        recipients=[Recipient(key=f"wf-{run}/0/{i}", address=f"r{i}") for i in range(count)],
        max_attempts=max_attempts,
    )


async def test_after_a_429_the_rest_of_the_batch_waits_for_the_retry(engine: Any) -> None:
    provider = ThrottlingProvider(after=2)
    deliverer = Deliverer(engine, VAULT, {"CUSTOM": provider})
    b = batch(20, max_attempts=2)
    with pytest.raises(ApplicationError) as exc:
        await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, b)
    assert exc.value.type == "TransientDeliveryError"
    assert provider.offered == ["r0", "r1", "r2"]  # two accepted, one 429, then nothing more

    # The retry offers what is left, the first refusal stops it again; on the last attempt the
    # unsent are recorded TEMPORARY_FAILURE, the two accepted stay SUCCESSFUL and are not resent.
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=2)
    results = await env.run(DeliveryActivities(deliverer).deliver_batch, b)
    assert provider.offered == ["r0", "r1", "r2", "r2"]
    assert [r.delivery_status for r in results] == ["SUCCESSFUL"] * 2 + ["TEMPORARY_FAILURE"] * 18


async def test_other_transient_errors_do_not_stop_the_batch(engine: Any) -> None:
    class Flaky(ThrottlingProvider):
        @asynccontextmanager
        async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
            async def send(r: Recipient) -> Outcome:
                self.offered.append(r.address)
                if r.address == "r1":
                    raise TransientDeliveryError("The webhook did not answer in time.", 504)
                return Outcome("SUCCESSFUL", 200, "ok", r.key)

            yield send

    provider = Flaky()
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(
            DeliveryActivities(Deliverer(engine, VAULT, {"CUSTOM": provider})).deliver_batch, batch(4)
        )
    assert provider.offered == ["r0", "r1", "r2", "r3"]


async def test_throttled_lanes_take_no_more_batches(engine: Any) -> None:
    provider = ThrottlingProvider(after=3)
    deliverer = Deliverer(engine, VAULT, {"CUSTOM": provider})
    results: list[DeliveryResult] = []

    async def run() -> bool:
        lanes = Lanes(deliverer, attempt=1, lanes=1)
        for _ in range(5):
            await lanes.put(batch(2), results.extend)
        throttled = lanes.throttled
        await lanes.drain()
        return throttled

    with pytest.raises(ApplicationError) as exc:
        await ActivityEnvironment().run(run)
    assert exc.value.type == "TransientDeliveryError"
    # Batch 1 went out, batch 2 met the 429 on its second message; batches 3 to 5 were refused
    # without reaching the provider.
    assert provider.offered == ["r0", "r1", "r0", "r1"]
    assert [r.delivery_status for r in results] == ["SUCCESSFUL"] * 3


async def test_lanes_deliver_every_batch_and_keep_their_results(engine: Any) -> None:
    provider = ThrottlingProvider(after=1000)
    deliverer = Deliverer(engine, VAULT, {"CUSTOM": provider})
    results: list[DeliveryResult] = []

    async def run() -> None:
        lanes = Lanes(deliverer, attempt=1, lanes=3)
        for _ in range(7):
            await lanes.put(batch(5), results.extend)
        await lanes.drain()

    await ActivityEnvironment().run(run)
    assert len(provider.offered) == 35 and len(results) == 35
    assert {r.delivery_status for r in results} == {"SUCCESSFUL"}


async def test_pacing_heartbeats_while_it_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "PACE_BEAT_SECONDS", 0.05)
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    started = time.monotonic()
    await env.run(pace, 3, 10, started)  # 3 messages at 10 a second: 0.3 s at least
    assert time.monotonic() - started >= 0.3
    assert beats  # an activity held by a slow MessagesPerSecond does not miss its heartbeat timeout
