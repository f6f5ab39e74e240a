"""Engine and session factory. Nothing is created at import time: the app lifespan, the worker
and the tests each build their own engine from a DSN."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def async_dsn(url: str) -> str:
    """`postgresql://...` as users write it, with the asyncpg driver SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}:")


def plain_dsn(url: str) -> str:
    """The libpq form (for asyncpg.connect and psql)."""
    return "postgresql://" + async_dsn(url)[len("postgresql+asyncpg://") :]


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_dsn(url),
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        json_serializer=lambda o: orjson.dumps(o).decode(),
        json_deserializer=orjson.loads,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One Core transaction: committed on success, rolled back on any error."""
    async with engine.begin() as conn:
        yield conn
