"""The delivery log: one row per idempotency key, written before the provider is called."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import Delivery

deliveries = Delivery.__table__  # type: ignore[attr-defined]

PENDING = "PENDING"
SENDING = "SENDING"  # handed to the provider; if a worker dies now the outcome is unknown


async def claim(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Insert the rows not yet logged, then return every row by key (new or from an earlier try)."""
    if rows:
        await conn.execute(insert(deliveries).values(list(rows)).on_conflict_do_nothing())
    keys = [r["idempotency_key"] for r in rows]
    found = await conn.execute(select(deliveries).where(deliveries.c.idempotency_key.in_(keys)))
    return {r["idempotency_key"]: dict(r) for r in found.mappings()}


async def set_status(conn: AsyncConnection, key: str, status: str, **values: Any) -> None:
    attempts = deliveries.c.attempts + 1 if status == SENDING else deliveries.c.attempts
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.idempotency_key == key)
        .values(status=status, attempts=attempts, updated_at=func.now(), **values)
    )
