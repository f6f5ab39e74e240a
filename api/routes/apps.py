"""Projects: CreateApp, GetApp(s), DeleteApp, Get/UpdateApplicationSettings, RemoveAttributes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.app_settings import delete_project, settings_response
from api.app_settings import update_settings as update_app_settings
from api.operations import Call, pinpoint
from api.paging import created_after, next_created_token, page_size
from api.projects import create_project, project_response
from openpoint.errors import BadRequest
from store import apps as apps_store

router = APIRouter(tags=["apps"])

ATTRIBUTE_TYPES = ("endpoint-custom-attributes", "endpoint-metric-attributes", "endpoint-user-attributes")


async def app_response(call: Call, conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    return await project_response(call.ctx.settings, conn, row)


@pinpoint(router, "CreateApp")
async def create_app(call: Call) -> dict[str, Any]:
    return await create_project(call.ctx, call.body, scoped_to=call.principal.project_ids)


@pinpoint(router, "GetApp")
async def get_app(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return await app_response(call, conn, await apps_store.get(conn, call.app_id))


@pinpoint(router, "GetApps")
async def get_apps(call: Call) -> dict[str, Any]:
    limit = page_size(call.query.get("PageSize"))
    after = created_after(call.query.get("Token"))
    async with call.ctx.engine.connect() as conn:
        rows = await apps_store.page(conn, after=after, limit=limit + 1, only=call.principal.project_ids)
        items = [await app_response(call, conn, r) for r in rows[:limit]]
    return {"Item": items, "NextToken": next_created_token(rows, limit)}


@pinpoint(router, "DeleteApp")
async def delete_app(call: Call) -> dict[str, Any]:
    return await delete_project(call.ctx, call.app_id)


@pinpoint(router, "GetApplicationSettings")
async def get_settings(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return settings_response(await apps_store.get(conn, call.app_id))


@pinpoint(router, "UpdateApplicationSettings")
async def update_settings(call: Call) -> dict[str, Any]:
    return await update_app_settings(call.ctx, call.app_id, call.body)


@pinpoint(router, "RemoveAttributes")
async def remove_attributes(call: Call) -> dict[str, Any]:
    kind = call.labels["AttributeType"]
    if kind not in ATTRIBUTE_TYPES:
        raise BadRequest(f"Invalid value for attribute-type: '{kind}' is not one of {', '.join(ATTRIBUTE_TYPES)}.")
    names = call.body.get("Blacklist", [])
    async with call.ctx.engine.begin() as conn:
        row = await apps_store.get(conn, call.app_id, lock=True)
        removed = dict(row["removed_attributes"] or {})
        current = list(removed.get(kind, []))
        current += [n for n in names if n not in current]
        removed[kind] = current
        await apps_store.save_removed_attributes(conn, call.app_id, removed)
    return {"ApplicationId": call.app_id, "AttributeType": kind, "Attributes": names}
