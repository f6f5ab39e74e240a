"""The asyncpg connection under a SQLAlchemy one, for the ingest hot path.

PutEvents writes hundreds of rows per request; SQLAlchemy compiles a multi-row VALUES statement
afresh for every batch size, while one prepared `unnest` statement or a binary COPY costs
nothing to plan. Both run inside the caller's transaction. The dialect's JSONB codec stays in
force: JSONB parameters are JSON text, JSONB results come back decoded.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection


async def driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection, inside the caller's transaction. SQLAlchemy's asyncpg adapter sends
    BEGIN lazily, with its first statement: a COPY or a prepared statement sent straight to the
    driver before any SQLAlchemy statement would run outside the transaction (autocommitted, and
    an advisory xact lock released at once). So the transaction is begun here when it has not
    been yet."""
    raw = await conn.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if conn.in_transaction() and getattr(adapter, "_transaction", False) is None:
        await adapter._start_transaction()  # the adapter's own BEGIN (isolation, read-only as set)
    return raw.driver_connection


def jsonb(value: Any) -> str:
    return orjson.dumps(value).decode()


def columns_of(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[list[Any]]:
    """Column-wise arrays for `unnest($1::text[], $2::jsonb[], ...)`."""
    out: list[list[Any]] = []
    for name, sql_type in columns:
        if sql_type == "jsonb":
            out.append([jsonb(r[name]) for r in rows])
        else:
            out.append([r[name] for r in rows])
    return out


def unnest_insert(table: str, columns: list[tuple[str, str]]) -> str:
    names = ", ".join(n for n, _ in columns)
    arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(columns, start=1))
    return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
