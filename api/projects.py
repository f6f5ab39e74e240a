"""Creating a project: CreateApp's work, shared by its route and the console, so that both
validate alike and refuse with the same errors."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from api.context import Context
from openpoint.errors import BadRequest, Forbidden
from openpoint.settings import Settings
from rules.tags import check_tags
from store import apps as apps_store
from store import tags as tags_store
from wire.arns import app_arn
from wire.codec import decode_body, iso
from wire.model import operation


async def project_response(settings: Settings, conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    arn = app_arn(settings, row["id"])
    return {
        "Arn": arn,
        "Id": row["id"],
        "Name": row["name"],
        "tags": await tags_store.get(conn, arn),
        "CreationDate": iso(row["created_at"]),
    }


def create_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A CreateApplicationRequest from fields that did not come over the wire (the console's
    form), decoded and checked against botocore's model as a request body would be."""
    op = operation("CreateApp")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


async def create_project(ctx: Context, body: dict[str, Any], *, scoped_to: frozenset[str] | None) -> dict[str, Any]:
    """`body` is a decoded CreateApplicationRequest; `scoped_to` the projects the caller is
    limited to (None: every project), since a caller limited to some may not add one."""
    name = body["Name"].strip()
    if not name:
        raise BadRequest("Invalid value for CreateApplicationRequest.Name: must not be empty.")
    tags = body.get("tags", {})
    check_tags(tags, "CreateApplicationRequest.tags")
    if scoped_to is not None:
        raise Forbidden("This access key is scoped to existing projects and may not create one.")
    app_id = uuid.uuid4().hex
    async with ctx.engine.begin() as conn:
        row = await apps_store.create(conn, app_id=app_id, name=name)
        if tags:
            await tags_store.put(conn, app_arn(ctx.settings, app_id), app_id, tags)
        return await project_response(ctx.settings, conn, row)
