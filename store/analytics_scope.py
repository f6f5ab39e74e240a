"""The endpoints an analytics figure counts (the fields of analytics/model.py's `Filters`) as one SQL condition
over an `endpoint_id` column, in asyncpg's numbered parameters; and named parameters (the
`:name` style of store/kpis.py's aggregates) renumbered for asyncpg."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import BadRequest, NotFound
from store.driver import driver
from store.segment_sql import compile_where, load_definition

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def numbered(sql: str, named: dict[str, Any], params: list[Any]) -> str:
    """`sql` with each `:name` replaced by `$n` (its value appended to `params`; a list becomes
    a text[]); a name used twice binds once."""
    slots: dict[str, str] = {}

    def slot(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in slots:
            value = named[name]
            params.append(value)
            slots[name] = f"${len(params)}" + ("::text[]" if isinstance(value, list) else "")
        return slots[name]

    return _NAMED.sub(slot, sql)


async def endpoint_condition(
    conn: AsyncConnection,
    app_id: str,
    params: list[Any],
    *,
    now: datetime,
    column: str,
    segment_id: str | None = None,
    attributes: dict[str, tuple[str, ...]] | None = None,
    platforms: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
    app_versions: tuple[str, ...] = (),
) -> str:
    """`TRUE` for no filters, else `<column> IN (the project's endpoints the filters keep)`;
    `params` already holds the caller's parameters and receives these. An unknown segment is a
    BadRequest naming segment-id."""
    attributes = attributes or {}
    if not (segment_id or attributes or platforms or channels or app_versions):
        return "TRUE"
    if segment_id is not None:
        try:
            definition = await load_definition(conn, app_id, segment_id)
        except NotFound:
            raise BadRequest(
                f"Invalid value for segment-id: segment {segment_id} does not exist in project {app_id}."
            ) from None
        # The expression's first parameter is the project: it serves this condition too.
        first = len(params) + 1
        where, segment_params = await compile_where(conn, app_id, definition, now=now, first=first)
        params.extend(segment_params)
        wheres = [f"e.app_id = ${first}::text", f"({where})"]
    else:
        params.append(app_id)
        wheres = [f"e.app_id = ${len(params)}"]
    for name, values in sorted(attributes.items()):
        params.extend([name, list(values)])
        wheres.append(f"(e.attributes -> ${len(params) - 1}::text) ?| ${len(params)}::text[]")
    if platforms:
        params.append([p.lower() for p in platforms])
        wheres.append(f"lower(e.demographic ->> 'Platform') = ANY(${len(params)}::text[])")
    if channels:
        params.append(list(channels))
        wheres.append(f"e.channel_type = ANY(${len(params)}::text[])")
    if app_versions:
        params.append(list(app_versions))
        wheres.append(f"(e.demographic ->> 'AppVersion') = ANY(${len(params)}::text[])")
    return f"{column} IN (SELECT e.id FROM endpoints e WHERE {' AND '.join(wheres)})"


async def endpoint_ids(conn: AsyncConnection, app_id: str, condition: str, params: list[Any]) -> list[str]:
    """The ids of the project's endpoints meeting `condition` (over `n.id`, from
    `endpoint_condition`): the filtered set another backend (ClickHouse) is handed."""
    params = [*params, app_id]
    rows = await (await driver(conn)).fetch(
        f"SELECT n.id FROM endpoints n WHERE n.app_id = ${len(params)} AND {condition}", *params
    )
    return [r["id"] for r in rows]
