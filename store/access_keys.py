"""Access keys at rest: a key's secret encrypted by the vault (bound to its id), the project ids
it may touch; creating, listing and revoking them (`openpoint keys ...` and the console's Access
keys page call these same functions); and the gateway's lookup for SigV4 verification."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from openpoint.keys import PURPOSE, Principal, dev_key_pair, new_key_pair
from openpoint.settings import Settings
from openpoint.ttl import TTLCache
from openpoint.vault import Vault, vault_from
from store.db import make_engine
from store.tables import AccessKey

access_keys = AccessKey.__table__  # type: ignore[attr-defined]


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
    stmt = insert(access_keys).values(row)
    stmt = stmt.on_conflict_do_update(index_elements=["access_key_id"], set_=row)
    async with engine.begin() as conn:
        await conn.execute(stmt)


async def create_key(
    engine: AsyncEngine, vault: Vault, *, description: str = "", project_ids: list[str] | None = None
) -> tuple[str, str]:
    """A new key pair, stored; returns (key id, secret). The secret is shown to its creator
    once and never again (only its ciphertext is kept, for SigV4)."""
    key_id, secret = new_key_pair()
    await store_key(engine, vault, key_id, secret, description=description, project_ids=project_ids)
    return key_id, secret


_LISTED = (
    access_keys.c.access_key_id,
    access_keys.c.description,
    access_keys.c.project_ids,
    access_keys.c.active,
    access_keys.c.created_at,
)


async def list_keys(engine: AsyncEngine, *, project_id: str | None = None) -> list[dict[str, Any]]:
    """Keys without their secrets, newest first; with `project_id`, the keys that may use that
    project (those scoped to it and those for every project)."""
    stmt = select(*_LISTED).order_by(access_keys.c.created_at.desc(), access_keys.c.access_key_id)
    if project_id is not None:
        ids = access_keys.c.project_ids
        # "Every project" is stored as JSON null (the column's None), or SQL NULL by hand.
        stmt = stmt.where(or_(ids.is_(None), func.jsonb_typeof(ids) == "null", ids.contains([project_id])))
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def revoke(engine: AsyncEngine, key_id: str) -> bool:
    """Mark the key inactive (kept, listed as revoked); False when there is no such active key.
    The gateway's lookup reads only active keys; see KeyStore for how soon it notices."""
    stmt = update(access_keys).where(access_keys.c.access_key_id == key_id, access_keys.c.active).values(active=False)
    async with engine.begin() as conn:
        return (await conn.execute(stmt)).rowcount > 0


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
    stops working within `ttl` seconds on every gateway replica (at once in the process that
    revoked it: `forget`)."""

    def __init__(self, engine: AsyncEngine, vault: Vault, ttl: float = 30.0) -> None:
        self._engine = engine
        self._vault = vault
        self._cache: TTLCache[str, tuple[str, Principal] | None] = TTLCache(ttl, max_entries=10_000)
        self._lock = asyncio.Lock()

    async def lookup(self, key_id: str) -> tuple[str, Principal] | None:
        return await self._cache.get_or_load(key_id, lambda: self._read(key_id))

    def forget(self, key_id: str) -> None:
        """A key revoked by this process (the console's Access keys page) is refused from the
        next request on, not only once its cache entry expires."""
        self._cache.drop(key_id)

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
