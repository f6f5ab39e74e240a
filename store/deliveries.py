"""The delivery log: one row per idempotency key, written before the provider is called."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import columns_of, driver, unnest_insert
from store.tables import Delivery

deliveries = Delivery.__table__  # type: ignore[attr-defined]

PENDING = "PENDING"
SENDING = "SENDING"  # handed to the provider; if a worker dies now the outcome is unknown


_CLAIM_COLUMNS = [
    ("idempotency_key", "text"),
    ("app_id", "text"),
    ("channel", "text"),
    ("address", "text"),
    ("endpoint_id", "text"),
    ("source", "text"),
    ("source_id", "text"),
    ("context", "jsonb"),
]
# The rows not yet logged are inserted; every row comes back, new (from the insert) or from an
# earlier try (the table as the statement began: it cannot see the insert's rows). One statement
# for a whole batch: a campaign page claims thousands, a journey step one at a time.
_CLAIM = f"""
WITH new AS (
    {unnest_insert("deliveries", _CLAIM_COLUMNS)}
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
)
SELECT * FROM new
UNION ALL
SELECT * FROM deliveries
WHERE idempotency_key = ANY($1::text[]) AND idempotency_key NOT IN (SELECT idempotency_key FROM new)
"""


_NAMES = ", ".join(n for n, _ in _CLAIM_COLUMNS)
_ARRAYS = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(_CLAIM_COLUMNS, start=1))
# The same, the new rows written SENDING (attempts 1) straight away, each row telling whether
# this statement wrote it (`fresh`): for a provider that drops repeated keys, which may send
# whatever it finds PENDING or SENDING, so that marking them SENDING after is one UPDATE per
# message for nothing.
_CLAIM_SENDING = f"""
WITH new AS (
    INSERT INTO deliveries ({_NAMES}, status, attempts)
    SELECT u.*, '{SENDING}', 1 FROM unnest({_ARRAYS}) AS u
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
)
SELECT *, true AS fresh FROM new
UNION ALL
SELECT *, false AS fresh FROM deliveries
WHERE idempotency_key = ANY($1::text[]) AND idempotency_key NOT IN (SELECT idempotency_key FROM new)
"""


async def claim(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], *, sending: bool = False
) -> dict[str, dict[str, Any]]:
    """Insert the rows not yet logged, then return every row by key (new or from an earlier try).
    `sending`: new rows are written SENDING, as handed over, and marked `fresh`."""
    if not rows:
        return {}
    found = await (await driver(conn)).fetch(
        _CLAIM_SENDING if sending else _CLAIM, *columns_of(list(rows), _CLAIM_COLUMNS)
    )
    return {r["idempotency_key"]: dict(r) for r in found}


async def set_status(conn: AsyncConnection, key: str, status: str, **values: Any) -> None:
    attempts = deliveries.c.attempts + 1 if status == SENDING else deliveries.c.attempts
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.idempotency_key == key)
        .values(status=status, attempts=attempts, updated_at=func.now(), **values)
    )


# A compare-and-set: only rows still in one of the given states move to SENDING. Two workers
# that hold the same key at once (a trigger handed over twice, a retried activity racing the
# attempt it replaced) cannot both send: the second UPDATE waits for the first to commit, then
# finds the row SENDING and leaves it.
_MARK = (
    "UPDATE deliveries SET status = $2, attempts = attempts + 1, updated_at = now()"
    " WHERE idempotency_key = ANY($1::text[]) AND status = ANY($3::text[]) RETURNING idempotency_key"
)
_RECORD = (
    "UPDATE deliveries d SET status = u.status, status_code = u.code, status_message = u.message,"
    " message_id = u.message_id, updated_at = now()"
    " FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[])"
    " AS u(key, status, code, message, message_id) WHERE d.idempotency_key = u.key"
)


async def mark_sending(conn: AsyncConnection, keys: Sequence[str], *, resend: bool = False) -> set[str]:
    """One statement for a window of messages about to be handed over; the keys this caller may
    send (PENDING ones, and with `resend` those a dead worker left SENDING too)."""
    allowed = [PENDING, SENDING] if resend else [PENDING]
    rows = await (await driver(conn)).fetch(_MARK, list(keys), SENDING, allowed)
    return {r["idempotency_key"] for r in rows}


async def record_many(
    conn: AsyncConnection, outcomes: Sequence[tuple[str, str, int | None, str | None, str | None]]
) -> None:
    """(key, status, code, message, message id) for many messages in one statement."""
    if outcomes:
        await (await driver(conn)).execute(_RECORD, *(list(column) for column in zip(*outcomes, strict=True)))
