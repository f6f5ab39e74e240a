"""The endpoints a page's `Filters` keep, as the SQL condition store/analytics_scope.py builds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.model import Filters
from store.analytics_scope import endpoint_condition


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
