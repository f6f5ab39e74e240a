"""A project's settings and its deletion: UpdateApplicationSettings' and DeleteApp's work and
the ApplicationSettingsResource, shared by their routes and the console's Settings page, so that
both validate alike and refuse with the same errors (as api/projects.py does for CreateApp)."""

from __future__ import annotations

from typing import Any

import orjson

from api.context import Context
from api.functions import check_functions
from api.projects import project_response
from engine.housekeeping import wake_housekeeping
from rules.settings import check_campaign_limits, check_hook, check_journey_limits, check_quiet_time
from store import apps as apps_store
from wire.codec import decode_body, iso
from wire.model import operation

FIELD = "WriteApplicationSettingsRequest"


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


def stored_settings(row: dict[str, Any]) -> dict[str, Any]:
    """Everything UpdateApplicationSettings stored, including the members the resource does not
    return (CloudWatchMetricsEnabled, EventTaggingEnabled), for the console to show."""
    return dict(row["settings"] or {})


def settings_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A WriteApplicationSettingsRequest from fields that did not come over the wire (the
    console's form), decoded and checked against botocore's model as a request body would be."""
    op = operation("UpdateApplicationSettings")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


async def update_settings(ctx: Context, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` is a decoded WriteApplicationSettingsRequest; nothing is written on refusal."""
    if "QuietTime" in body:
        check_quiet_time(body["QuietTime"], f"{FIELD}.QuietTime")
    if "Limits" in body:
        check_campaign_limits(body["Limits"], f"{FIELD}.Limits")
    if "JourneyLimits" in body:
        check_journey_limits(body["JourneyLimits"], f"{FIELD}.JourneyLimits")
    if "CampaignHook" in body:
        check_hook(body["CampaignHook"], f"{FIELD}.CampaignHook")
        check_functions(ctx, body, FIELD)
    async with ctx.engine.begin() as conn:
        row = await apps_store.get(conn, app_id, lock=True)
        # Members the request names replace the stored ones; the rest are kept.
        merged = {**(row["settings"] or {}), **body}
        return settings_response(await apps_store.save_settings(conn, app_id, merged))


async def delete_project(ctx: Context, app_id: str) -> dict[str, Any]:
    """DeleteApp: the project and everything in it; answers the ApplicationResponse it was."""
    async with ctx.engine.begin() as conn:
        row = await apps_store.get(conn, app_id, lock=True)
        response = await project_response(ctx.settings, conn, row)
        await apps_store.delete_everything(conn, app_id)
    # The worker purges the project's big tables in batches; the project is gone already, so
    # waking it is best effort: with Temporal unreachable the next worker start or idle tick
    # finds the queued purge.
    try:
        client = await ctx.temporal()
    except Exception:  # noqa: BLE001 - committed; nothing here may turn it into an error
        return response
    await wake_housekeeping(client, ctx.settings.task_queue)
    return response
