"""GetCampaignActivities: one ActivityResponse per run and treatment of a campaign, newest run
first, as the campaign workflow's activities record them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.operations import Call, pinpoint
from api.paging import decode_token, encode_token, page_size
from openpoint.errors import BadRequest
from store import apps as apps_store
from store import campaign_activities as store
from wire.codec import iso

router = APIRouter(tags=["campaigns"])


def activity_response(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ApplicationId": row["app_id"],
        "CampaignId": row["campaign_id"],
        "Id": row["id"],
        "TreatmentId": row["treatment_id"],
        "ScheduledStart": iso(row["scheduled_start"]),
        "Start": iso(row["started_at"]),
        "End": iso(row["ended_at"]),
        "State": row["state"],
        "Result": row["result"],
        "TotalEndpointCount": row["total_endpoint_count"],
        "SuccessfulEndpointCount": row["successful_endpoint_count"],
        "TimezonesTotalCount": row["timezones_total_count"],
        "TimezonesCompletedCount": row["timezones_completed_count"],
        # Counts, sent as strings like every execution metric Pinpoint returns.
        "ExecutionMetrics": {k: str(v) for k, v in (row["execution_metrics"] or {}).items()},
    }


def _after(raw: str | None) -> tuple[int, str] | None:
    key = decode_token(raw)
    if key is None:
        return None
    try:
        return int(key[0]), str(key[1])
    except (IndexError, TypeError, ValueError):
        raise BadRequest("Invalid value for token: the token is not one this server issued.") from None


@pinpoint(router, "GetCampaignActivities")
async def get_campaign_activities(call: Call) -> dict[str, Any]:
    limit = page_size(call.query.get("PageSize"))
    after = _after(call.query.get("Token"))
    campaign_id = call.labels["CampaignId"]
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        await store.require_campaign(conn, call.app_id, campaign_id)
        rows = await store.page(conn, app_id=call.app_id, campaign_id=campaign_id, after=after, limit=limit + 1)
    last = rows[limit - 1] if len(rows) > limit else None
    return {
        "Item": [activity_response(r) for r in rows[:limit]],
        "NextToken": encode_token([last["run_number"], last["treatment_id"]]) if last else None,
    }
