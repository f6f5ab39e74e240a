"""A project's own delivery credentials (its SMTP relay, its Twilio account, AWS keys for its
Lambda functions): stored, replaced or cleared by the same code from `openpoint channels
credentials` and the console's Channels page. The values are encrypted by the vault with the
channel's other secrets and never answered: only which names are set."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import NotFound
from openpoint.vault import Vault
from rules.delivery_credentials import EXTRA_CREDENTIALS, SHOWN, CredentialsRefused, check_credentials
from store import apps as apps_store
from store import channels as channels_store


async def store_credentials(
    conn: AsyncConnection, vault: Vault, app_id: str, channel: str, given: dict[str, str]
) -> None:
    """Merge `given` into the channel's credentials; CredentialsRefused says why not."""
    check_credentials(channel, given)
    try:
        await apps_store.get(conn, app_id, lock=True)
    except NotFound:
        raise CredentialsRefused(f"there is no project {app_id}") from None
    if not await channels_store.add_secrets(conn, vault, app_id, channel, given, create=channel == "CUSTOM"):
        raise CredentialsRefused(f"project {app_id} has no {channel} channel yet: create it with Update*Channel first")


async def clear_credentials(conn: AsyncConnection, vault: Vault, app_id: str, channel: str) -> None:
    """Forget the channel's extra credentials (the provider then uses the environment's);
    Pinpoint's own credentials of the channel are kept."""
    await apps_store.get(conn, app_id, lock=True)
    await channels_store.remove_secrets(conn, vault, app_id, channel, EXTRA_CREDENTIALS.get(channel, ()))


async def credentials_set(conn: AsyncConnection, vault: Vault, app_id: str) -> dict[str, dict[str, Any]]:
    """Per channel that takes extra credentials: each name → True (set), False, or its value
    when it is not a secret (SHOWN). Decrypted here, on the server; secrets never leave it."""
    found: dict[str, dict[str, Any]] = {}
    for channel, names in EXTRA_CREDENTIALS.items():
        config = await channels_store.config(conn, vault, app_id, channel)
        secrets = config.secrets if config else {}
        found[channel] = {n: (str(secrets[n]) if n in SHOWN else True) if secrets.get(n) else False for n in names}
    return found
