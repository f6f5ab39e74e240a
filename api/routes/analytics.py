"""Analytics: GetCampaignDateRangeKpi and GetApplicationDateRangeKpi.

The metric's name picks a definition (rules/kpis.py), the date range is checked (31 days at
most, starting within the 90 days of retention, the last 31 days by default) and one query
counts the project's standard events (store/kpis.py). The usage and revenue names
(analytics/kpis.py) are answered from the analytics rollups. `page-size` and `next-token` are not
supported for these metrics in Pinpoint either: NextToken is never set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from analytics import kpis as usage_kpis
from api.operations import Call, pinpoint
from rules import kpis as rules
from store import apps as apps_store
from store import campaign_activities
from store import kpis as store
from wire.codec import iso

router = APIRouter(tags=["analytics"])


Require = Callable[[AsyncConnection], Awaitable[Any]]
# The response member naming a KPI's owner -> store.count's argument for it.
_OWNERS = {"CampaignId": "campaign_id", "JourneyId": "journey_id"}


async def date_range_kpi(call: Call, kpi: rules.Kpi, require: Require, owner: dict[str, str]) -> dict[str, Any]:
    """A *DateRangeKpiResponse: `require` checks the owner exists (NotFound otherwise); `owner`
    is {} for the project, {"CampaignId": id} or {"JourneyId": id}."""
    start, end = rules.date_range(call.query.get("StartTime"), call.query.get("EndTime"), now=datetime.now(UTC))
    async with call.ctx.engine.connect() as conn:
        await require(conn)
        scope = {_OWNERS[member]: value for member, value in owner.items()}
        counted = await store.count(conn, kpi, app_id=call.app_id, start=start, end=end, **scope)
    return {
        "ApplicationId": call.app_id,
        **owner,
        "KpiName": kpi.name,
        "StartTime": iso(start),
        "EndTime": iso(end),
        "KpiResult": {"Rows": rules.result_rows(kpi, counted)},
    }


async def usage_kpi(call: Call, name: str) -> dict[str, Any]:
    """A usage or revenue KPI (analytics/kpis.py), answered from the analytics rollups."""
    start, end = rules.date_range(call.query.get("StartTime"), call.query.get("EndTime"), now=datetime.now(UTC))
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        table = await usage_kpis.kpi(conn, call.app_id, name, start, end)
    return {
        "ApplicationId": call.app_id,
        "KpiName": name,
        "StartTime": iso(start),
        "EndTime": iso(end),
        "KpiResult": {"Rows": table.kpi_rows()},
    }


async def _kpi(call: Call, campaign_id: str | None) -> dict[str, Any]:
    if campaign_id is None and call.labels["KpiName"] in usage_kpis.KPIS:
        return await usage_kpi(call, call.labels["KpiName"])
    kpi = rules.lookup(call.labels["KpiName"], campaign=campaign_id is not None)

    async def require(conn: AsyncConnection) -> None:
        await apps_store.get(conn, call.app_id)
        if campaign_id is not None:
            await campaign_activities.require_campaign(conn, call.app_id, campaign_id)

    return await date_range_kpi(call, kpi, require, {"CampaignId": campaign_id} if campaign_id else {})


@pinpoint(router, "GetCampaignDateRangeKpi")
async def get_campaign_date_range_kpi(call: Call) -> dict[str, Any]:
    return await _kpi(call, call.labels["CampaignId"])


@pinpoint(router, "GetApplicationDateRangeKpi")
async def get_application_date_range_kpi(call: Call) -> dict[str, Any]:
    return await _kpi(call, None)
