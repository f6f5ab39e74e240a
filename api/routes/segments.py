"""Segments: Create/Get/Update/Delete, GetSegments, GetSegmentVersion(s). Every update makes a
new version; old versions stay readable (campaigns pin them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

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
from rules.bounds import shown, version_number
from rules.segments import check_segment
from rules.tags import check_tags
from store import apps as apps_store
from store import segments as store
from store import tags as tags_store
from store.segment_sql import SegmentDefinition, compile_where
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["segments"])
FIELD = "WriteSegmentRequest"


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    try:
        await store.get(conn, arn.app_id or "", arn.resource_id or "")
    except NotFound:
        return False
    return True


TAGGABLE["segments"] = _exists


def segment_arn(call: Call, segment_id: str) -> str:
    return Arn("segments", call.app_id, segment_id).render(call.ctx.settings)


async def response(call: Call, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    arn = segment_arn(call, row["id"])
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


async def _check(call: Call, conn: AsyncConnection, definition: SegmentDefinition, segment_id: str | None) -> None:
    """Rules the model cannot express, then a trial compile: it refuses missing source
    segments and cycles before anything is written."""
    check_segment(definition.dimensions, definition.segment_groups, FIELD)
    if definition.segment_groups is not None:
        sources = [s["Id"] for g in definition.segment_groups.get("Groups", []) for s in g.get("SourceSegments", [])]
        if segment_id is not None and segment_id in sources:
            raise BadRequest(f"Invalid value for {FIELD}.SegmentGroups: a segment cannot be its own source.")
    await compile_where(conn, call.app_id, definition, now=datetime.now(UTC))


@pinpoint(router, "CreateSegment")
async def create_segment(call: Call) -> dict[str, Any]:
    body = call.body
    tags = body.get("tags", {})
    check_tags(tags, f"{FIELD}.tags")
    segment_id = uuid.uuid4().hex
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id)
        definition = SegmentDefinition("DIMENSIONAL", body.get("Dimensions"), body.get("SegmentGroups"))
        await _check(call, conn, definition, None)
        await store.create(
            conn,
            app_id=call.app_id,
            segment_id=segment_id,
            segment_type="DIMENSIONAL",
            name=body.get("Name"),
            dimensions=definition.dimensions,
            segment_groups=definition.segment_groups,
        )
        if tags:
            await tags_store.put(conn, segment_arn(call, segment_id), call.app_id, tags)
        return await response(call, conn, await store.get(conn, call.app_id, segment_id))


@pinpoint(router, "UpdateSegment")
async def update_segment(call: Call) -> dict[str, Any]:
    body = call.body
    segment_id = call.labels["SegmentId"]
    async with call.ctx.engine.begin() as conn:
        current = await store.get(conn, call.app_id, segment_id, lock=True)
        # Members the request names replace the current ones; the rest carry over. The `tags`
        # member of update requests has been ignored by Pinpoint since 2023: only TagResource
        # changes tags.
        name = body.get("Name", current["name"])
        dimensions = body.get("Dimensions", current["dimensions"])
        groups = body.get("SegmentGroups", current["segment_groups"])
        definition = SegmentDefinition(current["segment_type"], dimensions, groups, segment_id)
        await _check(call, conn, definition, segment_id)
        version = await store.add_version(
            conn,
            app_id=call.app_id,
            segment_id=segment_id,
            name=name,
            dimensions=dimensions,
            segment_groups=groups,
            import_definition=current["import_definition"],
        )
        out = await response(call, conn, await store.get(conn, call.app_id, segment_id, version))
        # Carried out after the commit, so journeys refreshing on segment updates read the new version.
        await commands.segment_changed(conn, call.app_id, segment_id)
    return out


@pinpoint(router, "GetSegment")
async def get_segment(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return await response(call, conn, await store.get(conn, call.app_id, call.labels["SegmentId"]))


def _version(raw: str) -> int:
    try:
        version = int(raw)
    except ValueError:
        raise BadRequest(f"Invalid value for version: '{raw}' is not a whole number.") from None
    if version < 1:
        raise BadRequest("Invalid value for version: versions start at 1.")
    if version_number(str(version)) is None:  # versions are int4 in the store
        raise BadRequest(f"Invalid value for version: '{shown(raw)}' is past the last possible version.")
    return version


@pinpoint(router, "GetSegmentVersion")
async def get_segment_version(call: Call) -> dict[str, Any]:
    version = _version(call.labels["Version"])
    async with call.ctx.engine.connect() as conn:
        row = await store.get(conn, call.app_id, call.labels["SegmentId"], version)
        return await response(call, conn, row)


@pinpoint(router, "GetSegments")
async def get_segments(call: Call) -> dict[str, Any]:
    return await project_list(
        call.ctx.engine,
        call.app_id,
        call.query,
        lambda c, after, limit: store.page(c, call.app_id, after=after, limit=limit),
        lambda c, r: response(call, c, r),
    )


@pinpoint(router, "GetSegmentVersions")
async def get_segment_versions(call: Call) -> dict[str, Any]:
    segment_id = call.labels["SegmentId"]
    limit = page_size(call.query.get("PageSize"))
    after = version_from(call.query.get("Token"))
    async with call.ctx.engine.connect() as conn:
        await store.get(conn, call.app_id, segment_id)
        rows = await store.version_page(conn, call.app_id, segment_id, after=after, limit=limit + 1)
        items = [await response(call, conn, r) for r in rows[:limit]]
    return {"Item": items, "NextToken": next_version_token(rows, limit)}


@pinpoint(router, "DeleteSegment")
async def delete_segment(call: Call) -> dict[str, Any]:
    segment_id = call.labels["SegmentId"]
    async with call.ctx.engine.begin() as conn:
        row = await store.get(conn, call.app_id, segment_id, lock=True)
        out = await response(call, conn, row)
        await store.remove(conn, call.app_id, segment_id)
        await tags_store.drop(conn, segment_arn(call, segment_id))
    return out
