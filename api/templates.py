"""What CreateXTemplate and UpdateXTemplate do, importable: the routes (api/routes/templates.py)
and the console's template editors call these, so both refuse exactly the same requests with
the same errors."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from openpoint.errors import BadRequest
from rules.tags import check_tags
from rules.templates import (
    MAX_TEMPLATES,
    check_in_app,
    check_size,
    parse_substitutions,
    rendered_fields,
    update_target,
)
from store import tags as tags_store
from store import templates as store
from templating.render import check_template
from wire.arns import Arn
from wire.codec import decode_body
from wire.model import operation

# The request member each type's body is named by (what error messages start with).
FIELDS = {
    "EMAIL": "EmailTemplateRequest",
    "SMS": "SMSTemplateRequest",
    "PUSH": "PushNotificationTemplateRequest",
    "VOICE": "VoiceTemplateRequest",
    "INAPP": "InAppTemplateRequest",
}
# The operation names' spelling of each type: CreateEmailTemplate, GetInAppTemplate, ...
KINDS = {"Email": "EMAIL", "Sms": "SMS", "Push": "PUSH", "Voice": "VOICE", "InApp": "INAPP"}


def template_request(ttype: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A CreateXTemplate request body from fields that did not come over the wire (the
    console's editors), decoded and checked against botocore's model as the route's would be."""
    kind = next(k for k, t in KINDS.items() if t == ttype)
    op = operation(f"Create{kind}Template")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def template_arn(ctx: Context, ttype: str, name: str) -> str:
    return Arn("templates", None, f"{name}/{ttype}").render(ctx.settings)


def template_content(ttype: str, body: dict[str, Any], field: str) -> dict[str, Any]:
    """The request as stored, after every check that can refuse it (tags are kept apart)."""
    parse_substitutions(body.get("DefaultSubstitutions"), f"{field}.DefaultSubstitutions")
    check_size(ttype, body, field)
    if ttype == "INAPP":
        check_in_app(body, field)
    for text, part in rendered_fields(ttype, body, field):
        check_template(text, part)
    return {k: v for k, v in body.items() if k != "tags"}


async def create_tagged(ctx: Context, ttype: str, name: str, body: dict[str, Any], field: str) -> str:
    """CreateXTemplate: a decoded request body checked and stored as version 1 with its tags in
    one transaction; returns the template's ARN."""
    tags = body.get("tags", {})
    check_tags(tags, f"{field}.tags")
    content = template_content(ttype, body, field)
    arn = template_arn(ctx, ttype, name)
    async with ctx.engine.begin() as conn:
        await insert_template(conn, ttype, name, content)
        if tags:
            await tags_store.put(conn, arn, None, tags)
    return arn


async def insert_template(conn: AsyncConnection, ttype: str, name: str, content: dict[str, Any]) -> None:
    if await store.count(conn) >= MAX_TEMPLATES:
        raise BadRequest(f"An account holds at most {MAX_TEMPLATES:,} message templates.")
    await store.create(conn, template_type=ttype, name=name, content=content)


async def update_template(
    ctx: Context,
    ttype: str,
    name: str,
    content: dict[str, Any],
    *,
    create_new_version: bool,
    version: int | None,
) -> int:
    """Writes a checked `content` over the latest (or `version`) or as a new version; returns
    the version written."""
    async with ctx.engine.begin() as conn:
        head = await store.head(conn, ttype, name, lock=True)
        number, new = update_target(
            create_new_version=create_new_version,
            version=version,
            latest_existing=head["latest_existing"],
            last_assigned=head["latest_version"],
            count=head["version_count"],
        )
        await store.write_version(conn, template_type=ttype, name=name, version=number, new=new, content=content)
    return number


async def set_active_version(ctx: Context, ttype: str, name: str, version: int | None) -> None:
    """UpdateTemplateActiveVersion: `version`, or the latest when None ("latest")."""
    async with ctx.engine.begin() as conn:
        head = await store.head(conn, ttype, name, lock=True)
        await store.set_active(conn, ttype, name, head["latest_existing"] if version is None else version)
