"""What Temporal's errors mean to the code that calls it: one rule for the gateway (answer a
retryable 503) and the worker's dispatcher (keep the outbox row and try again)."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

# Temporal could not be reached, did not answer in time, or is shedding load. Other statuses
# (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT...) describe the request and are not retried.
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED})


def unreachable(error: RPCError) -> bool:
    return error.status in UNREACHABLE
