"""Campaigns: Create/Get/Update/Delete, GetCampaigns, GetCampaignVersion(s). Every update is a
new version that replaces the definition; the campaign workflow is started or told to re-read
the campaign by a command written with the change (engine/commands.py) and carried out by the
worker's outbox dispatcher once it has committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.functions import check_functions
from api.operations import Call, pinpoint
from api.paging import (
    next_version_token,
    page_size,
    project_list,
    version_from,
)
from api.routes.tags import TAGGABLE
from engine import commands
from openpoint.errors import BadRequest, NotFound
from rules import campaigns as rules
from rules.bounds import shown, version_number
from rules.tags import check_tags
from store import apps as apps_store
from store import campaigns as store
from store import segments as segments_store
from store import tags as tags_store
from store import templates as templates_store
from templating.render import check_template
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["campaigns"])
FIELD = rules.FIELD
# States in which a paused campaign shows PAUSED: a run in progress still finishes (EXECUTING).
_PAUSABLE = ("SCHEDULED", "PENDING_NEXT_RUN")


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    return await store.definition(conn, arn.app_id or "", arn.resource_id or "") is not None


TAGGABLE["campaigns"] = _exists


def campaign_arn(call: Call, campaign_id: str) -> str:
    return Arn("campaigns", call.app_id, campaign_id).render(call.ctx.settings)


async def response(call: Call, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = row["definition"]
    status = row["state"]
    if definition.get("IsPaused") and status in _PAUSABLE:
        status = "PAUSED"
    state = {"CampaignStatus": status}
    arn = campaign_arn(call, row["id"])
    treatments = definition.get("AdditionalTreatments")
    return {
        **definition,
        "AdditionalTreatments": None if treatments is None else [{**t, "State": state} for t in treatments],
        "ApplicationId": row["app_id"],
        "Arn": arn,
        "CreationDate": iso(row["created_at"]),
        "LastModifiedDate": iso(row["modified_at"]),
        "Id": row["id"],
        "Version": row["version"],
        # Unpinned campaigns report the segment version that was latest when they were written;
        # 1 only once the segment itself is gone (the member is required).
        "SegmentVersion": definition.get("SegmentVersion") or row["segment_version_at_write"] or 1,
        "State": state,
        "DefaultState": state,
        "tags": await tags_store.get(conn, arn),
    }


async def _accept(
    call: Call, conn: AsyncConnection, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    """Validate a WriteCampaignRequest against the project (nothing is written on refusal) and
    return the definition to store."""
    accepted = rules.start_times(current["definition"]) if current else frozenset()
    rules.check_campaign(body, now=datetime.now(UTC), accepted_starts=accepted)
    check_functions(call.ctx, body, FIELD)
    for text, where in rules.rendered_texts(body):
        check_template(text, where)
    segment = await _segment(conn, call.app_id, body["SegmentId"], body.get("SegmentVersion"))
    excluding = current["id"] if current else None
    event = rules.frequency(body) == rules.EVENT
    others = await store.count_event_campaigns(conn, call.app_id, excluding=excluding) if event else 0
    rules.check_segment_use(body, segment["segment_type"], others)
    for ref in rules.template_refs(body):
        if await templates_store.resolve(conn, ref.template_type, ref.name, ref.version) is None:
            version = f" version {ref.version}" if ref.version is not None else ""
            raise NotFound(f"{ref.field}: {ref.template_type} template {ref.name}{version} was not found.")
    return rules.stored_definition(body)


async def _segment(conn: AsyncConnection, app_id: str, segment_id: str, version: int | None) -> dict[str, Any]:
    """The segment the campaign targets; NotFound (as Pinpoint answers) names the member."""
    try:
        return await segments_store.get(conn, app_id, segment_id, version)
    except NotFound:
        if version is None:
            raise NotFound(f"{FIELD}.SegmentId: segment {segment_id} was not found.") from None
    try:
        await segments_store.get(conn, app_id, segment_id)
    except NotFound:
        raise NotFound(f"{FIELD}.SegmentId: segment {segment_id} was not found.") from None
    raise NotFound(f"{FIELD}.SegmentVersion: segment {segment_id} has no version {version}.")


async def _lock_project(call: Call, conn: AsyncConnection) -> None:
    """Event campaigns count against a per-project quota, so writes of them are serialised on
    the project's row (taken before the campaign's, the order DeleteApp takes them in)."""
    await apps_store.get(conn, call.app_id, lock=rules.frequency(call.body) == rules.EVENT)


async def _drive(
    conn: AsyncConnection, call: Call, campaign_id: str, definition: dict[str, Any], *, updated: bool
) -> None:
    """The workflow command, in the transaction of the change: the worker's dispatcher starts or
    signals the campaign's workflow once it has committed (engine/commands.py), also when
    Temporal is away right now. Event campaigns have no workflow (PutEvents sends them); one
    left from a time-based version is stopped."""
    if rules.frequency(definition) != rules.EVENT:
        await commands.start_campaign(conn, call.app_id, campaign_id)
    elif updated:
        await commands.stop_campaign(conn, call.app_id, campaign_id)


@pinpoint(router, "CreateCampaign")
async def create_campaign(call: Call) -> dict[str, Any]:
    body = call.body
    tags = body.get("tags", {})
    check_tags(tags, f"{FIELD}.tags")
    campaign_id = uuid.uuid4().hex
    async with call.ctx.engine.begin() as conn:
        await _lock_project(call, conn)
        definition = await _accept(call, conn, body, None)
        await store.create(conn, app_id=call.app_id, campaign_id=campaign_id, definition=definition)
        if tags:
            await tags_store.put(conn, campaign_arn(call, campaign_id), call.app_id, tags)
        out = await response(call, conn, await store.get(conn, call.app_id, campaign_id))
        await _drive(conn, call, campaign_id, definition, updated=False)
    return out


@pinpoint(router, "UpdateCampaign")
async def update_campaign(call: Call) -> dict[str, Any]:
    campaign_id = call.labels["CampaignId"]
    async with call.ctx.engine.begin() as conn:
        await _lock_project(call, conn)
        current = await store.get(conn, call.app_id, campaign_id, lock=True)
        # The request replaces the definition; its `tags` member has been ignored by Pinpoint
        # since 2023 (only TagResource changes tags).
        definition = await _accept(call, conn, call.body, current)
        version = await store.add_version(conn, app_id=call.app_id, campaign_id=campaign_id, definition=definition)
        out = await response(call, conn, await store.get(conn, call.app_id, campaign_id, version))
        await _drive(conn, call, campaign_id, definition, updated=True)
    return out


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
        await tags_store.drop(conn, campaign_arn(call, campaign_id))
        await commands.stop_campaign(conn, call.app_id, campaign_id)
    return out
