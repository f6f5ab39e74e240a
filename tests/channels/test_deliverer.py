"""The delivery log makes sends exactly-once in effect: a retried or restarted activity never
hands a message to the provider twice. Real PostgreSQL, a counting provider."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from channels.deliverer import Deliverer, Outcome, Send, TransientDeliveryError
from openpoint.vault import Vault
from store.channels import ChannelConfig
from workflows.shared import DeliveryBatch, Recipient

VAULT = Vault(secrets.token_bytes(32))


class CountingProvider:
    channel = "EMAIL"

    def __init__(self, transient: set[str] | None = None) -> None:
        self.sent: list[str] = []
        self.transient = transient or set()

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        async def send(r: Recipient) -> Outcome:
            if r.address in self.transient:
                raise TransientDeliveryError("busy", 503)
            self.sent.append(r.address)
            return Outcome("SUCCESSFUL", 200, "ok", f"id-{r.address}")

        yield send


def batch(*addresses: str, max_attempts: int = 3) -> DeliveryBatch:
    run = secrets.token_hex(4)
    return DeliveryBatch(
        app_id="a" * 32,
        channel="EMAIL",
        source="direct",
        source_id=run,
        content={},
        recipients=[Recipient(key=f"wf-{run}/0/{a}", address=a) for a in addresses],
        max_attempts=max_attempts,
    )


async def test_a_retried_batch_does_not_resend(engine: Any) -> None:
    provider = CountingProvider()
    deliverer = Deliverer(engine, VAULT, {"EMAIL": provider})
    b = batch("a@x.com", "b@x.com")
    first = await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, b)
    again = await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, b)
    assert provider.sent == ["a@x.com", "b@x.com"]
    assert [r.delivery_status for r in again] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert [r.message_id for r in again] == [r.message_id for r in first]


async def test_a_message_caught_mid_send_by_a_crash_is_not_sent_again(engine: Any) -> None:
    provider = CountingProvider()
    deliverer = Deliverer(engine, VAULT, {"EMAIL": provider})
    b = batch("crash@x.com", "next@x.com")
    async with engine.begin() as conn:  # what a worker killed during the provider call leaves behind
        from sqlalchemy import text

        await conn.execute(
            text(
                "INSERT INTO deliveries (idempotency_key, app_id, channel, address, status, attempts)"
                " VALUES (:k, :a, 'EMAIL', 'crash@x.com', 'SENDING', 1)"
            ),
            {"k": b.recipients[0].key, "a": b.app_id},
        )
    results = await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, b)
    assert provider.sent == ["next@x.com"]
    assert results[0].delivery_status == "UNKNOWN_FAILURE" and results[1].delivery_status == "SUCCESSFUL"


async def test_transient_failures_raise_until_the_last_attempt(engine: Any) -> None:
    provider = CountingProvider(transient={"busy@x.com"})
    deliverer = Deliverer(engine, VAULT, {"EMAIL": provider})
    b = batch("busy@x.com", "ok@x.com", max_attempts=2)
    with pytest.raises(ApplicationError) as exc:
        await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, b)
    assert exc.value.type == "TransientDeliveryError" and not exc.value.non_retryable
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=2)
    results = await env.run(DeliveryActivities(deliverer).deliver_batch, b)
    assert [r.delivery_status for r in results] == ["TEMPORARY_FAILURE", "SUCCESSFUL"]
    assert provider.sent == ["ok@x.com"]


async def test_a_channel_without_provider_fails_permanently(engine: Any) -> None:
    deliverer = Deliverer(engine, VAULT, {})
    results = await ActivityEnvironment().run(DeliveryActivities(deliverer).deliver_batch, batch("p@x.com"))
    assert results[0].delivery_status == "PERMANENT_FAILURE" and results[0].status_code == 400
