"""Channel settings per project; credentials encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.vault import Vault
from store.tables import Channel

channels = Channel.__table__  # type: ignore[attr-defined]


def secret_purpose(app_id: str, channel_type: str) -> str:
    """Bound to the ciphertext so one channel's credentials cannot be replayed as another's."""
    return f"channel:{app_id}:{channel_type}"


@dataclass(frozen=True)
class ChannelConfig:
    """A project's settings for one channel, credentials decrypted (`secrets`)."""

    channel_type: str
    enabled: bool
    settings: dict[str, Any]
    secrets: dict[str, Any]


async def config(conn: AsyncConnection, vault: Vault, app_id: str, channel_type: str) -> ChannelConfig | None:
    """The channel with its credentials decrypted: for providers and for checking the
    provider's callbacks, never for responses."""
    row = await get(conn, app_id, channel_type)
    if row is None:
        return None
    secrets: dict[str, Any] = {}
    if row["secret_ciphertext"]:
        purpose = secret_purpose(app_id, channel_type)
        secrets = orjson.loads(vault.decrypt(row["secret_ciphertext"], purpose=purpose))
    return ChannelConfig(channel_type, row["enabled"], row["settings"] or {}, secrets)


def merged_secret(
    vault: Vault, app_id: str, channel_type: str, current: bytes | None, given: dict[str, Any]
) -> bytes | None:
    """The channel's encrypted credentials with `given` replacing members of the same name."""
    if not given:
        return current
    purpose = secret_purpose(app_id, channel_type)
    old = orjson.loads(vault.decrypt(current, purpose=purpose)) if current else {}
    return vault.encrypt(orjson.dumps({**old, **given}), purpose=purpose)


async def get(conn: AsyncConnection, app_id: str, channel_type: str) -> dict[str, Any] | None:
    stmt = select(channels).where(channels.c.app_id == app_id, channels.c.channel_type == channel_type)
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def all_of(conn: AsyncConnection, app_id: str) -> list[dict[str, Any]]:
    stmt = select(channels).where(channels.c.app_id == app_id).order_by(channels.c.channel_type)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def put(
    conn: AsyncConnection,
    app_id: str,
    channel_type: str,
    *,
    enabled: bool,
    settings: dict[str, Any],
    secret: bytes | None,
) -> dict[str, Any]:
    values = {
        "app_id": app_id,
        "channel_type": channel_type,
        "enabled": enabled,
        "settings": settings,
        "secret_ciphertext": secret,
    }
    stmt = insert(channels).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["app_id", "channel_type"],
        set_={
            "enabled": enabled,
            "settings": settings,
            "secret_ciphertext": secret,
            "version": channels.c.version + 1,
            "updated_at": func.now(),
        },
    )
    row = (await conn.execute(stmt.returning(*channels.c))).mappings().one()
    return dict(row)


async def remove(conn: AsyncConnection, app_id: str, channel_type: str) -> None:
    await conn.execute(delete(channels).where(channels.c.app_id == app_id, channels.c.channel_type == channel_type))


async def add_secrets(
    conn: AsyncConnection, vault: Vault, app_id: str, channel_type: str, given: dict[str, Any], *, create: bool
) -> bool:
    """Merge `given` into the channel's encrypted credentials (`openpoint channels credentials`).
    `create`: the channel has no Pinpoint settings of its own (CUSTOM: the Lambda credentials),
    so its row is made here; otherwise False when the project has not set the channel up."""
    row = await get(conn, app_id, channel_type)
    if row is None and not create:
        return False
    secret = merged_secret(vault, app_id, channel_type, row["secret_ciphertext"] if row else None, given)
    if row is None:
        await conn.execute(insert(channels).values(app_id=app_id, channel_type=channel_type, secret_ciphertext=secret))
    else:
        await conn.execute(
            update(channels)
            .where(channels.c.app_id == app_id, channels.c.channel_type == channel_type)
            .values(secret_ciphertext=secret, updated_at=func.now())
        )
    return True


async def remove_secrets(
    conn: AsyncConnection, vault: Vault, app_id: str, channel_type: str, names: tuple[str, ...]
) -> None:
    """Drop `names` from the channel's encrypted credentials (no row or none of them: nothing)."""
    row = await get(conn, app_id, channel_type)
    if row is None or row["secret_ciphertext"] is None:
        return
    purpose = secret_purpose(app_id, channel_type)
    old = orjson.loads(vault.decrypt(row["secret_ciphertext"], purpose=purpose))
    kept = {k: v for k, v in old.items() if k not in names}
    if kept == old:
        return
    secret = vault.encrypt(orjson.dumps(kept), purpose=purpose) if kept else None
    await conn.execute(
        update(channels)
        .where(channels.c.app_id == app_id, channels.c.channel_type == channel_type)
        .values(secret_ciphertext=secret, updated_at=func.now())
    )
