"""Reads of a campaign's runs (`campaign_activities`, written by the campaign workflow's
activities): GetCampaignActivities, and the existence check the campaign analytics share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
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
