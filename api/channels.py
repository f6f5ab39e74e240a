"""A project's channels: which request members are credentials, the ChannelResponse, and
UpdateXChannel's work, shared by the routes (api/routes/channels.py) and the console's Channels
page, so that both validate alike, keep credentials alike and refuse with the same errors.

Every kind goes through one parameterised mechanism: which request members are credentials
(encrypted, never echoed; the response says `HasCredential`) and what the response adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import orjson

from api.context import Context
from openpoint.errors import BadRequest
from store import apps as apps_store
from store import channels as store
from wire.codec import decode_body, iso
from wire.model import operation


@dataclass(frozen=True)
class ChannelKind:
    channel_type: str  # the key in the channels table and GetChannels
    suffix: str  # operation names: Get{suffix}, Update{suffix}, Delete{suffix}
    secrets: tuple[str, ...] = ()
    # Response-only members with their fixed values (throughput figures of the providers).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> str:
        member = operation("Update" + self.suffix).payload_member
        assert member is not None
        return member


KINDS = [
    ChannelKind("EMAIL", "EmailChannel", extras={"MessagesPerSecond": 50}),
    ChannelKind("SMS", "SmsChannel", extras={"PromotionalMessagesPerSecond": 20, "TransactionalMessagesPerSecond": 20}),
    ChannelKind("VOICE", "VoiceChannel"),
    ChannelKind("GCM", "GcmChannel", secrets=("ApiKey", "ServiceJson")),
    ChannelKind("APNS", "ApnsChannel", secrets=("Certificate", "PrivateKey", "TokenKey")),
    ChannelKind("APNS_SANDBOX", "ApnsSandboxChannel", secrets=("Certificate", "PrivateKey", "TokenKey")),
    ChannelKind("APNS_VOIP", "ApnsVoipChannel", secrets=("Certificate", "PrivateKey", "TokenKey")),
    ChannelKind("APNS_VOIP_SANDBOX", "ApnsVoipSandboxChannel", secrets=("Certificate", "PrivateKey", "TokenKey")),
    ChannelKind("ADM", "AdmChannel", secrets=("ClientSecret",)),
    ChannelKind("BAIDU", "BaiduChannel", secrets=("SecretKey",)),
]
BY_TYPE = {k.channel_type: k for k in KINDS}


def channel_response(kind: ChannelKind, row: dict[str, Any]) -> dict[str, Any]:
    settings = row["settings"] or {}
    return {
        **settings,
        **kind.extras,
        "ApplicationId": row["app_id"],
        "CreationDate": iso(row["created_at"]),
        "Enabled": row["enabled"],
        "HasCredential": row["secret_ciphertext"] is not None,
        "Id": kind.channel_type.lower(),
        "IsArchived": False,
        "LastModifiedBy": settings.get("LastModifiedBy"),
        "LastModifiedDate": iso(row["updated_at"]),
        "Platform": kind.channel_type,
        "Version": row["version"],
    }


def channel_request(kind: ChannelKind, fields: dict[str, Any]) -> dict[str, Any]:
    """The kind's channel request from fields that did not come over the wire (the console's
    form), decoded and checked against botocore's model as a request body would be."""
    op = operation("Update" + kind.suffix)
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def check(kind: ChannelKind, body: dict[str, Any]) -> None:
    if kind.channel_type == "EMAIL":
        _, address = parseaddr(body["FromAddress"])
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise BadRequest(
                f"Invalid value for {kind.payload}.FromAddress: '{body['FromAddress']}' is not an email address."
            )
    if kind.channel_type == "GCM" and "ServiceJson" in body:
        try:
            orjson.loads(body["ServiceJson"])
        except orjson.JSONDecodeError:
            raise BadRequest(f"Invalid value for {kind.payload}.ServiceJson: not a JSON document.") from None


async def update_channel(ctx: Context, app_id: str, kind: ChannelKind, body: dict[str, Any]) -> dict[str, Any]:
    """UpdateXChannel: `body` is the decoded channel request. Settings it names replace the
    stored ones; credentials it names replace those of the same name (encrypted), the others
    are kept. Nothing is written on refusal."""
    check(kind, body)
    async with ctx.engine.begin() as conn:
        await apps_store.get(conn, app_id, lock=True)
        current = await store.get(conn, app_id, kind.channel_type)
        settings = {k: v for k, v in body.items() if k not in kind.secrets and k != "Enabled"}
        if current is not None:
            settings = {**(current["settings"] or {}), **settings}
        given = {k: body[k] for k in kind.secrets if k in body}
        current_secret = current["secret_ciphertext"] if current else None
        secret = store.merged_secret(ctx.vault, app_id, kind.channel_type, current_secret, given)
        enabled = body.get("Enabled", current["enabled"] if current else True)
        row = await store.put(conn, app_id, kind.channel_type, enabled=enabled, settings=settings, secret=secret)
    return channel_response(kind, row)
