"""Who a campaign targeted (`campaign_targets`): one row per endpoint and run of a treatment (or
per event trigger), written before the messages go out, since Pinpoint's Daily and Total limits
count targeting, sent or not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import columns_of, driver, unnest_insert
from store.tables import CampaignTarget

targets: Any = CampaignTarget.__table__  # type: ignore[attr-defined]

_COLUMNS = [
    ("app_id", "text"),
    ("campaign_id", "text"),
    ("endpoint_id", "text"),
    ("activity_id", "text"),
    ("targeted_at", "timestamptz"),
]
# Column arrays through unnest, one prepared statement whatever the page's size: a multi-row
# VALUES insert is compiled anew for every page by SQLAlchemy (a tenth of a campaign's worker CPU).
_RECORD = f"{unnest_insert('campaign_targets', _COLUMNS)} ON CONFLICT DO NOTHING"


async def record(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Targeting rows (app_id, campaign_id, endpoint_id, activity_id, targeted_at); a row
    already there (a retried page) is kept."""
    if rows:
        await (await driver(conn)).execute(_RECORD, *columns_of(list(rows), _COLUMNS))


# A page's thousand endpoint ids as one array parameter (not a thousand bind parameters).
_HISTORY = (
    "SELECT endpoint_id, count(*), count(*) FILTER (WHERE targeted_at > $5) FROM campaign_targets"
    " WHERE app_id = $1 AND campaign_id = $2 AND endpoint_id = ANY($3::text[])"
    " AND NOT (activity_id = ANY($4::text[])) GROUP BY endpoint_id"
)


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
    found = await (await driver(conn)).fetch(_HISTORY, app_id, campaign_id, list(endpoint_ids), list(excluding), since)
    return {r[0]: (r[1], r[2]) for r in found}
