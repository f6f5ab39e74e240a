"""Journey analytics: the four execution-metric reads and GetJourneyDateRangeKpi.

Execution metrics are counts of what participants did (store/journey_metrics.py), as strings,
evaluated when asked: LastEvaluatedTime is now. They take no date range. `page-size` and
`next-token` are in the model but every answer is one page, as in Pinpoint, so both are accepted
and ignored. The KPI goes through the same definitions and query as the campaign and project
KPIs (rules/kpis.py, store/kpis.py). docs/journey_metrics.md lists every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.operations import Call, pinpoint
from api.routes.analytics import date_range_kpi
from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from rules import kpis
from rules.journey_graph import activity_type, metrics_type
from store import journey_metrics as store
from store import journeys
from wire.codec import iso

router = APIRouter(tags=["analytics"])

# GetJourneyExecutionMetrics reports all of these, 0 included.
EXECUTION_KEYS = (
    "ENDPOINT_ENTERED",
    "ENDPOINT_ACTIVE",
    "ENDPOINT_LEFT",
    "CANCELLED",
    "REENTRY_CAP_EXCEEDED",
    "ACTIVE_ENDPOINT_REJECTED",
)


def _metrics(counts: Mapping[str, int], always: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    return {k: str(v) for k, v in {**dict.fromkeys(always, 0), **counts}.items()}


def _paths(activity: dict[str, Any]) -> list[str]:
    """The outcomes an activity reports even at 0: every way out of a split or a holdout, so
    that a path nobody has taken yet still shows."""
    kind = metrics_type(activity)
    count = len(activity[activity_type(activity)].get("Branches") or [])
    branches = [f"Branch_{i}" for i in range(1, count + 1)]
    return {
        "CONDITIONAL_SPLIT": ["True", "False"],
        "MULTI_CONDITIONAL_SPLIT": [*branches, "Else"],
        "RANDOM_SPLIT": branches,
        "HOLDOUT": ["HOLDOUT", "PASSED"],
    }.get(kind, [])


def _activity(journey: dict[str, Any], activity_id: str) -> dict[str, Any]:
    activity = ((journey["definition"] or {}).get("Activities") or {}).get(activity_id)
    if not isinstance(activity, dict):
        raise NotFound(RESOURCE_NOT_FOUND)
    return activity


async def _run(conn: AsyncConnection, app_id: str, journey_id: str, run_id: str) -> dict[str, int]:
    found = await store.run(conn, app_id, journey_id, run_id)
    if found is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return found


def _now() -> str | None:
    return iso(datetime.now(UTC))


@pinpoint(router, "GetJourneyExecutionMetrics")
async def get_journey_execution_metrics(call: Call) -> dict[str, Any]:
    journey_id = call.labels["JourneyId"]
    async with call.ctx.engine.connect() as conn:
        await journeys.get(conn, call.app_id, journey_id)
        counts = await store.journey(conn, call.app_id, journey_id)
    return {
        "ApplicationId": call.app_id,
        "JourneyId": journey_id,
        "LastEvaluatedTime": _now(),
        "Metrics": _metrics(counts, EXECUTION_KEYS),
    }


@pinpoint(router, "GetJourneyRunExecutionMetrics")
async def get_journey_run_execution_metrics(call: Call) -> dict[str, Any]:
    journey_id, run_id = call.labels["JourneyId"], call.labels["RunId"]
    async with call.ctx.engine.connect() as conn:
        await journeys.get(conn, call.app_id, journey_id)
        counts = await _run(conn, call.app_id, journey_id, run_id)
    return {
        "ApplicationId": call.app_id,
        "JourneyId": journey_id,
        "RunId": run_id,
        "LastEvaluatedTime": _now(),
        "Metrics": _metrics(counts),
    }


async def _activity_metrics(call: Call, run_id: str | None) -> dict[str, Any]:
    journey_id, activity_id = call.labels["JourneyId"], call.labels["JourneyActivityId"]
    async with call.ctx.engine.connect() as conn:
        activity = _activity(await journeys.get(conn, call.app_id, journey_id), activity_id)
        if run_id is not None:
            await _run(conn, call.app_id, journey_id, run_id)
        counts = await store.outcomes(conn, call.app_id, journey_id, activity_id, run_id=run_id)
    return {
        "ActivityType": metrics_type(activity),
        "ApplicationId": call.app_id,
        "JourneyActivityId": activity_id,
        "JourneyId": journey_id,
        "RunId": run_id,
        "LastEvaluatedTime": _now(),
        "Metrics": _metrics(counts, _paths(activity)),
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
