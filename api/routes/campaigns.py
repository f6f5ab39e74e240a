"""Campaigns: Create/Get/Update/Delete, GetCampaigns, GetCampaignVersion(s). Every update is a
new version that replaces the definition; the campaign workflow is started or told to re-read
the campaign by a command written with the change (engine/commands.py) and carried out by the
worker's outbox dispatcher once it has committed. The writes' work is api/campaigns.py's,
shared with the console."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.campaigns import campaign_arn, create, update
from api.campaigns import response as campaign_response
from api.operations import Call, pinpoint
from api.paging import (
    next_version_token,
    page_size,
    project_list,
    version_from,
)
from api.routes.tags import TAGGABLE
from engine import commands
from openpoint.errors import BadRequest
from rules.bounds import shown, version_number
from store import campaigns as store
from store import tags as tags_store
from wire.arns import Arn

router = APIRouter(tags=["campaigns"])


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    return await store.definition(conn, arn.app_id or "", arn.resource_id or "") is not None


TAGGABLE["campaigns"] = _exists


async def response(call: Call, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    return await campaign_response(call.ctx, conn, row)


@pinpoint(router, "CreateCampaign")
async def create_campaign(call: Call) -> dict[str, Any]:
    return await create(call.ctx, call.app_id, call.body)


@pinpoint(router, "UpdateCampaign")
async def update_campaign(call: Call) -> dict[str, Any]:
    return await update(call.ctx, call.app_id, call.labels["CampaignId"], call.body)


@pinpoint(router, "GetCampaign")
async def get_campaign(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return await response(call, conn, await store.get(conn, call.app_id, call.labels["CampaignId"]))


@pinpoint(router, "GetCampaignVersion")
async def get_campaign_version(call: Call) -> dict[str, Any]:
    raw = call.labels["Version"]
    version = version_number(raw)
    if version is None:
        raise BadRequest(f"Invalid value for version: '{shown(raw)}' is not a campaign version (1, 2, ...).")
    async with call.ctx.engine.connect() as conn:
        return await response(call, conn, await store.get(conn, call.app_id, call.labels["CampaignId"], version))


@pinpoint(router, "GetCampaigns")
async def get_campaigns(call: Call) -> dict[str, Any]:
    return await project_list(
        call.ctx.engine,
        call.app_id,
        call.query,
        lambda c, after, limit: store.page(c, call.app_id, after=after, limit=limit),
        lambda c, r: response(call, c, r),
    )


@pinpoint(router, "GetCampaignVersions")
async def get_campaign_versions(call: Call) -> dict[str, Any]:
    campaign_id = call.labels["CampaignId"]
    limit = page_size(call.query.get("PageSize"))
    before = version_from(call.query.get("Token"))
    async with call.ctx.engine.connect() as conn:
        await store.get(conn, call.app_id, campaign_id)
        rows = await store.version_page(conn, call.app_id, campaign_id, before=before, limit=limit + 1)
        items = [await response(call, conn, r) for r in rows[:limit]]
    return {"Item": items, "NextToken": next_version_token(rows, limit)}


@pinpoint(router, "DeleteCampaign")
async def delete_campaign(call: Call) -> dict[str, Any]:
    campaign_id = call.labels["CampaignId"]
    async with call.ctx.engine.begin() as conn:
        out = await response(call, conn, await store.get(conn, call.app_id, campaign_id, lock=True))
        await store.remove(conn, call.app_id, campaign_id)
        await tags_store.drop(conn, campaign_arn(call.ctx, call.app_id, campaign_id))
        await commands.stop_campaign(conn, call.app_id, campaign_id)
    return out
