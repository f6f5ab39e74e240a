"""Events: counts of any event type over time, optionally only of events whose attribute has
one of some values, with the count, sum and average of one of their metrics.

Rolled up per attribute value for custom event types (and `_monetization.purchase`); standard
engagement events carry message ids and are counted per type only. One attribute filter at a
time (several values of it are OR'ed); endpoint filters do not apply (an event's endpoint
profile is not rolled up with it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.demographics import require_unfiltered
from analytics.model import Column, Filters, Table, Window
from openpoint.errors import BadRequest
from store import analytics_queries as q


async def events(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    event_type: str | None = None,
    attributes: dict[str, tuple[str, ...]] | None = None,
    metric: str | None = None,
) -> Table:
    """Per day and event type: Events; with `metric`: also MetricEvents (events carrying it),
    MetricSum and MetricAverage. `attributes`: at most one event attribute and its values."""
    require_unfiltered(filters, "event counts")
    attr, values = "", [""]
    if attributes:
        if len(attributes) > 1:
            raise BadRequest("Invalid value for attributes: event counts filter on one event attribute at a time.")
        ((attr, chosen),) = attributes.items()
        values = list(chosen)
        if event_type is not None and event_type.startswith("_") and event_type != "_monetization.purchase":
            raise BadRequest(f"Invalid value for attributes: {event_type} is counted per type only.")
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
    table = Table(
        [Column("Date", "String"), Column("EventType", "String")],
        [Column("Events", "Long")]
        + ([Column("MetricEvents", "Long"), Column("MetricSum"), Column("MetricAverage")] if metric else []),
    )
    for r in counts:
        values_out: list[float | int | str | None] = [int(r["n"])]
        if metric:
            s = sums.get((r["day"], r["event_type"]))
            n = int(s["n"]) if s else 0
            total = float(s["total"]) if s else 0.0
            values_out += [n, total, total / n if n else None]
        table.add([r["day"].isoformat(), r["event_type"]], values_out)
    return table
