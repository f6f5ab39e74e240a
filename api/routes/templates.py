"""Message templates: Create/Get/Update/Delete{Email,Sms,Push,Voice,InApp}Template,
UpdateTemplateActiveVersion, ListTemplates, ListTemplateVersions.

Templates belong to the account (they outlive any project) and are versioned: an update either
overwrites the latest version or appends a new one, and one version is the active one that sends
use unless they pin another.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.operations import Call, pinpoint
from api.paging import decode_token, encode_token, page_size
from api.routes.tags import TAGGABLE
from api.templates import KINDS, create_tagged, set_active_version, template_content, update_template
from api.templates import template_arn as arn_of
from openpoint.errors import BadRequest
from rules.templates import (
    LATEST,
    TYPES,
    check_name,
    check_version_delete,
    parse_version,
    template_type,
)
from store import tags as tags_store
from store import templates as store
from wire.arns import Arn
from wire.codec import iso

router = APIRouter(tags=["templates"])


def template_arn(call: Call, ttype: str, name: str) -> str:
    return arn_of(call.ctx, ttype, name)


async def _exists(conn: AsyncConnection, arn: Arn) -> bool:
    name, _, ttype = (arn.resource_id or "").partition("/")
    return ttype in TYPES and await store.exists(conn, ttype, name)


TAGGABLE["templates"] = _exists


def _name(call: Call) -> str:
    name = call.labels["TemplateName"]
    check_name(name)
    return name


def _version(call: Call) -> int | None:
    raw = call.query.get("Version")
    return None if raw is None else parse_version(raw)


def _field(call: Call) -> str:
    """The payload's name, which errors about its members start with (EmailTemplateRequest...)."""
    return call.op.payload_member or "TemplateRequest"


def _content(call: Call, ttype: str) -> dict[str, Any]:
    return template_content(ttype, call.body, _field(call))


def _members(row: dict[str, Any], created_at: Any, modified_at: Any) -> dict[str, Any]:
    """What a version response and a template response share (TemplateVersionResponse)."""
    return {
        "CreationDate": iso(created_at),
        "DefaultSubstitutions": row["default_substitutions"],
        "LastModifiedDate": iso(modified_at),
        "TemplateDescription": row["description"],
        "TemplateName": row["name"],
        "TemplateType": row["template_type"],
        "Version": str(row["version"]),
    }


def _summary(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    """TemplateResponse without tags: a template's dates are the template's, not its version's."""
    arn = template_arn(call, row["template_type"], row["name"])
    return {**_members(row, row["created_at"], row["updated_at"]), "Arn": arn}


def _accepted(call: Call) -> dict[str, Any]:
    return {"Message": "Accepted", "RequestID": call.request_id}


def _register(kind: str, ttype: str) -> None:
    """The four operations of one template type: the same handlers, parameterised by type."""

    @pinpoint(router, f"Create{kind}Template")
    async def create(call: Call) -> dict[str, Any]:
        arn = await create_tagged(call.ctx, ttype, _name(call), call.body, _field(call))
        return {"Arn": arn, "Message": "Created", "RequestID": call.request_id}

    @pinpoint(router, f"Get{kind}Template")
    async def get(call: Call) -> dict[str, Any]:
        name, version = _name(call), _version(call)
        async with call.ctx.engine.connect() as conn:
            row = await store.get(conn, ttype, name, version)
            tags = await tags_store.get(conn, template_arn(call, ttype, name))
        return {**row["content"], **_summary(call, row), "tags": tags}

    @pinpoint(router, f"Update{kind}Template")
    async def update(call: Call) -> dict[str, Any]:
        # The request's `tags` are ignored, as Pinpoint has done since 2023: only TagResource
        # changes a template's tags.
        name, version = _name(call), _version(call)
        content = _content(call, ttype)
        await update_template(
            call.ctx,
            ttype,
            name,
            content,
            create_new_version=bool(call.query.get("CreateNewVersion", False)),
            version=version,
        )
        return _accepted(call)

    @pinpoint(router, f"Delete{kind}Template")
    async def delete(call: Call) -> dict[str, Any]:
        name, version = _name(call), _version(call)
        async with call.ctx.engine.begin() as conn:
            head = await store.head(conn, ttype, name, lock=True)
            if version is None:
                await store.remove(conn, ttype, name)
                await tags_store.drop(conn, template_arn(call, ttype, name))
            else:
                check_version_delete(version, head["active_version"])
                await store.remove_version(conn, ttype, name, version)
        return _accepted(call)


for _kind, _ttype in KINDS.items():
    _register(_kind, _ttype)


@pinpoint(router, "UpdateTemplateActiveVersion")
async def update_active_version(call: Call) -> dict[str, Any]:
    ttype, name = template_type(call.labels["TemplateType"]), _name(call)
    raw = call.body.get("Version")
    if raw is None:
        raise BadRequest("Missing required member TemplateActiveVersionRequest.Version.")
    version = None if raw.lower() == LATEST else parse_version(raw, "TemplateActiveVersionRequest.Version")
    await set_active_version(call.ctx, ttype, name, version)
    return _accepted(call)


def _token_key(call: Call, *types: type) -> list[Any] | None:
    """The keyset a next-token stands for, checked against the shape this server issues."""
    key = decode_token(call.query.get("NextToken"), "next-token")
    if key is not None and (
        len(key) != len(types) or not all(isinstance(k, t) for k, t in zip(key, types, strict=True))
    ):
        raise BadRequest("Invalid value for next-token: the token is not one this server issued.")
    return key


@pinpoint(router, "ListTemplates")
async def list_templates(call: Call) -> dict[str, Any]:
    limit = page_size(call.query.get("PageSize"))
    key = _token_key(call, str, str)
    raw_type = call.query.get("TemplateType")
    ttype = None if raw_type is None else template_type(raw_type)
    async with call.ctx.engine.connect() as conn:
        rows = await store.page(
            conn,
            prefix=call.query.get("Prefix"),
            template_type=ttype,
            after=(key[0], key[1]) if key else None,
            limit=limit + 1,
        )
        items = [
            {**_summary(call, r), "tags": await tags_store.get(conn, template_arn(call, r["template_type"], r["name"]))}
            for r in rows[:limit]
        ]
    last = rows[limit - 1] if len(rows) > limit else None
    return {"Item": items, "NextToken": encode_token([last["name"], last["template_type"]]) if last else None}


@pinpoint(router, "ListTemplateVersions")
async def list_template_versions(call: Call) -> dict[str, Any]:
    ttype, name = template_type(call.labels["TemplateType"]), _name(call)
    limit = page_size(call.query.get("PageSize"))
    key = _token_key(call, int)
    async with call.ctx.engine.connect() as conn:
        await store.head(conn, ttype, name)
        rows = await store.version_page(conn, ttype, name, after=key[0] if key else None, limit=limit + 1)
    items = [_members(r, r["version_created_at"], r["version_updated_at"]) for r in rows[:limit]]
    next_token = encode_token([rows[limit - 1]["version"]]) if len(rows) > limit else None
    return {"Item": items, "NextToken": next_token, "RequestID": call.request_id}
