"""Engine and session factory. Nothing is created at import time: the app lifespan, the worker
and the tests each build their own engine from a DSN.

Every engine is bounded against an unavailable PostgreSQL (stopped, restarting, or hung and not
answering): connecting, waiting for a pooled connection and a statement each have a deadline,
`store.liveness` cuts loose the connections of a server that stopped answering, and every such
failure surfaces as one typed error, `DatabaseUnavailable`, which the gateway answers as a
retryable Pinpoint error. The pool reconnects by itself once the server is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from openpoint.errors import DatabaseUnavailable
from openpoint.settings import Settings
from store.liveness import Watchdog


def async_dsn(url: str) -> str:
    """`postgresql://...` as users write it, with the asyncpg driver SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}:")


def plain_dsn(url: str) -> str:
    """The libpq form (for asyncpg.connect and psql)."""
    return "postgresql://" + async_dsn(url)[len("postgresql+asyncpg://") :]


@dataclass(frozen=True)
class DbTimeouts:
    """Deadlines against an unavailable server, in seconds. The defaults suit processes that may
    wait (the worker, whose activities Temporal retries, and the CLI); the gateway answers its
    callers quickly instead, from `for_gateway`."""

    connect: float = 5.0  # TCP connect and PostgreSQL's startup exchange
    pool: float = 30.0  # waiting for a pooled connection when all are in use
    statement: float | None = None  # any one statement (asyncpg's command_timeout); None: no limit
    stall: float = 0.5  # a connection held this long makes the watchdog check the server answers
    probe: float = 1.0  # how long that check waits for an answer

    @classmethod
    def for_gateway(cls, settings: Settings) -> DbTimeouts:
        return cls(
            connect=settings.db_connect_timeout_seconds,
            pool=settings.db_pool_timeout_seconds,
            statement=settings.db_statement_timeout_seconds or None,
            stall=settings.db_stall_seconds,
            probe=settings.db_probe_timeout_seconds,
        )


# SQLSTATEs of a server that is going away or cannot take the connection now: admin or crash
# shutdown, starting up, too many connections, and class 08 (connection exceptions).
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the server could not be reached or did not answer in time, as opposed
    to an error in what was asked (which must not be retried as if it were an outage)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DatabaseUnavailable | sa_exc.TimeoutError):  # pool checkout timed out
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, asyncpg.PostgresError):  # also ConnectionDoesNotExistError (08003)
            state = getattr(e, "sqlstate", "") or ""
            return state in _UNAVAILABLE_STATES or state.startswith("08")
        if isinstance(e, OSError | TimeoutError):  # refused, reset, unreachable; connect/statement deadline
            return True
        e = e.__cause__ or e.__context__
    return False


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, looked for along SQLAlchemy's wrapping (`orig`) and the
    cause chain; None when there is none."""
    seen: BaseException | None = error
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection whose graceful close cannot hang: closing waits for the server to
    acknowledge, which a hung server never does, and SQLAlchemy closes connections inline when it
    recycles them, in the middle of a request."""

    CLOSE_TIMEOUT = 0.5

    async def close(self, *, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(super().close(timeout=timeout), self.CLOSE_TIMEOUT)
        except TimeoutError:
            self.terminate()


def make_engine(url: str, *, pool_size: int = 10, timeouts: DbTimeouts | None = None) -> AsyncEngine:
    t = timeouts or DbTimeouts()
    dsn = plain_dsn(url)

    async def connect() -> asyncpg.Connection:
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                dsn, timeout=t.connect, command_timeout=t.statement, connection_class=_Connection
            )
        except (OSError, TimeoutError) as e:
            raise DatabaseUnavailable() from e
        return conn

    engine = create_async_engine(
        async_dsn(url),
        async_creator=connect,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_timeout=t.pool,
        json_serializer=lambda o: orjson.dumps(o).decode(),
        json_deserializer=orjson.loads,
    )
    Watchdog(dsn, stall=t.stall, probe=t.probe).install(engine.sync_engine.pool)
    event.listen(engine.sync_engine, "handle_error", _unavailable)
    return engine


def _unavailable(ctx: ExceptionContext) -> Any:
    """One typed error for every way of not reaching the server; the connection it happened on is
    discarded with the whole pool, whose connections are as dead as it is."""
    if not is_unavailable(ctx.original_exception):
        return None
    if ctx.connection is not None:
        ctx.is_disconnect = True
    raise DatabaseUnavailable() from ctx.original_exception


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One Core transaction: committed on success, rolled back on any error."""
    async with engine.begin() as conn:
        yield conn
