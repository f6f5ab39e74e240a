"""The endpoints a page's `Filters` keep: as the SQL condition store/analytics_scope.py builds
(the endpoints matching now, a segment's members as campaigns resolve them), or, when the
aggregate rollups can answer, as the one rollup dimension they keep.

Which path a figure takes (docs/analytics.md, "Filters"):
- no filter, or values of ONE dimension (platform, channel, app version or one endpoint
  attribute) and no segment: the aggregate rollups (an_active), where each endpoint-day is
  filed under the values its profile had that day (`rollup_dimension`);
- a segment, or filters on several dimensions (AND-ed): the per-endpoint rollup rows (or raw
  events) of the endpoints matching now (`scope`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.model import Filters
from analytics.rollups import ALL, ATTRIBUTE, CHANNEL
from store.analytics_scope import endpoint_condition, endpoint_ids

COLUMN = "x.endpoint_id"  # the column store/analytics_filtered.py's statements filter


async def condition(conn: AsyncConnection, app_id: str, filters: Filters, params: list[Any], column: str) -> str:
    """`TRUE`, or `<column> IN (...)` with its parameters appended to `params`."""
    return await endpoint_condition(
        conn,
        app_id,
        params,
        now=datetime.now(UTC),  # a segment's membership as of now, as campaigns resolve it
        column=column,
        segment_id=filters.segment_id,
        attributes=filters.attributes,
        platforms=filters.platforms,
        channels=filters.channels,
        app_versions=filters.app_versions,
    )


async def scope(conn: AsyncConnection, app_id: str, filters: Filters) -> tuple[str, list[Any]]:
    """The filtered endpoints as a condition over `x.endpoint_id` and its parameters (an unknown
    segment is a BadRequest naming segment-id)."""
    params: list[Any] = []
    return await condition(conn, app_id, filters, params, COLUMN), params


def rollup_dimension(filters: Filters) -> tuple[str, list[str]] | None:
    """(an_active dimension, its values) for no filter or one dimension's values; None when the
    filters need the per-endpoint path (a segment, or several dimensions)."""
    if filters.segment_id:
        return None
    chosen = [
        (dim, values)
        for dim, values in (
            ("platform", [p.lower() for p in filters.platforms]),  # Platform is matched case-insensitively
            (CHANNEL, list(filters.channels)),
            ("app-version", list(filters.app_versions)),
            *((ATTRIBUTE + k, list(v)) for k, v in sorted(filters.attributes.items())),
        )
        if values
    ]
    if not chosen:
        return ALL[0], [ALL[1]]
    return chosen[0] if len(chosen) == 1 else None


async def ids(conn: AsyncConnection, app_id: str, filters: Filters) -> list[str] | None:
    """The filtered endpoints' ids (None: no filter, every endpoint), for the ClickHouse backend:
    the endpoints matching now, as `scope` keeps them (the one path there; see docs/analytics.md)."""
    if filters.empty:
        return None
    params: list[Any] = []
    where = await condition(conn, app_id, filters, params, "n.id")
    return await endpoint_ids(conn, app_id, where, params)
