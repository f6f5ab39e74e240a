"""Channels: Get/Update/Delete for each channel kind, and GetChannels.

The kinds, their credentials and UpdateXChannel's work are api/channels.py (the console's
Channels page calls the same code). Sending on a channel is the channel layer's business.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.channels import BY_TYPE, KINDS, ChannelKind, channel_response
from api.channels import update_channel as update_kind
from api.operations import Call, pinpoint
from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store import apps as apps_store
from store import channels as store

router = APIRouter(tags=["channels"])


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
        return await update_kind(call.ctx, call.app_id, kind, call.body)

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
