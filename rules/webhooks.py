"""How custom-channel webhooks are signed, for the worker that sends them and the receivers
that check them.

The scheme is Stripe's, which receiver frameworks already know:

    X-OpenPoint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The key is the secret's text as UTF-8 (`OPENPOINT_WEBHOOK_SIGNING_SECRET`, or the one
`openpoint webhook-secret` prints). A receiver recomputes the HMAC over the exact bytes it
received, compares in constant time, and refuses a timestamp too far from its clock, so a
captured request cannot be replayed later. Several `v1=` entries may appear (one per secret
while a secret is being rotated); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpoint.settings import Settings
    from openpoint.vault import Vault

SIGNATURE_HEADER = "X-OpenPoint-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300


def signing_secret(settings: Settings, vault: Vault) -> str:
    """The configured secret, else one derived from the master key (stable across restarts)."""
    return settings.webhook_signing_secret or vault.derive("webhook-signing").hex()


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_webhook(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether `header` signs `body` with `secret` and its timestamp lies within `tolerance`
    seconds of `now` (default: this machine's clock)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
