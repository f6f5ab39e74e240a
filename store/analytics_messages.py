"""Message figures for the analytics pages (campaigns, journeys, transactional): the measures
of rules/kpis.py turned into SQL by store/kpis.py's builder, grouped as a page needs, over the
events of one scope and date range, narrowed to the filtered endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rules.kpis import Measure, Scope
from store.analytics_scope import numbered
from store.driver import driver
from store.kpis import SCOPES as KPI_SCOPES  # the KPIs' own scope conditions
from store.kpis import Builder  # the KPIs' own aggregates

# The pages' scopes: the KPIs' own, and every journey's live messages.
SCOPES = {
    "campaigns": KPI_SCOPES[Scope.CAMPAIGNS],
    "campaign": KPI_SCOPES[Scope.CAMPAIGN],
    "transactional": KPI_SCOPES[Scope.TRANSACTIONAL],
    "journeys": "attributes->>'journey_id' IS NOT NULL AND attributes->>'journey_test_run_id' IS NULL",
    "journey": KPI_SCOPES[Scope.JOURNEY],
    # Sessions opened from a campaign's notification carry its ids (the SDK copies them).
    "campaign_sessions": "attributes->>'campaign_id' IS NOT NULL AND attributes->>'campaign_id' <> '_DIRECT'",
    "campaign_session": "attributes->>'campaign_id' = :campaign_id",
}

DATE = "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
HOUR = "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:00\"Z\"')"
HOUR_OF_DAY = "to_char(event_time AT TIME ZONE 'UTC', 'HH24')"
CAMPAIGN = "attributes->>'campaign_id'"
TREATMENT = "coalesce(attributes->>'treatment_id', '0')"
JOURNEY = "attributes->>'journey_id'"
JOURNEY_ACTIVITY = "attributes->>'journey_activity_id'"
ADDRESS = "attributes->>'address'"

Grouped = list[tuple[tuple[str, ...], list[int]]]


async def measured(
    conn: AsyncConnection,
    *,
    app_id: str,
    start: datetime,
    end: datetime,
    scope: str,
    groups: Sequence[str],
    measures: Sequence[Measure],
    endpoints: str = "TRUE",
    params: Sequence[Any] = (),
    owner: dict[str, str] | None = None,
) -> Grouped:
    """Per group (the values of `groups`' SQL, in order), each measure's count over the events
    in [start, end) of `scope` (a key of SCOPES; `owner` binds its :campaign_id / :journey_id)
    whose endpoint meets `endpoints` (a condition with its `params`, store/analytics_scope.py).
    Groups with a NULL value are left out."""
    b = Builder()
    aggregates = [b.aggregate(m) for m in measures]
    every = b.every_event()
    keys = [f"{g} AS g{i}" for i, g in enumerate(groups)]
    positions = ", ".join(str(i + 1) for i in range(len(groups)))
    named: dict[str, Any] = {**b.arrays, **(owner or {}), "app_id": app_id, "start": start, "end": end}
    sql = (
        f"SELECT {', '.join(keys + [f'{a} AS v{i}' for i, a in enumerate(aggregates)])} FROM events"
        f" WHERE app_id = :app_id AND event_time >= :start AND event_time < :end AND event_type = ANY({every})"
        f" AND {SCOPES[scope]} AND {endpoints}"
        f" GROUP BY {positions} ORDER BY {positions}"
    )
    bound = list(params)
    statement = numbered(sql, named, bound)
    rows = await (await driver(conn)).fetch(statement, *bound)
    out: Grouped = []
    for r in rows:
        group = tuple(r[f"g{i}"] for i in range(len(groups)))
        if any(g is None for g in group):
            continue
        out.append((group, [int(r[f"v{i}"]) for i in range(len(measures))]))
    return out


async def holdouts(
    conn: AsyncConnection, *, app_id: str, start: datetime, end: datetime, campaign_id: str | None
) -> dict[str, int]:
    """Per campaign, the endpoints its runs in [start, end) held out (TREATMENT_HOLDOUT)."""
    rows = await (await driver(conn)).fetch(
        "SELECT campaign_id, sum(coalesce((execution_metrics->>'TREATMENT_HOLDOUT')::bigint, 0)) AS held"
        " FROM campaign_activities WHERE app_id = $1 AND coalesce(started_at, scheduled_start) >= $2"
        " AND coalesce(started_at, scheduled_start) < $3 AND ($4::text IS NULL OR campaign_id = $4)"
        " GROUP BY campaign_id",
        app_id,
        start,
        end,
        campaign_id,
    )
    return {r["campaign_id"]: int(r["held"]) for r in rows if r["held"]}
