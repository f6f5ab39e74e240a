"""Writing and reading a campaign: CreateCampaign's and UpdateCampaign's work and the
CampaignResponse, shared by their routes and the console (its pause / resume), so that both
validate alike and refuse with the same errors (as api/segments.py does for segments)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.functions import check_functions
from engine import commands
from openpoint.errors import NotFound
from rules import campaigns as rules
from rules.tags import check_tags
from store import apps as apps_store
from store import campaigns as store
from store import segments as segments_store
from store import tags as tags_store
from store import templates as templates_store
from templating.render import check_template
from wire.arns import Arn
from wire.codec import decode_body, iso
from wire.model import operation

FIELD = rules.FIELD
# States in which a paused campaign shows PAUSED: a run in progress still finishes (EXECUTING).
_PAUSABLE = ("SCHEDULED", "PENDING_NEXT_RUN")


def write_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A WriteCampaignRequest from fields that did not come over the wire (the console's form),
    decoded and checked against botocore's model as a request body would be."""
    op = operation("CreateCampaign")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def campaign_arn(ctx: Context, app_id: str, campaign_id: str) -> str:
    return Arn("campaigns", app_id, campaign_id).render(ctx.settings)


async def response(ctx: Context, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = row["definition"]
    status = row["state"]
    if definition.get("IsPaused") and status in _PAUSABLE:
        status = "PAUSED"
    state = {"CampaignStatus": status}
    arn = campaign_arn(ctx, row["app_id"], row["id"])
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
    ctx: Context, conn: AsyncConnection, app_id: str, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    """Validate a WriteCampaignRequest against the project (nothing is written on refusal) and
    return the definition to store."""
    accepted = rules.start_times(current["definition"]) if current else frozenset()
    rules.check_campaign(body, now=datetime.now(UTC), accepted_starts=accepted)
    check_functions(ctx, body, FIELD)
    for text, where in rules.rendered_texts(body):
        check_template(text, where)
    segment = await _segment(conn, app_id, body["SegmentId"], body.get("SegmentVersion"))
    excluding = current["id"] if current else None
    event = rules.frequency(body) == rules.EVENT
    others = await store.count_event_campaigns(conn, app_id, excluding=excluding) if event else 0
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


async def _lock_project(conn: AsyncConnection, app_id: str, body: dict[str, Any]) -> None:
    """Event campaigns count against a per-project quota, so writes of them are serialised on
    the project's row (taken before the campaign's, the order DeleteApp takes them in)."""
    await apps_store.get(conn, app_id, lock=rules.frequency(body) == rules.EVENT)


async def _drive(
    conn: AsyncConnection, app_id: str, campaign_id: str, definition: dict[str, Any], *, updated: bool
) -> None:
    """The workflow command, in the transaction of the change: the worker's dispatcher starts or
    signals the campaign's workflow once it has committed (engine/commands.py), also when
    Temporal is away right now. Event campaigns have no workflow (PutEvents sends them); one
    left from a time-based version is stopped."""
    if rules.frequency(definition) != rules.EVENT:
        await commands.start_campaign(conn, app_id, campaign_id)
    elif updated:
        await commands.stop_campaign(conn, app_id, campaign_id)


async def create(ctx: Context, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` is a decoded WriteCampaignRequest; answers CreateCampaign's CampaignResponse."""
    tags = body.get("tags", {})
    check_tags(tags, f"{FIELD}.tags")
    campaign_id = uuid.uuid4().hex
    async with ctx.engine.begin() as conn:
        await _lock_project(conn, app_id, body)
        definition = await _accept(ctx, conn, app_id, body, None)
        await store.create(conn, app_id=app_id, campaign_id=campaign_id, definition=definition)
        if tags:
            await tags_store.put(conn, campaign_arn(ctx, app_id, campaign_id), app_id, tags)
        out = await response(ctx, conn, await store.get(conn, app_id, campaign_id))
        await _drive(conn, app_id, campaign_id, definition, updated=False)
    return out


async def update(ctx: Context, app_id: str, campaign_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A new version of the campaign from a decoded WriteCampaignRequest (it replaces the
    definition)."""
    async with ctx.engine.begin() as conn:
        await _lock_project(conn, app_id, body)
        current = await store.get(conn, app_id, campaign_id, lock=True)
        # The request replaces the definition; its `tags` member has been ignored by Pinpoint
        # since 2023 (only TagResource changes tags).
        definition = await _accept(ctx, conn, app_id, body, current)
        version = await store.add_version(conn, app_id=app_id, campaign_id=campaign_id, definition=definition)
        out = await response(ctx, conn, await store.get(conn, app_id, campaign_id, version))
        await _drive(conn, app_id, campaign_id, definition, updated=True)
    return out
