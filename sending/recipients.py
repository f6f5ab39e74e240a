"""The recipient of one message (workflows.shared.Recipient): its idempotency key, address,
endpoint as message variables see it, and the request's per-recipient substitutions.
Gateway-safe: pure but for the endpoint's wire form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.endpoints import endpoint_response
from wire.codec import iso
from workflows.shared import Recipient

# The per-recipient members of an EndpointSendConfiguration / AddressConfiguration that replace
# parts of the message.
OVERRIDES = ("BodyOverride", "TitleOverride", "RawContent")


def idempotency_key(scope: str, step: str | int, target: str) -> str:
    """The delivery log's key of one message: `{scope}/{step}/{target}`. `scope` is the workflow
    (or campaign) that sends, `step` what it is at (a run, a trigger, a journey activity, 0 for
    a direct send), `target` the endpoint id or address. The same message always gets the same
    key, so a retried or replayed send finds it in the log and does not go out twice."""
    return f"{scope}/{step}/{target}"


def endpoint_recipient(key: str, row: dict[str, Any], **message: Any) -> Recipient:
    """The recipient for an endpoint (a row of `endpoints`); `message`: other Recipient fields
    (`request_message`'s substitutions, context and overrides)."""
    return Recipient(
        key=key, address=row["address"], endpoint_id=row["id"], endpoint=endpoint_response(row, iso), **message
    )


def request_message(config: Mapping[str, Any], context: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A direct send's per-recipient part of the message: the recipient's Substitutions, the
    request's Context overlaid by the recipient's, and its overrides, as Recipient fields."""
    return {
        "substitutions": config.get("Substitutions") or {},
        "context": {**(context or {}), **(config.get("Context") or {})},
        "overrides": {k: config[k] for k in OVERRIDES if k in config},
    }
