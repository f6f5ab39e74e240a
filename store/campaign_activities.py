"""A campaign's runs (`campaign_activities`, one row per run and treatment): started and
finished by the campaign workflow's activities, read by GetCampaignActivities; and the existence
check the campaign analytics share. An event-triggered campaign's runs are one row per
treatment whose counts grow with each batch of triggers (`add_counts`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store.driver import driver
from store.tables import Campaign, CampaignActivity

campaigns: Any = Campaign.__table__  # type: ignore[attr-defined]
activities: Any = CampaignActivity.__table__  # type: ignore[attr-defined]


async def require_campaign(conn: AsyncConnection, app_id: str, campaign_id: str) -> None:
    found = await conn.scalar(select(exists().where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)))
    if not found:
        raise NotFound(RESOURCE_NOT_FOUND)


async def page(
    conn: AsyncConnection, *, app_id: str, campaign_id: str, after: tuple[int, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Newest run first, its treatments in order; `after` is the (run, treatment) last seen."""
    stmt = (
        select(activities)
        .where(activities.c.app_id == app_id, activities.c.campaign_id == campaign_id)
        .order_by(activities.c.run_number.desc(), activities.c.treatment_id)
        .limit(limit)
    )
    if after is not None:
        run, treatment = after
        stmt = stmt.where(
            or_(
                activities.c.run_number < run,
                and_(activities.c.run_number == run, activities.c.treatment_id > treatment),
            )
        )
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def start(
    conn: AsyncConnection,
    *,
    app_id: str,
    campaign_id: str,
    run_number: int,
    version: int,
    scheduled_start: datetime,
    ids: Mapping[str, str],
) -> None:
    """A run's treatments RUNNING from now; `ids`: each treatment's activity Id. A row already
    there (a retried start) is left as it is."""
    rows = [
        {
            "app_id": app_id,
            "campaign_id": campaign_id,
            "id": aid,
            "run_number": run_number,
            "treatment_id": treatment,
            "campaign_version": version,
            "scheduled_start": scheduled_start,
            "started_at": datetime.now(UTC),
            "state": "RUNNING",
        }
        for treatment, aid in ids.items()
    ]
    if rows:
        await conn.execute(insert(activities).values(rows).on_conflict_do_nothing())


async def finish(
    conn: AsyncConnection,
    *,
    app_id: str,
    campaign_id: str,
    activity_id: str,
    total: int,
    successful: int,
    metrics: Mapping[str, int],
    timezones: int,
) -> None:
    """One treatment's run COMPLETED with its counts (ExecutionMetrics kept as strings, as
    ActivityResponse carries them)."""
    await conn.execute(
        update(activities)
        .where(activities.c.app_id == app_id, activities.c.campaign_id == campaign_id, activities.c.id == activity_id)
        .values(
            state="COMPLETED",
            result="SUCCESS",
            ended_at=func.now(),
            total_endpoint_count=total,
            successful_endpoint_count=successful,
            execution_metrics={k: str(v) for k, v in metrics.items()},
            timezones_total_count=timezones,
            timezones_completed_count=timezones,
        )
    )


async def running(conn: AsyncConnection, app_id: str, campaign_id: str) -> int:
    """How many of the campaign's runs are RUNNING (a local-time run still rolling)."""
    count = await conn.scalar(
        select(func.count()).where(
            activities.c.app_id == app_id, activities.c.campaign_id == campaign_id, activities.c.state == "RUNNING"
        )
    )
    return int(count or 0)


async def add_counts(
    conn: AsyncConnection,
    app_id: str,
    campaign_id: str,
    activity_id: str,
    *,
    total: int,
    successful: int,
    metrics: Mapping[str, int],
) -> None:
    """Add to an event-triggered campaign's running activity: endpoint counts and execution
    metrics (kept as strings, as ActivityResponse.ExecutionMetrics carries them)."""
    pg = await driver(conn)
    await pg.execute(
        """
        UPDATE campaign_activities a SET
            total_endpoint_count = a.total_endpoint_count + $4,
            successful_endpoint_count = a.successful_endpoint_count + $5,
            execution_metrics = coalesce(a.execution_metrics, '{}'::jsonb) || coalesce((
                SELECT jsonb_object_agg(k, (coalesce((a.execution_metrics ->> k)::int8, 0) + v)::text)
                FROM unnest($6::text[], $7::int8[]) AS m(k, v)
            ), '{}'::jsonb)
        WHERE a.app_id = $1 AND a.campaign_id = $2 AND a.id = $3
        """,
        app_id,
        campaign_id,
        activity_id,
        total,
        successful,
        list(metrics),
        list(metrics.values()),
    )
