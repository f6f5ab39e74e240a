"""Events: counts of any event type over time, optionally only of events whose attribute has
one of some values, with the count, sum and average of one of their metrics.

Rolled up per attribute value for custom event types (and `_monetization.purchase`); standard
engagement events carry message ids and are counted per type only. One attribute filter at a
time (several values of it are OR'ed). Endpoint filters (segment, platform, channel, app
version; `attribute.<name>` names an event attribute on this page) count the filtered
endpoints' raw events (an_events keeps no endpoint), with the same definitions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import ids, scope
from analytics.model import Column, Filters, Table, Window
from openpoint.errors import BadRequest
from store import analytics_filtered as f
from store import analytics_queries as q
from store import clickhouse_pages as chq
from store.clickhouse import ClickHouse


async def events(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    event_type: str | None = None,
    attributes: dict[str, tuple[str, ...]] | None = None,
    metric: str | None = None,
    ch: ClickHouse | None = None,
) -> Table:
    """Per day and event type: Events; with `metric`: also MetricEvents (events carrying it),
    MetricSum and MetricAverage. `attributes`: at most one event attribute and its values."""
    attr, values = "", [""]
    if attributes:
        if len(attributes) > 1:
            raise BadRequest("Invalid value for attributes: event counts filter on one event attribute at a time.")
        ((attr, chosen),) = attributes.items()
        values = list(chosen)
        if event_type is not None and event_type.startswith("_") and event_type != "_monetization.purchase":
            raise BadRequest(f"Invalid value for attributes: {event_type} is counted per type only.")
    if ch is not None:
        endpoints = await ids(conn, app_id, filters)
        found = await chq.events(
            ch,
            app_id,
            window.first,
            window.last,
            endpoints,
            event_type=event_type,
            attr=attr,
            values=values,
            metric=metric,
        )
        return _shaped(found, metric)
    if not filters.empty:
        return await _filtered(conn, app_id, window, filters, event_type, attr, values, metric)
    counts = await q.events(
        conn, app_id, window.first, window.last, event_type=event_type, attr=attr, values=values, metric=""
    )
    sums = (
        {
            (r["day"], r["event_type"]): r
            for r in await q.events(
                conn, app_id, window.first, window.last, event_type=event_type, attr=attr, values=values, metric=metric
            )
        }
        if metric
        else {}
    )
    table = _table(metric)
    for r in counts:
        values_out: list[float | int | str | None] = [int(r["n"])]
        if metric:
            s = sums.get((r["day"], r["event_type"]))
            n = int(s["n"]) if s else 0
            total = float(s["total"]) if s else 0.0
            values_out += [n, total, total / n if n else None]
        table.add([r["day"].isoformat(), r["event_type"]], values_out)
    return table


def _table(metric: str | None) -> Table:
    return Table(
        [Column("Date", "String"), Column("EventType", "String")],
        [Column("Events", "Long")]
        + ([Column("MetricEvents", "Long"), Column("MetricSum"), Column("MetricAverage")] if metric else []),
    )


async def _filtered(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    event_type: str | None,
    attr: str,
    values: list[str],
    metric: str | None,
) -> Table:
    """The same table from the filtered endpoints' raw events."""
    endpoints, params = await scope(conn, app_id, filters)
    rows = await f.events(
        conn,
        app_id,
        window.start,
        window.end,
        endpoints,
        params,
        event_type=event_type,
        attr=attr,
        values=values,
        metric=metric,
    )
    return _shaped(rows, metric)


def _shaped(rows: list[dict[str, Any]], metric: str | None) -> Table:
    """The table of per-day, per-type rows (n, mn, total)."""
    table = _table(metric)
    for r in rows:
        out: list[float | int | str | None] = [int(r["n"])]
        if metric:
            n, total = int(r["mn"]), float(r["total"])
            out += [n, total, total / n if n else None]
        table.add([r["day"].isoformat(), r["event_type"]], out)
    return table
