"""Secrets at rest: AES-256-GCM under one master key.

Access-key secrets cannot be hashed, because SigV4 verification recomputes an HMAC with the
secret itself; so they, and channel credentials, are encrypted. The master key comes from
`OPENPOINT_MASTER_KEY` in production; in development one is generated once into the data
directory, readable only by its owner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openpoint.settings import Settings

_NONCE = 12


class Vault:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._key = master_key
        self._aead = AESGCM(master_key)

    def encrypt(self, plaintext: bytes, *, purpose: str) -> bytes:
        # `purpose` is bound as associated data so a ciphertext cannot be replayed elsewhere.
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def decrypt(self, blob: bytes, *, purpose: str) -> bytes:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], purpose.encode())

    def derive(self, label: str) -> bytes:
        """A stable secret derived from the master key (the dev key pair is made this way, so
        it can be printed again on every start without being stored in plain text)."""
        return hmac.new(self._key, label.encode(), hashlib.sha256).digest()


def load_master_key(settings: Settings) -> bytes:
    if settings.master_key:
        try:
            return base64.b64decode(settings.master_key, validate=True)
        except ValueError:
            raise ValueError("OPENPOINT_MASTER_KEY must be base64 of 32 random bytes") from None
    path = Path(settings.data_dir) / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)).decode())
    return base64.b64decode(path.read_text().strip())


def vault_from(settings: Settings) -> Vault:
    return Vault(load_master_key(settings))


def tracking_key(settings: Settings, vault: Vault) -> bytes:
    """The key that signs tracking links: the worker signs them, the gateway checks them."""
    return settings.tracking_secret.encode() if settings.tracking_secret else vault.derive("tracking-links")


def seal(vault: Vault, key: str, values: dict[str, list[str]]) -> str:
    """Substitutions encrypted for one recipient (bound to its idempotency key), so that secrets
    such as one-time passwords travel through workflow histories unreadable."""
    return base64.b64encode(vault.encrypt(orjson.dumps(values), purpose=f"sealed:{key}")).decode()


def unseal(vault: Vault, key: str, sealed: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = orjson.loads(vault.decrypt(base64.b64decode(sealed), purpose=f"sealed:{key}"))
    return values
