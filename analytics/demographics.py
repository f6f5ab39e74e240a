"""Demographics: the endpoints active in a window by platform, platform version, app version,
make, model, locale, country, region, city, channel or any custom endpoint attribute
(`attribute.<name>`), from the rollups (an endpoint counts under the values its profile had on
its first active day in the window).

Unfiltered, or filtered by the grouped dimension's own values: the aggregate rollups
(an_active). Any other filter (a segment, another dimension, several): the per-endpoint rollup
rows (an_endpoint_days) of the filtered endpoints (analytics/endpoints.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import ids, rollup_dimension, scope
from analytics.model import Column, Filters, Table, Window
from analytics.rollups import ATTRIBUTE, CHANNEL, DIMENSIONS
from openpoint.errors import BadRequest
from store import analytics_filtered as f
from store import analytics_queries as q
from store import clickhouse_pages as chq
from store.clickhouse import ClickHouse

NAMES = (*DIMENSIONS, CHANNEL)  # and attribute.<name>


async def demographics(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    dimension: str,
    *,
    ch: ClickHouse | None = None,
) -> Table:
    """Endpoints active in the window per value of `dimension` (one of NAMES or
    `attribute.<name>`), largest first."""
    if dimension not in NAMES and not (dimension.startswith(ATTRIBUTE) and len(dimension) > len(ATTRIBUTE)):
        known = ", ".join((*NAMES, "attribute.<name>"))
        raise BadRequest(f"Invalid value for dimension: {dimension!r} is not one of {known}.")
    dim = rollup_dimension(filters)
    if ch is not None:
        chosen = await ids(conn, app_id, filters)
        counts = await chq.distinct_active(ch, app_id, window.first, window.last, dimension, chosen)
    elif dim is not None and dim[0] in ("", dimension):
        values = dim[1] if dim[0] else None
        counts = await q.distinct_active(conn, app_id, window.first, window.last, dimension, values)
    else:
        endpoints, params = await scope(conn, app_id, filters)
        counts = await f.distinct_active(conn, app_id, window.first, window.last, dimension, endpoints, params)
    table = Table([Column(_key(dimension), "String")], [Column("ActiveEndpoints", "Long")])
    for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add([value], [n])
    return table


def _key(dimension: str) -> str:
    if dimension.startswith(ATTRIBUTE):
        return dimension
    return "".join(part.capitalize() for part in dimension.split("-"))
