"""Journey analytics: the four execution-metric reads and GetJourneyDateRangeKpi.

Execution metrics are counts of what participants did (store/journey_metrics.py), as strings,
evaluated when asked: LastEvaluatedTime is now. They take no date range. `page-size` and
`next-token` are in the model but every answer is one page, as in Pinpoint, so both are accepted
and ignored. Their work is api/journey_metrics.py's, shared with the console's journey page.
The KPI goes through the same definitions and query as the campaign and project
KPIs (rules/kpis.py, store/kpis.py). docs/journey_metrics.md lists every key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.journey_metrics import activity_execution, activity_of, execution, run_counts
from api.operations import Call, pinpoint
from api.routes.analytics import date_range_kpi
from rules import kpis
from store import journeys
from wire.codec import iso

router = APIRouter(tags=["analytics"])


def _now() -> str | None:
    return iso(datetime.now(UTC))


@pinpoint(router, "GetJourneyExecutionMetrics")
async def get_journey_execution_metrics(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    async with call.ctx.engine.connect() as conn:
        await journeys.get(conn, call.app_id, journey_id)
        metrics = await execution(conn, call.app_id, journey_id)
    return {
        "ApplicationId": call.app_id,
        "JourneyId": journey_id,
        "LastEvaluatedTime": _now(),
        "Metrics": metrics,
    }


@pinpoint(router, "GetJourneyRunExecutionMetrics")
async def get_journey_run_execution_metrics(call: Call) -> dict[str, Any]:
    journey_id, run_id = call.labels["JourneyId"], call.labels["RunId"]
    async with call.ctx.engine.connect() as conn:
        await journeys.get(conn, call.app_id, journey_id)
        metrics = await execution(conn, call.app_id, journey_id, run_id)
    return {
        "ApplicationId": call.app_id,
        "JourneyId": journey_id,
        "RunId": run_id,
        "LastEvaluatedTime": _now(),
        "Metrics": metrics,
    }


async def _activity_metrics(call: Call, run_id: str | None) -> dict[str, Any]:
    journey_id, activity_id = call.labels["JourneyId"], call.labels["JourneyActivityId"]
    async with call.ctx.engine.connect() as conn:
        journey = await journeys.get(conn, call.app_id, journey_id)
        activity_of(journey, activity_id)
        if run_id is not None:
            await run_counts(conn, call.app_id, journey_id, run_id)
        kind, metrics = await activity_execution(conn, call.app_id, journey, activity_id, run_id)
    return {
        "ActivityType": kind,
        "ApplicationId": call.app_id,
        "JourneyActivityId": activity_id,
        "JourneyId": journey_id,
        "RunId": run_id,
        "LastEvaluatedTime": _now(),
        "Metrics": metrics,
    }


@pinpoint(router, "GetJourneyExecutionActivityMetrics")
async def get_journey_execution_activity_metrics(call: Call) -> dict[str, Any]:
    return await _activity_metrics(call, None)


@pinpoint(router, "GetJourneyRunExecutionActivityMetrics")
async def get_journey_run_execution_activity_metrics(call: Call) -> dict[str, Any]:
    return await _activity_metrics(call, call.labels["RunId"])


@pinpoint(router, "GetJourneyDateRangeKpi")
async def get_journey_date_range_kpi(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    kpi = kpis.lookup(call.labels["KpiName"], journey=True)

    async def require(conn: AsyncConnection) -> None:
        await journeys.get(conn, call.app_id, journey_id)

    return await date_range_kpi(call, kpi, require, {"JourneyId": journey_id})
