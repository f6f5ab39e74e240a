"""Who a campaign targeted (`campaign_targets`): one row per endpoint and run of a treatment (or
per event trigger), written before the messages go out, since Pinpoint's Daily and Total limits
count targeting, sent or not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import CampaignTarget

targets: Any = CampaignTarget.__table__  # type: ignore[attr-defined]


async def record(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Targeting rows (app_id, campaign_id, endpoint_id, activity_id, targeted_at); a row
    already there (a retried page) is kept."""
    if rows:
        await conn.execute(insert(targets).values(list(rows)).on_conflict_do_nothing())


async def history(
    conn: AsyncConnection,
    *,
    app_id: str,
    campaign_id: str,
    endpoint_ids: Sequence[str],
    excluding: Sequence[str],
    since: datetime,
) -> dict[str, tuple[int, int]]:
    """(times targeted over the campaign's life, times targeted after `since`) per endpoint
    that was, leaving out the activity Ids `excluding` (the run asking)."""
    if not endpoint_ids:
        return {}
    result = await conn.execute(
        select(
            targets.c.endpoint_id,
            func.count(),
            func.count().filter(targets.c.targeted_at > since),
        )
        .where(
            targets.c.app_id == app_id,
            targets.c.campaign_id == campaign_id,
            targets.c.endpoint_id.in_(list(endpoint_ids)),
            targets.c.activity_id.not_in(list(excluding)),
        )
        .group_by(targets.c.endpoint_id)
    )
    return {r[0]: (r[1], r[2]) for r in result}
