"""Funnels: an ordered list of event types (each optionally narrowed by attribute values) and
how many endpoints and users reached each step within the window.

An endpoint reaches step 1 with its first step-1 event in the window, and step k with its
first step-k event strictly after it reached step k-1 (still in the window): doing step 2
before step 1 does not count. Conversion is a step's endpoints over the previous step's (step
1: 1.0 when anyone reached it); overall conversion is over step 1's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import condition, ids
from analytics.model import Column, Filters, Table, Window
from analytics.queries import Step
from openpoint.errors import BadRequest
from store import analytics_funnels as store
from store import clickhouse_pages as chq
from store.clickhouse import ClickHouse


async def check_steps(conn: AsyncConnection, app_id: str, steps: Sequence[Step]) -> None:
    """BadRequest naming the first step whose event type the project never recorded."""
    known = await store.known_event_types(conn, app_id, [s.event_type for s in steps])
    for i, step in enumerate(steps):
        if step.event_type not in known:
            raise BadRequest(
                f"Invalid value for Steps[{i}].EventType: project {app_id} has no event of type '{step.event_type}'."
            )


async def known_event_type(conn: AsyncConnection, app_id: str, event_type: str) -> bool:
    """Whether the project recorded any event of `event_type` (still kept)."""
    return event_type in await store.known_event_types(conn, app_id, [event_type])


async def funnel(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    steps: Sequence[Step],
    *,
    ch: ClickHouse | None = None,
) -> Table:
    """One row per step: Step (1-based), EventType; Endpoints, Users, Conversion (from the
    previous step) and OverallConversion (from step 1). With ClickHouse: its `windowFunnel`."""
    if ch is not None:
        counts = await chq.funnel(
            ch,
            app_id,
            window.start,
            window.end,
            [(s.event_type, s.attributes) for s in steps],
            await ids(conn, app_id, filters),
        )
        return _table(steps, counts)
    params: list[Any] = []
    endpoints = await condition(conn, app_id, filters, params, "ev.endpoint_id")
    counts = await store.reached(
        conn,
        app_id=app_id,
        start=window.start,
        end=window.end,
        steps=[(s.event_type, s.attributes) for s in steps],
        endpoints=endpoints,
        params=params,
    )
    return _table(steps, counts)


def _table(steps: Sequence[Step], counts: list[tuple[int, int]]) -> Table:
    table = Table(
        groups=[Column("Step"), Column("EventType")],
        values=[
            Column("Endpoints", "Long"),
            Column("Users", "Long"),
            Column("Conversion"),
            Column("OverallConversion"),
        ],
    )
    previous = first = counts[0][0] if counts else 0
    for i, (step, (endpoints_reached, users)) in enumerate(zip(steps, counts, strict=True)):
        conversion = (endpoints_reached / previous if i else 1.0) if previous else None
        overall = endpoints_reached / first if first else None
        table.add([str(i + 1), step.event_type], [endpoints_reached, users, conversion, overall])
        previous = endpoints_reached
    return table
