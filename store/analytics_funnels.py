"""Funnels from raw events: for each step, the endpoints that reached it and when.

One statement. Step 1's CTE reads the first step's events in the range through the index on
(app_id, event_type, event_time) and keeps each endpoint's earliest; step k joins step k-1's
endpoints to step k's events strictly after the time they reached step k-1 and keeps the
earliest again (the earliest reach of a step leaves the most room for the next one, so this is
exact). Endpoint filters apply to the first step: later steps are subsets of it. Users are the
distinct `user_id`s of the endpoints reaching a step (endpoints without one are not users).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver


async def known_event_types(conn: AsyncConnection, app_id: str, event_types: Sequence[str]) -> set[str]:
    """Which of `event_types` the project has any event of (one index probe each)."""
    pg = await driver(conn)
    rows = await pg.fetch(
        "SELECT t FROM unnest($2::text[]) AS t"
        " WHERE EXISTS (SELECT 1 FROM events WHERE app_id = $1 AND event_type = t)",
        app_id,
        list(dict.fromkeys(event_types)),
    )
    return {r["t"] for r in rows}


async def reached(
    conn: AsyncConnection,
    *,
    app_id: str,
    start: datetime,
    end: datetime,
    steps: Sequence[tuple[str, dict[str, tuple[str, ...]]]],
    endpoints: str,
    params: list[Any],
) -> list[tuple[int, int]]:
    """(endpoints, users) reaching each step of `steps` (event type, attribute -> values) in
    [start, end). `endpoints` is a condition over `ev.endpoint_id` whose parameters are
    `params` (store/analytics_scope.py); these statement's own follow them."""
    params = list(params)

    def bind(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    app, lo, hi = bind(app_id), bind(start), bind(end)
    ctes: list[str] = []
    for k, (event_type, attributes) in enumerate(steps):
        where = [f"ev.app_id = {app}", f"ev.event_type = {bind(event_type)}", f"ev.event_time < {hi}"]
        for name, values in sorted(attributes.items()):
            where.append(f"(ev.attributes ->> {bind(name)}::text) = ANY({bind(list(values))}::text[])")
        if k == 0:
            where += [f"ev.event_time >= {lo}", endpoints]
            source = "events ev"
        else:
            where.append(f"ev.event_time > s{k - 1}.t")
            source = f"s{k - 1} JOIN events ev ON ev.endpoint_id = s{k - 1}.endpoint_id"
        ctes.append(
            f"s{k} AS MATERIALIZED (SELECT ev.endpoint_id, min(ev.event_time) AS t FROM {source}"
            f" WHERE {' AND '.join(where)} GROUP BY ev.endpoint_id)"
        )
    steps_union = " UNION ALL ".join(f"SELECT {k} AS k, endpoint_id FROM s{k}" for k in range(len(steps)))
    sql = (
        f"WITH {', '.join(ctes)} SELECT s.k, count(*) AS endpoints, count(DISTINCT n.user_id) AS users"
        f" FROM ({steps_union}) s LEFT JOIN endpoints n ON n.app_id = {app} AND n.id = s.endpoint_id"
        " GROUP BY s.k"
    )
    pg = await driver(conn)
    counted = {r["k"]: (int(r["endpoints"]), int(r["users"])) for r in await pg.fetch(sql, *params)}
    return [counted.get(k, (0, 0)) for k in range(len(steps))]
