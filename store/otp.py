"""One-time passwords: one row per (project, reference, destination) holding the code's hash, when
it expires and how many verification attempts are left. Times are the database's, so gateways
with drifting clocks agree on expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rules.otp import same_hash
from store.tables import OtpCode

codes: Any = OtpCode.__table__  # type: ignore[attr-defined]


def _key(app_id: str, reference_id: str, destination: str) -> Any:
    return (codes.c.app_id == app_id) & (codes.c.reference_id == reference_id) & (codes.c.destination == destination)


async def replace(
    conn: AsyncConnection,
    *,
    app_id: str,
    reference_id: str,
    destination: str,
    code_hash: bytes,
    validity_minutes: int,
    attempts: int,
) -> None:
    """Store a new code; an earlier one for the same reference and destination stops working."""
    values = {
        "code_hash": code_hash,
        "expires_at": func.now() + timedelta(minutes=validity_minutes),
        "attempts_left": attempts,
        "created_at": func.now(),
    }
    stmt = insert(codes).values(app_id=app_id, reference_id=reference_id, destination=destination, **values)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["app_id", "reference_id", "destination"], set_=values)
    )
    # Codes nobody verified would otherwise stay forever; the primary key makes this a range scan.
    await conn.execute(delete(codes).where((codes.c.app_id == app_id) & (codes.c.expires_at < func.now())))


async def verify(conn: AsyncConnection, *, app_id: str, reference_id: str, destination: str, candidate: bytes) -> bool:
    """Whether `candidate` is the hash of the live code. A match consumes the code; a miss spends
    an attempt, and the last one removes the code. The row is locked, so concurrent guesses
    are counted one after another and cannot exceed the allowance."""
    key = _key(app_id, reference_id, destination)
    stmt = select(codes.c.code_hash, codes.c.attempts_left, (codes.c.expires_at > func.now()).label("live"))
    row = (await conn.execute(stmt.where(key).with_for_update())).mappings().first()
    if row is None:
        return False
    if row["live"] and row["attempts_left"] > 0 and same_hash(row["code_hash"], candidate):
        await conn.execute(delete(codes).where(key))
        return True
    if not row["live"] or row["attempts_left"] <= 1:
        await conn.execute(delete(codes).where(key))
    else:
        await conn.execute(update(codes).where(key).values(attempts_left=codes.c.attempts_left - 1))
    return False
