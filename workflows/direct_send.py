"""SendMessages / SendUsersMessages: deliver prepared batches now and report per recipient."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.policy import send_task_queue

with workflow.unsafe.imports_passed_through():
    from workflows.shared import DeliveryBatch, DeliveryResult, DirectSendInput, DirectSendOutput

DELIVER_BATCH = "deliver_batch"


def delivery_retry(batch: DeliveryBatch) -> RetryPolicy:
    # Transient provider errors retry with backoff; permanent ones are recorded by the activity
    # and never raised, so only transient trouble reaches this policy.
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=batch.max_attempts,
    )


@workflow.defn
class DirectSendWorkflow:
    """Runs one direct-send request: one activity per batch of recipients, in parallel."""

    @workflow.run
    async def run(self, request: DirectSendInput) -> DirectSendOutput:
        queue = send_task_queue()
        outcomes = await asyncio.gather(
            *(
                workflow.execute_activity(
                    DELIVER_BATCH,
                    batch,
                    task_queue=queue,
                    result_type=list[DeliveryResult],
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=delivery_retry(batch),
                )
                for batch in request.batches
            )
        )
        return DirectSendOutput(results=[r for batch in outcomes for r in batch])
