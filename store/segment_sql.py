"""Segment membership as one SQL statement: a definition compiles to a boolean expression over
`endpoints e` (store/segment_compiler.py, which also states the semantics), and every resolution
(a page of ids, a count, one endpoint) is a single query.

Campaigns stream millions of endpoints through `resolve_page`, so nothing here loops over
endpoints in Python. `sendable` also leaves out endpoints with OptOut ALL or a status other than
ACTIVE.

Cost: a page is `... ORDER BY e.id LIMIT n` with `e.id > after`. Unless an index shows the
segment is small, PostgreSQL walks the primary key and filters, so streaming a whole segment is
one pass over the project's endpoints whatever its size (about twice the time of streaming the
bare ids; bench/segments.py). Imported members are joined along the same order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import NotFound
from store.driver import driver
from store.segment_compiler import compile_expression
from store.segment_definitions import SegmentDefinition as SegmentDefinition  # part of this module's API
from store.segment_definitions import fetch_definition

SENDABLE = "e.opt_out <> 'ALL' AND e.endpoint_status = 'ACTIVE'"


async def load_definition(
    conn: AsyncConnection, app_id: str, segment_id: str, version: int | None = None
) -> SegmentDefinition:
    """The definition of a segment at `version` (the latest when None)."""
    found = await fetch_definition(await driver(conn), app_id, segment_id, version)
    if found is None:
        what = f"Segment {segment_id}" + (f" version {version}" if version is not None else "")
        raise NotFound(f"{what} was not found in project {app_id}.")
    return found


async def compile_where(
    conn: AsyncConnection, app_id: str, definition: SegmentDefinition, *, now: datetime, first: int = 1
) -> tuple[str, list[Any]]:
    """A boolean SQL expression over `endpoints e` that is true for the segment's members, with
    its parameters numbered from `$first`.

    The first parameter (`$first`) is always `app_id`, so a caller writes
    `WHERE e.app_id = $1 AND (<expr>)` and numbers its own parameters from `len(params) + 1`.
    The expression does not test `e.app_id` itself. Raises BadRequest for a missing source
    segment, a cycle, or an imported source that shares its group with other sources.
    """
    return await compile_expression(await driver(conn), app_id, definition, now, first)


async def _statement(
    conn: AsyncConnection,
    app_id: str,
    definition: SegmentDefinition,
    now: datetime,
    sendable: bool,
    after: str | None = None,
) -> tuple[asyncpg.Connection, str, list[Any]]:
    """`FROM ... WHERE ...` for the members; with `after`, only those after it ($2)."""
    pg = await driver(conn)
    where, params = await compile_expression(pg, app_id, definition, now, 1, after)
    sql = f"FROM endpoints e WHERE e.app_id = $1 AND ({where})"
    if after is not None:
        sql += " AND e.id > $2::text"
    if sendable:
        sql += f" AND {SENDABLE}"
    return pg, sql, params


async def resolve_page(
    conn: AsyncConnection,
    app_id: str,
    definition: SegmentDefinition,
    *,
    after: str | None,
    limit: int,
    now: datetime,
    sendable: bool = False,
) -> list[str]:
    """Up to `limit` member ids greater than `after`, in id order: pass the last id of a page as
    the next `after` to stream the whole segment. A page shorter than `limit` is the last one.

    Each call is one statement and holds nothing between calls: membership is "as of" each
    page, so an endpoint that changes mid-stream is seen as it is when its page is read."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pg, sql, params = await _statement(conn, app_id, definition, now, sendable, after)
    params.append(limit)
    rows = await pg.fetch(f"SELECT e.id {sql} ORDER BY e.id LIMIT ${len(params)}::int8", *params)
    return [r["id"] for r in rows]


async def resolve_rows(
    conn: AsyncConnection,
    app_id: str,
    definition: SegmentDefinition,
    *,
    after: str | None,
    limit: int,
    now: datetime,
    zones: list[str] | None = None,
) -> list[asyncpg.Record]:
    """`resolve_page`, returning the members' whole rows (campaign sends need every field);
    with `zones`, only members whose Demographic.Timezone is one of them (a local-time wave)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pg, sql, params = await _statement(conn, app_id, definition, now, False, after)
    if zones is not None:
        params.append(zones)
        sql += f" AND (e.demographic ->> 'Timezone') = ANY(${len(params)}::text[])"
    params.append(limit)
    return list(await pg.fetch(f"SELECT e.* {sql} ORDER BY e.id LIMIT ${len(params)}::int8", *params))


async def time_zones(conn: AsyncConnection, app_id: str, definition: SegmentDefinition, *, now: datetime) -> list[str]:
    """The distinct Demographic.Timezone values of the members."""
    pg, sql, params = await _statement(conn, app_id, definition, now, False)
    rows = await pg.fetch(f"SELECT DISTINCT e.demographic ->> 'Timezone' AS tz {sql}", *params)
    return [r["tz"] for r in rows if r["tz"]]


async def count(
    conn: AsyncConnection, app_id: str, definition: SegmentDefinition, *, now: datetime, sendable: bool = False
) -> int:
    pg, sql, params = await _statement(conn, app_id, definition, now, sendable)
    return int(await pg.fetchval(f"SELECT count(*) {sql}", *params))


async def contains(
    conn: AsyncConnection,
    app_id: str,
    definition: SegmentDefinition,
    endpoint_id: str,
    *,
    now: datetime,
    sendable: bool = False,
) -> bool:
    """Whether one endpoint is a member as of `now` (journeys check this per participant)."""
    pg, sql, params = await _statement(conn, app_id, definition, now, sendable)
    params.append(endpoint_id)
    return bool(await pg.fetchval(f"SELECT EXISTS (SELECT 1 {sql} AND e.id = ${len(params)})", *params))


async def members(
    conn: AsyncConnection, app_id: str, definition: SegmentDefinition, endpoint_ids: list[str], *, now: datetime
) -> set[str]:
    """Which of `endpoint_ids` are members as of `now` (a batch of event-triggered sends)."""
    if not endpoint_ids:
        return set()
    pg, sql, params = await _statement(conn, app_id, definition, now, False)
    params.append(endpoint_ids)
    rows = await pg.fetch(f"SELECT e.id {sql} AND e.id = ANY(${len(params)}::text[])", *params)
    return {r["id"] for r in rows}
