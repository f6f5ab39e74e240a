"""The one retry and error policy that workflows and activities share.

A send activity meets two kinds of trouble. A provider that may accept later (SMTP 4xx, HTTP
429/5xx, a throttled Lambda) is *transient*: the activity records what it could, raises
`transient()` and Temporal retries it with backoff — until its attempt `LAST_SEND_ATTEMPT`,
which records what is still transient as TEMPORARY_FAILURE and completes instead of raising.
Anything else (PostgreSQL away, a worker killed) is retried without limit by the workflow's
policy: an outage must lose nothing, so no policy here gives up on its own.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

LAST_SEND_ATTEMPT = 5  # the attempt at which a send activity stops raising transient errors
TRANSIENT = "TransientDeliveryError"  # the ApplicationError type of provider trouble worth a retry

# Activities that read and write the database and send: quick backoff, no attempt limit.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
QUICK = timedelta(seconds=30)  # start-to-close of the short bookkeeping activities


SENDS_QUEUE_SUFFIX = "-sends"
SENDS_QUEUE_PATCH = "sends-on-their-own-queue"


def sends_queue(task_queue: str) -> str:
    """The task queue of a workflow's send activities (a campaign's pages, a direct send's
    batches): its own queue's name + "-sends", which `openpoint worker` polls beside the
    workflows' queue, or on its own (OPENPOINT_WORKER_QUEUES=sends) to scale sends apart."""
    return task_queue + SENDS_QUEUE_SUFFIX


def send_task_queue() -> str | None:
    """Inside a workflow: where its send activities go. A workflow that scheduled its sends on
    its own queue before the split keeps doing so when its history replays (None: its queue)."""
    if workflow.patched(SENDS_QUEUE_PATCH):
        return sends_queue(workflow.info().task_queue)
    return None


def last_attempt(attempt: int) -> bool:
    """Whether a send activity's `attempt` (activity.info().attempt) is its last for transient
    provider trouble: it then records TEMPORARY_FAILURE rather than raising."""
    return attempt >= LAST_SEND_ATTEMPT


def transient(messages: list[str], total: int | None = None) -> ApplicationError:
    """The error a send activity raises when `messages` (one per message left for a later
    attempt) hit transient provider trouble; `total`: the batch's size, for the log."""
    of = f" of {total}" if total is not None else ""
    first = messages[0] if messages else ""
    return ApplicationError(f"{len(messages)}{of} messages hit a transient provider error: {first}", type=TRANSIENT)
