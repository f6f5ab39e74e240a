"""Projects: CreateApp, GetApp(s), DeleteApp, Get/UpdateApplicationSettings, RemoveAttributes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.functions import check_functions
from api.operations import Call, pinpoint
from api.paging import created_after, next_created_token, page_size
from api.projects import create_project, project_response
from engine.housekeeping import wake_housekeeping
from openpoint.errors import BadRequest
from rules.settings import check_campaign_limits, check_hook, check_journey_limits, check_quiet_time
from store import apps as apps_store
from wire.codec import iso

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
    async with call.ctx.engine.begin() as conn:
        row = await apps_store.get(conn, call.app_id, lock=True)
        response = await app_response(call, conn, row)
        await apps_store.delete_everything(conn, call.app_id)
    # The worker purges the project's big tables in batches; the project is gone already, so
    # waking it is best effort: with Temporal unreachable the next worker start or idle tick
    # finds the queued purge.
    try:
        client = await call.ctx.temporal()
    except Exception:  # noqa: BLE001 - committed; nothing here may turn it into an error
        return response
    await wake_housekeeping(client, call.ctx.settings.task_queue)
    return response


def settings_response(row: dict[str, Any]) -> dict[str, Any]:
    s = row["settings"] or {}
    return {
        "ApplicationId": row["id"],
        "CampaignHook": s.get("CampaignHook"),
        "LastModifiedDate": iso(row["settings_modified_at"]),
        "Limits": s.get("Limits"),
        "QuietTime": s.get("QuietTime"),
        "JourneyLimits": s.get("JourneyLimits"),
    }


@pinpoint(router, "GetApplicationSettings")
async def get_settings(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        return settings_response(await apps_store.get(conn, call.app_id))


@pinpoint(router, "UpdateApplicationSettings")
async def update_settings(call: Call) -> dict[str, Any]:
    body = call.body
    field = "WriteApplicationSettingsRequest"
    if "QuietTime" in body:
        check_quiet_time(body["QuietTime"], f"{field}.QuietTime")
    if "Limits" in body:
        check_campaign_limits(body["Limits"], f"{field}.Limits")
    if "JourneyLimits" in body:
        check_journey_limits(body["JourneyLimits"], f"{field}.JourneyLimits")
    if "CampaignHook" in body:
        check_hook(body["CampaignHook"], f"{field}.CampaignHook")
        check_functions(call.ctx, body, field)
    async with call.ctx.engine.begin() as conn:
        row = await apps_store.get(conn, call.app_id, lock=True)
        # Members the request names replace the stored ones; the rest are kept.
        merged = {**(row["settings"] or {}), **body}
        return settings_response(await apps_store.save_settings(conn, call.app_id, merged))


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
