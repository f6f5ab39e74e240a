"""Access keys at rest: a key's secret encrypted by the vault (bound to its id), the project ids
it may touch; and the gateway's lookup for SigV4 verification."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from openpoint.keys import PURPOSE, Principal, dev_key_pair
from openpoint.settings import Settings
from openpoint.ttl import TTLCache
from openpoint.vault import Vault, vault_from
from store.db import make_engine
from store.tables import AccessKey


async def store_key(
    engine: AsyncEngine,
    vault: Vault,
    key_id: str,
    secret: str,
    *,
    description: str = "",
    project_ids: list[str] | None = None,
) -> None:
    row = {
        "access_key_id": key_id,
        "secret_ciphertext": vault.encrypt(secret.encode(), purpose=PURPOSE + key_id),
        "description": description,
        "project_ids": project_ids,
        "active": True,
    }
    stmt = insert(AccessKey.__table__).values(row)  # type: ignore[attr-defined]
    stmt = stmt.on_conflict_do_update(index_elements=["access_key_id"], set_=row)
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def ensure_dev_key(database_url: str, settings: Settings) -> tuple[str, str]:
    vault = vault_from(settings)
    key_id, secret = dev_key_pair(settings, vault)
    engine = make_engine(database_url, pool_size=1)
    try:
        await store_key(engine, vault, key_id, secret, description="development key")
    finally:
        await engine.dispose()
    return key_id, secret


class KeyStore:
    """Secrets by access key id, decrypted on demand and cached briefly so that a revoked key
    stops working within `ttl` seconds on every gateway replica."""

    def __init__(self, engine: AsyncEngine, vault: Vault, ttl: float = 30.0) -> None:
        self._engine = engine
        self._vault = vault
        self._cache: TTLCache[str, tuple[str, Principal] | None] = TTLCache(ttl, max_entries=10_000)
        self._lock = asyncio.Lock()

    async def lookup(self, key_id: str) -> tuple[str, Principal] | None:
        return await self._cache.get_or_load(key_id, lambda: self._read(key_id))

    async def _read(self, key_id: str) -> tuple[str, Principal] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT secret_ciphertext, project_ids FROM access_keys WHERE access_key_id = :k AND active"),
                    {"k": key_id},
                )
            ).first()
        value: tuple[str, Principal] | None = None
        if row is not None:
            secret = self._vault.decrypt(row[0], purpose=PURPOSE + key_id).decode()
            scope = frozenset(row[1]) if row[1] is not None else None
            value = (secret, Principal(key_id, scope))
        return value
