"""Channels: Get/Update/Delete for each channel kind, and GetChannels.

Every kind goes through one parameterised mechanism: which request members are credentials
(encrypted, never echoed; the response says `HasCredential`), which are required together, and
what the response adds. Sending on a channel is the channel layer's business, not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import orjson
from fastapi import APIRouter

from api.operations import Call, pinpoint
from openpoint.errors import RESOURCE_NOT_FOUND, BadRequest, NotFound
from store import apps as apps_store
from store import channels as store
from wire.codec import iso

router = APIRouter(tags=["channels"])


@dataclass(frozen=True)
class ChannelKind:
    channel_type: str  # the key in the channels table and GetChannels
    suffix: str  # operation names: Get{suffix}, Update{suffix}, Delete{suffix}
    secrets: tuple[str, ...] = ()
    # Response-only members with their fixed values (throughput figures of the providers).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> str:
        from wire.model import operation

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


def _check(kind: ChannelKind, body: dict[str, Any]) -> None:
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


def _register(kind: ChannelKind) -> None:
    @pinpoint(router, "Get" + kind.suffix)
    async def get_channel(call: Call) -> dict[str, Any]:
        async with call.ctx.engine.connect() as conn:
            await apps_store.get(conn, call.app_id)
            row = await store.get(conn, call.app_id, kind.channel_type)
        if row is None:
            raise NotFound(RESOURCE_NOT_FOUND)
        return channel_response(kind, row)

    @pinpoint(router, "Update" + kind.suffix)
    async def update_channel(call: Call) -> dict[str, Any]:
        body = call.body
        _check(kind, body)
        async with call.ctx.engine.begin() as conn:
            await apps_store.get(conn, call.app_id, lock=True)
            current = await store.get(conn, call.app_id, kind.channel_type)
            settings = {k: v for k, v in body.items() if k not in kind.secrets and k != "Enabled"}
            if current is not None:
                settings = {**(current["settings"] or {}), **settings}
            given = {k: body[k] for k in kind.secrets if k in body}
            current_secret = current["secret_ciphertext"] if current else None
            secret = store.merged_secret(call.ctx.vault, call.app_id, kind.channel_type, current_secret, given)
            enabled = body.get("Enabled", current["enabled"] if current else True)
            row = await store.put(
                conn, call.app_id, kind.channel_type, enabled=enabled, settings=settings, secret=secret
            )
        return channel_response(kind, row)

    @pinpoint(router, "Delete" + kind.suffix)
    async def delete_channel(call: Call) -> dict[str, Any]:
        async with call.ctx.engine.begin() as conn:
            await apps_store.get(conn, call.app_id, lock=True)
            row = await store.get(conn, call.app_id, kind.channel_type)
            if row is None:
                raise NotFound(RESOURCE_NOT_FOUND)
            await store.remove(conn, call.app_id, kind.channel_type)
        return channel_response(kind, row)


for _kind in KINDS:
    _register(_kind)


@pinpoint(router, "GetChannels")
async def get_channels(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        rows = await store.all_of(conn, call.app_id)
    channels: dict[str, Any] = {}
    for row in rows:
        if row["channel_type"] not in BY_TYPE:
            continue  # CUSTOM: OpenPoint's row for the project's Lambda credentials, not a Pinpoint channel
        full = channel_response(BY_TYPE[row["channel_type"]], row)
        # ChannelResponse is the common subset of the channel-specific responses.
        channels[row["channel_type"]] = {
            k: full.get(k)
            for k in (
                "ApplicationId",
                "CreationDate",
                "Enabled",
                "HasCredential",
                "Id",
                "IsArchived",
                "LastModifiedBy",
                "LastModifiedDate",
                "Version",
            )
        }
    return {"Channels": channels}
