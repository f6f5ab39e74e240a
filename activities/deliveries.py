"""The direct-send activity: one batch of a SendMessages / SendUsersMessages / OTP request
through the one delivery path (channels/deliverer.py)."""

from __future__ import annotations

from temporalio import activity

from channels.deliverer import Deliverer
from workflows.direct_send import DELIVER_BATCH
from workflows.policy import transient
from workflows.shared import DeliveryBatch, DeliveryResult


class DeliveryActivities:
    def __init__(self, deliverer: Deliverer) -> None:
        self._deliverer = deliverer

    @activity.defn(name=DELIVER_BATCH)
    async def deliver_batch(self, batch: DeliveryBatch) -> list[DeliveryResult]:
        """Transient failures are retried by Temporal until the batch's last attempt, which
        records them as TEMPORARY_FAILURE."""
        last = activity.info().attempt >= batch.max_attempts
        results, transient_errors = await self._deliverer.deliver(batch, last_attempt=last)
        if transient_errors:
            raise transient([e.message for e in transient_errors], len(batch.recipients))
        return results
