"""Segments: Create/Get/Update/Delete, GetSegments, GetSegmentVersion(s). Every update makes a
new version; old versions stay readable (campaigns pin them). Create and Update do their work in
api/segments.py, which the console calls too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api import segments
from api.operations import Call, pinpoint
from api.paging import (
    next_version_token,
    page_size,
    project_list,
    version_from,
)
from api.routes.tags import TAGGABLE
from api.segments import segment_arn, segment_response
from openpoint.errors import BadRequest, NotFound
from rules.bounds import shown, version_number
from store import segments as store
from store import tags as tags_store
from wire.arns import Arn

router = APIRouter(tags=["segments"])


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    try:
        await store.get(conn, arn.app_id or "", arn.resource_id or "")
    except NotFound:
        return False
    return True


TAGGABLE["segments"] = _exists


async def response(call: Call, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    return await segment_response(call.ctx, conn, row)


@pinpoint(router, "CreateSegment")
async def create_segment(call: Call) -> dict[str, Any]:
    return await segments.create_segment(call.ctx, call.app_id, call.body)


@pinpoint(router, "UpdateSegment")
async def update_segment(call: Call) -> dict[str, Any]:
    return await segments.update_segment(call.ctx, call.app_id, call.labels["SegmentId"], call.body)


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
        await tags_store.drop(conn, segment_arn(call.ctx, call.app_id, segment_id))
    return out
