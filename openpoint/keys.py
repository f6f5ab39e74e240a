"""API key pairs: creation, the development key, and lookup for SigV4 verification."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from openpoint.settings import Settings
from openpoint.vault import Vault, vault_from
from store.db import make_engine
from store.tables import AccessKey

_PURPOSE = "access-key:"


@dataclass(frozen=True)
class Principal:
    access_key_id: str
    project_ids: frozenset[str] | None  # None: every project

    def may_touch(self, app_id: str) -> bool:
        return self.project_ids is None or app_id in self.project_ids


def new_key_pair() -> tuple[str, str]:
    key_id = "OP" + base64.b32encode(secrets.token_bytes(10)).decode()[:18]
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    return key_id, secret


def dev_key_pair(settings: Settings, vault: Vault) -> tuple[str, str]:
    key_id = settings.access_key_id or ("OPDEV" + base64.b32encode(vault.derive("dev-access-key-id")).decode()[:15])
    secret = settings.secret_access_key or base64.b64encode(vault.derive("dev-secret")).decode()[:40]
    return key_id, secret


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
        "secret_ciphertext": vault.encrypt(secret.encode(), purpose=_PURPOSE + key_id),
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
        self._ttl = ttl
        self._cache: dict[str, tuple[float, tuple[str, Principal] | None]] = {}
        self._lock = asyncio.Lock()

    async def lookup(self, key_id: str) -> tuple[str, Principal] | None:
        hit = self._cache.get(key_id)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT secret_ciphertext, project_ids FROM access_keys WHERE access_key_id = :k AND active"),
                    {"k": key_id},
                )
            ).first()
        value: tuple[str, Principal] | None = None
        if row is not None:
            secret = self._vault.decrypt(row[0], purpose=_PURPOSE + key_id).decode()
            scope = frozenset(row[1]) if row[1] is not None else None
            value = (secret, Principal(key_id, scope))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (time.monotonic() + self._ttl, value)
        return value
