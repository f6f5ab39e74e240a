"""Funnels from raw events: for each step, the endpoints that reached it and when.

One statement. `ev` reads the events of every step's type in the range once (through the index
on (app_id, event_type, event_time), or the whole heap when they are most of it), marking which
steps each event matches (type and attributes) and keeping only the filtered endpoints'. Step 1
keeps each endpoint's earliest match; step k hash-joins step k-1's endpoints to their step-k
matches strictly after the moment they reached step k-1 and keeps the earliest again (the
earliest reach of a step leaves the most room for the next, so this is exact). Users are the
distinct `user_id`s of the endpoints reaching a step (endpoints without one are not users).
The statement runs with `work_mem` at WORK_MEM so that its hashes stay in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

WORK_MEM = "128MB"


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
    `params` (store/analytics_scope.py); the statement's own follow them."""
    params = list(params)

    def bind(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    app, lo, hi = bind(app_id), bind(start), bind(end)
    types = bind(list(dict.fromkeys(t for t, _ in steps)))
    marks: list[str] = []
    for k, (event_type, attributes) in enumerate(steps):
        match = [f"ev.event_type = {bind(event_type)}::text"]
        for name, values in sorted(attributes.items()):
            match.append(f"(ev.attributes ->> {bind(name)}::text) = ANY({bind(list(values))}::text[])")
        marks.append(f"({' AND '.join(match)}) AS m{k}")
    ctes = [
        f"ev AS MATERIALIZED (SELECT ev.endpoint_id, ev.event_time AS t, {', '.join(marks)} FROM events ev"
        f" WHERE ev.app_id = {app} AND ev.event_type = ANY({types}::text[]) AND ev.event_time >= {lo}"
        f" AND ev.event_time < {hi} AND {endpoints})",
        "s0 AS MATERIALIZED (SELECT endpoint_id, min(t) AS t FROM ev WHERE m0 GROUP BY endpoint_id)",
    ]
    for k in range(1, len(steps)):
        ctes.append(
            f"s{k} AS MATERIALIZED (SELECT e.endpoint_id, min(e.t) AS t FROM ev e"
            f" JOIN s{k - 1} p ON p.endpoint_id = e.endpoint_id WHERE e.m{k} AND e.t > p.t GROUP BY e.endpoint_id)"
        )
    steps_union = " UNION ALL ".join(f"SELECT {k} AS k, endpoint_id FROM s{k}" for k in range(len(steps)))
    sql = (
        f"WITH {', '.join(ctes)} SELECT s.k, count(*) AS endpoints, count(DISTINCT n.user_id) AS users"
        f" FROM ({steps_union}) s LEFT JOIN endpoints n ON n.app_id = {app} AND n.id = s.endpoint_id"
        " GROUP BY s.k"
    )
    pg = await driver(conn)
    await pg.execute(f"SET work_mem = '{WORK_MEM}'")
    try:
        found = await pg.fetch(sql, *params)
    finally:
        # In a transaction the statement aborted, the rollback undoes the SET instead.
        with contextlib.suppress(asyncpg.PostgresError):
            await pg.execute("RESET work_mem")
    counted = {r["k"]: (int(r["endpoints"]), int(r["users"])) for r in found}
    return [counted.get(k, (0, 0)) for k in range(len(steps))]
