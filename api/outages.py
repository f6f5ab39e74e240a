"""What the gateway answers when PostgreSQL or Temporal cannot be reached: the retryable
`Unavailable` errors of openpoint.errors, never a 500 that reads like a bug.

PostgreSQL failures arrive typed (store.db raises DatabaseUnavailable); Temporal's arrive as
gRPC statuses, a failed connect, or, for a workflow the gateway waits on, as the failure of an
activity that could not reach the database. `outage_of` reads them all; the exception handler of
api.main and the places that start or signal workflows use it.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from engine.outages import unreachable
from openpoint.errors import DatabaseUnavailable, EngineUnavailable, InternalServerError, PinpointError, Unavailable
from store.db import is_unavailable


def outage_of(error: BaseException) -> Unavailable | None:
    """The error to answer when `error` means a dependency is unavailable, else None."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, Unavailable):
            return e
        if isinstance(e, RPCError):
            return EngineUnavailable() if unreachable(e) else None
        if isinstance(e, SQLAlchemyError | asyncpg.PostgresError | asyncpg.InterfaceError):
            return DatabaseUnavailable() if is_unavailable(e) else None
        if isinstance(e, ApplicationError) and e.type == DatabaseUnavailable.__name__:
            return DatabaseUnavailable()  # an activity of a workflow the request waited on
        # Temporal's failures (workflow -> activity -> application error) chain as __cause__.
        e = e.__cause__
    return None


def engine_error(error: BaseException, what: str) -> PinpointError:
    """For the places that start, signal or wait on workflows: the retryable error when Temporal
    (or the database behind a workflow) was unavailable, else a 500 saying what failed."""
    return outage_of(error) or InternalServerError(f"{what}: {error}")
