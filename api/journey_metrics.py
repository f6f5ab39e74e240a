"""The journey execution metrics' work (GetJourneyExecutionMetrics, GetJourneyRunExecutionMetrics
and their per-activity reads), shared by the routes (api/routes/journey_metrics.py) and the
console's journey page, whose canvas shows the same counts the API answers.

Counts of what participants did (store/journey_metrics.py), as strings; test participants are
never counted. Every way out of a split or a holdout is reported even at 0, so that a path nobody
has taken yet still shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from rules.journey_graph import activity_type, metrics_type
from store import journey_metrics as store

# GetJourneyExecutionMetrics reports all of these, 0 included.
EXECUTION_KEYS = (
    "ENDPOINT_ENTERED",
    "ENDPOINT_ACTIVE",
    "ENDPOINT_LEFT",
    "CANCELLED",
    "REENTRY_CAP_EXCEEDED",
    "ACTIVE_ENDPOINT_REJECTED",
)


def as_metrics(counts: Mapping[str, int], always: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    return {k: str(v) for k, v in {**dict.fromkeys(always, 0), **counts}.items()}


def paths_reported(activity: dict[str, Any]) -> list[str]:
    """The outcomes an activity reports even at 0: every way out of a split or a holdout."""
    kind = metrics_type(activity)
    count = len(activity[activity_type(activity)].get("Branches") or [])
    branches = [f"Branch_{i}" for i in range(1, count + 1)]
    return {
        "CONDITIONAL_SPLIT": ["True", "False"],
        "MULTI_CONDITIONAL_SPLIT": [*branches, "Else"],
        "RANDOM_SPLIT": branches,
        "HOLDOUT": ["HOLDOUT", "PASSED"],
    }.get(kind, [])


def activity_of(journey: dict[str, Any], activity_id: str) -> dict[str, Any]:
    """The stored journey's activity, or NotFound as the API answers for an unknown id."""
    activity = ((journey["definition"] or {}).get("Activities") or {}).get(activity_id)
    if not isinstance(activity, dict):
        raise NotFound(RESOURCE_NOT_FOUND)
    return activity


async def run_counts(conn: AsyncConnection, app_id: str, journey_id: str, run_id: str) -> dict[str, int]:
    found = await store.run(conn, app_id, journey_id, run_id)
    if found is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return found


async def execution(conn: AsyncConnection, app_id: str, journey_id: str, run_id: str | None = None) -> dict[str, str]:
    """The Metrics of GetJourneyExecutionMetrics, or of GetJourneyRunExecutionMetrics for a run
    (the caller has checked that the journey exists)."""
    if run_id is None:
        return as_metrics(await store.journey(conn, app_id, journey_id), EXECUTION_KEYS)
    return as_metrics(await run_counts(conn, app_id, journey_id, run_id))


async def activity_execution(
    conn: AsyncConnection, app_id: str, journey: dict[str, Any], activity_id: str, run_id: str | None = None
) -> tuple[str, dict[str, str]]:
    """(ActivityType, Metrics) of GetJourney(Run)ExecutionActivityMetrics for a stored journey
    (the caller has checked the run, if any)."""
    activity = activity_of(journey, activity_id)
    counts = await store.outcomes(conn, app_id, journey["id"], activity_id, run_id=run_id)
    return metrics_type(activity), as_metrics(counts, paths_reported(activity))
