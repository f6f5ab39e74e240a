"""A project's stream is streamed by one worker at a time (store/event_streams.claim)."""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store import event_streams as store


async def test_one_claim_at_a_time(engine: AsyncEngine) -> None:
    app_id = secrets.token_hex(16)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO apps (id, name) VALUES (:a, 'streams')"), {"a": app_id})
        await store.put(
            conn,
            app_id=app_id,
            destination="arn:aws:kinesis:us-east-1:123456789012:stream/s",
            role_arn="",
            updated_by="t",
        )
    async with engine.connect() as first, engine.connect() as second:
        async with first.begin():
            assert (await store.claim(first, app_id)) is not None
            async with second.begin():
                assert await store.claim(second, app_id) is None  # the first holds it
        async with second.begin():
            assert (await store.claim(second, app_id)) is not None  # released with the transaction
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM apps WHERE id = :a"), {"a": app_id})
