"""Writing a segment: CreateSegment's and UpdateSegment's work, shared by their routes and the
console, so that both validate alike and refuse with the same errors (as api/projects.py does
for CreateApp)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from engine import commands
from openpoint.errors import BadRequest
from rules.segments import check_segment
from rules.tags import check_tags
from store import apps as apps_store
from store import segments as store
from store import tags as tags_store
from store.segment_sql import SegmentDefinition, compile_where
from wire.arns import Arn
from wire.codec import decode_body, iso
from wire.model import operation

FIELD = "WriteSegmentRequest"


def write_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A WriteSegmentRequest from fields that did not come over the wire (the console's builder),
    decoded and checked against botocore's model as a request body would be."""
    op = operation("CreateSegment")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def segment_arn(ctx: Context, app_id: str, segment_id: str) -> str:
    return Arn("segments", app_id, segment_id).render(ctx.settings)


async def segment_response(ctx: Context, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    arn = segment_arn(ctx, row["app_id"], row["id"])
    return {
        "ApplicationId": row["app_id"],
        "Arn": arn,
        "CreationDate": iso(row["created_at"]),
        "Dimensions": row["dimensions"],
        "Id": row["id"],
        "ImportDefinition": row["import_definition"],
        "LastModifiedDate": iso(row["modified_at"]),
        "Name": row["name"],
        "SegmentGroups": row["segment_groups"],
        "SegmentType": row["segment_type"],
        "tags": await tags_store.get(conn, arn),
        "Version": row["version"],
    }


async def check_definition(
    conn: AsyncConnection, app_id: str, definition: SegmentDefinition, segment_id: str | None
) -> None:
    """Rules the model cannot express, then a trial compile: it refuses missing source
    segments and cycles before anything is written (and before the console counts a draft)."""
    check_segment(definition.dimensions, definition.segment_groups, FIELD)
    if definition.segment_groups is not None:
        sources = [s["Id"] for g in definition.segment_groups.get("Groups", []) for s in g.get("SourceSegments", [])]
        if segment_id is not None and segment_id in sources:
            raise BadRequest(f"Invalid value for {FIELD}.SegmentGroups: a segment cannot be its own source.")
    await compile_where(conn, app_id, definition, now=datetime.now(UTC))


async def create_segment(ctx: Context, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` is a decoded WriteSegmentRequest; answers CreateSegment's SegmentResponse."""
    tags = body.get("tags", {})
    check_tags(tags, f"{FIELD}.tags")
    segment_id = uuid.uuid4().hex
    async with ctx.engine.begin() as conn:
        await apps_store.get(conn, app_id)
        definition = SegmentDefinition("DIMENSIONAL", body.get("Dimensions"), body.get("SegmentGroups"))
        await check_definition(conn, app_id, definition, None)
        await store.create(
            conn,
            app_id=app_id,
            segment_id=segment_id,
            segment_type="DIMENSIONAL",
            name=body.get("Name"),
            dimensions=definition.dimensions,
            segment_groups=definition.segment_groups,
        )
        if tags:
            await tags_store.put(conn, segment_arn(ctx, app_id, segment_id), app_id, tags)
        return await segment_response(ctx, conn, await store.get(conn, app_id, segment_id))


async def update_segment(ctx: Context, app_id: str, segment_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A new version of the segment from a decoded WriteSegmentRequest."""
    async with ctx.engine.begin() as conn:
        current = await store.get(conn, app_id, segment_id, lock=True)
        # Members the request names replace the current ones; the rest carry over. The `tags`
        # member of update requests has been ignored by Pinpoint since 2023: only TagResource
        # changes tags.
        name = body.get("Name", current["name"])
        dimensions = body.get("Dimensions", current["dimensions"])
        groups = body.get("SegmentGroups", current["segment_groups"])
        definition = SegmentDefinition(current["segment_type"], dimensions, groups, segment_id)
        await check_definition(conn, app_id, definition, segment_id)
        version = await store.add_version(
            conn,
            app_id=app_id,
            segment_id=segment_id,
            name=name,
            dimensions=dimensions,
            segment_groups=groups,
            import_definition=current["import_definition"],
        )
        out = await segment_response(ctx, conn, await store.get(conn, app_id, segment_id, version))
        # Carried out after the commit, so journeys refreshing on segment updates read the new version.
        await commands.segment_changed(conn, app_id, segment_id)
    return out
