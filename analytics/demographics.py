"""Demographics: the endpoints active in a window by platform, platform version, app version,
make, model, locale, country, region, city, channel or any custom endpoint attribute
(`attribute.<name>`), from the rollups (an endpoint counts under the values its profile had on
its first active day in the window).

Also how the segment-free filters map onto the rollups (`dimension_of`): the active-endpoint
figures (DAU, MAU, stickiness, demographics) can be narrowed by ONE dimension's values — a
platform, a channel, an app version or one endpoint attribute. A segment, or filters on two
dimensions at once, are not kept by the rollups: refused with a 400 naming the field."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.model import Column, Filters, Table, Window
from analytics.rollups import ALL, ATTRIBUTE, CHANNEL, DIMENSIONS
from openpoint.errors import BadRequest
from store import analytics_queries as q

NAMES = (*DIMENSIONS, CHANNEL)  # and attribute.<name>


def dimension_of(filters: Filters) -> tuple[str, list[str]]:
    """(rollup dimension, its values) the filters keep; every endpoint when there are none."""
    if filters.segment_id:
        raise BadRequest("Invalid value for segment-id: this figure is kept by rollups that have no segments.")
    chosen = [
        (dim, list(values), field)
        for dim, values, field in (
            ("platform", filters.platforms, "platform"),
            (CHANNEL, filters.channels, "channel"),
            ("app-version", filters.app_versions, "app-version"),
            *((ATTRIBUTE + k, v, ATTRIBUTE + k) for k, v in sorted(filters.attributes.items())),
        )
        if values
    ]
    if not chosen:
        return ALL[0], [ALL[1]]
    if len(chosen) > 1:
        raise BadRequest(f"Invalid value for {chosen[1][2]}: the rollups filter on one dimension at a time.")
    return chosen[0][0], chosen[0][1]


def require_unfiltered(filters: Filters, figure: str) -> None:
    """Figures the rollups keep for the whole project only."""
    if filters.empty:
        return
    field = (
        "segment-id"
        if filters.segment_id
        else "platform"
        if filters.platforms
        else "channel"
        if filters.channels
        else "app-version"
        if filters.app_versions
        else ATTRIBUTE + sorted(filters.attributes)[0]
    )
    raise BadRequest(f"Invalid value for {field}: {figure} cannot be filtered by endpoint.")


async def demographics(conn: AsyncConnection, app_id: str, window: Window, filters: Filters, dimension: str) -> Table:
    """Endpoints active in the window per value of `dimension` (one of NAMES or
    `attribute.<name>`), largest first; filterable by the same dimension's values only."""
    if dimension not in NAMES and not (dimension.startswith(ATTRIBUTE) and len(dimension) > len(ATTRIBUTE)):
        known = ", ".join((*NAMES, "attribute.<name>"))
        raise BadRequest(f"Invalid value for dimension: {dimension!r} is not one of {known}.")
    dim, values = dimension_of(filters)
    if dim not in ("", dimension):
        raise BadRequest(f"Invalid value for dimension: the rollups filter {dimension} by its own values only.")
    counts = await q.distinct_active(conn, app_id, window.first, window.last, dimension, values if dim else None)
    table = Table([Column(_key(dimension), "String")], [Column("ActiveEndpoints", "Long")])
    for value, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add([value], [n])
    return table


def _key(dimension: str) -> str:
    if dimension.startswith(ATTRIBUTE):
        return dimension
    return "".join(part.capitalize() for part in dimension.split("-"))
