"""The analytics pages' SQL for a filtered set of endpoints (a segment, or filters on more than one
dimension: the aggregate rollups of store/analytics_queries.py keep none of those).

Every function takes `endpoints`, a condition over `x.endpoint_id` (store/analytics_scope.py's
`endpoint_condition`), and `params`, its asyncpg parameters; the statement's own follow them.

- From the per-endpoint rollup rows (migration 0011), joined to the filtered endpoints: active
  endpoints and monthly active (`an_endpoint_days`), users (`an_endpoint_days` and each
  endpoint's `user_id`), new endpoints and cohorts (`an_endpoints`), demographics (the dims of
  each endpoint's first active day in the range), paying endpoints (`an_payers`).
- From raw events of the filtered endpoints (no per-endpoint rollup keeps them): sessions and
  session time, sessions by hour, revenue, units and purchases, event counts and metric sums.
  Each reads only the event types it counts in the range, through the index on
  (app_id, event_type, event_time), or the one on (app_id, endpoint_id, event_time) for a few
  endpoints.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

NO_GAP = 100_000  # the gap of an endpoint's first active day read (no earlier one in the rows read)
PURCHASE = "_monetization.purchase"
SESSION_START = "_session.start"
SESSION_STOP = "_session.stop"


class _Bind:
    """The condition's parameters, then the statement's own as `$n`."""

    def __init__(self, params: list[Any]) -> None:
        self.params = list(params)

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


async def _fetch(conn: AsyncConnection, sql: str, bind: _Bind) -> list[dict[str, Any]]:
    """The statement's rows, planned without nested loops: the planner estimates a filtered
    endpoint set (expressions over jsonb, a segment) at a handful of rows and would probe the
    rollup or event indexes once per endpoint, which takes seconds when thousands match (the
    paying users of 7k endpoints: 1.5 s nested, 35 ms hashed); hashing the set is never much
    worse than that."""
    pg = await driver(conn)
    await pg.execute("SET enable_nestloop = off")
    try:
        return [dict(r) for r in await pg.fetch(sql, *bind.params)]
    finally:
        # In a transaction the statement aborted, the rollback undoes the SET instead.
        with contextlib.suppress(asyncpg.PostgresError):
            await pg.execute("RESET enable_nestloop")


# -- per-endpoint rollup rows ----------------------------------------------------------------


async def active(
    conn: AsyncConnection, app_id: str, first: date, last: date, endpoints: str, params: list[Any], span: int = 30
) -> dict[date, tuple[int, int]]:
    """Per day of [first, last]: (endpoints active that day, endpoints active in the `span` days
    ending that day). Each endpoint-day row of [first - span + 1, last] gets its gap since the
    endpoint's previous row; an endpoint is counted once in a span by its first row there, the
    one whose gap reaches before the span (as an_active's rows are summed)."""
    b = _Bind(params)
    app, lo, hi, n = b(app_id), b(first - timedelta(days=span - 1)), b(last), b(span)
    sql = (
        "WITH g AS MATERIALIZED (SELECT day, gap, count(*) AS n FROM ("
        f" SELECT x.day, coalesce(x.day - lag(x.day) OVER (PARTITION BY x.endpoint_id ORDER BY x.day), {NO_GAP})"
        f" AS gap FROM an_endpoint_days x WHERE x.app_id = {app} AND x.day BETWEEN {lo}::date AND {hi}::date"
        f" AND {endpoints}) r GROUP BY day, gap)"
        " SELECT d.day::date AS day,"
        " (SELECT coalesce(sum(g.n), 0) FROM g WHERE g.day = d.day::date)::bigint AS dau,"
        f" (SELECT coalesce(sum(g.n), 0) FROM g WHERE g.day BETWEEN d.day::date - ({n}::int - 1) AND d.day::date"
        f" AND g.gap > g.day - (d.day::date - ({n}::int - 1)))::bigint AS mau"
        f" FROM generate_series({lo}::date + ({n}::int - 1), {hi}::date, interval '1 day') AS d(day)"
    )
    return {r["day"]: (int(r["dau"]), int(r["mau"])) for r in await _fetch(conn, sql, b)}


async def users(
    conn: AsyncConnection, app_id: str, first: date, last: date, endpoints: str, params: list[Any]
) -> dict[date, int]:
    """Per day: the distinct users (`User.UserId`) of the endpoints active that day."""
    b = _Bind(params)
    app = b(app_id)
    sql = (
        "SELECT x.day, count(DISTINCT n.user_id) AS n FROM an_endpoint_days x"
        " JOIN endpoints n ON n.app_id = x.app_id AND n.id = x.endpoint_id AND n.user_id <> ''"
        f" WHERE x.app_id = {app} AND x.day BETWEEN {b(first)}::date AND {b(last)}::date AND {endpoints}"
        " GROUP BY x.day"
    )
    return {r["day"]: int(r["n"]) for r in await _fetch(conn, sql, b)}


async def cohorts(
    conn: AsyncConnection, app_id: str, first: date, last: date, endpoints: str, params: list[Any]
) -> list[tuple[date, int, int]]:
    """(first day, days until the first return or -1, endpoints) of the endpoints first seen in
    [first, last], as store/analytics_queries.py's `cohorts`."""
    b = _Bind(params)
    sql = (
        "SELECT x.first_day, coalesce(x.returned_after, -1) AS returned_after, count(*) AS n FROM an_endpoints x"
        f" WHERE x.app_id = {b(app_id)} AND x.first_day BETWEEN {b(first)}::date AND {b(last)}::date"
        f" AND {endpoints} GROUP BY 1, 2"
    )
    return [(r["first_day"], int(r["returned_after"]), int(r["n"])) for r in await _fetch(conn, sql, b)]


async def distinct_active(
    conn: AsyncConnection, app_id: str, first: date, last: date, dim: str, endpoints: str, params: list[Any]
) -> dict[str, int]:
    """Endpoints active in [first, last] per value of `dim`, each under the dimensions of its
    first active day in the range (as an_active's rows count them)."""
    b = _Bind(params)
    sql = (
        "SELECT v.pair ->> 1 AS value, count(*) AS n FROM (SELECT DISTINCT ON (x.endpoint_id) x.dims"
        f" FROM an_endpoint_days x WHERE x.app_id = {b(app_id)} AND x.day BETWEEN {b(first)}::date AND {b(last)}::date"
        f" AND {endpoints} ORDER BY x.endpoint_id, x.day) f CROSS JOIN LATERAL jsonb_array_elements(f.dims) AS v(pair)"
        f" WHERE v.pair ->> 0 = {b(dim)}::text GROUP BY 1"
    )
    return {r["value"]: int(r["n"]) for r in await _fetch(conn, sql, b)}


async def payers(
    conn: AsyncConnection, app_id: str, first: date, last: date, endpoints: str, params: list[Any]
) -> dict[tuple[date, str], int]:
    """Per (day, currency): the paying endpoints."""
    b = _Bind(params)
    sql = (
        "SELECT x.day, x.currency, count(*) AS n FROM an_payers x"
        f" WHERE x.app_id = {b(app_id)} AND x.day BETWEEN {b(first)}::date AND {b(last)}::date AND {endpoints}"
        " GROUP BY 1, 2"
    )
    return {(r["day"], r["currency"]): int(r["n"]) for r in await _fetch(conn, sql, b)}


async def paying_users(
    conn: AsyncConnection, app_id: str, first: date, last: date, endpoints: str, params: list[Any]
) -> dict[str, int]:
    """Distinct paying endpoints in the range, per currency and in all ('' key)."""
    b = _Bind(params)
    sql = (
        "SELECT coalesce(x.currency, '') AS currency, count(DISTINCT x.endpoint_id) AS n FROM an_payers x"
        f" WHERE x.app_id = {b(app_id)} AND x.day BETWEEN {b(first)}::date AND {b(last)}::date AND {endpoints}"
        " GROUP BY GROUPING SETS ((x.currency), ())"
    )
    return {r["currency"]: int(r["n"]) for r in await _fetch(conn, sql, b)}


# -- raw events of the filtered endpoints ----------------------------------------------------

_DAY = "(x.event_time AT TIME ZONE 'UTC')::date"


def _number(expr: str, default: str) -> str:
    """A metric as float8 when it is a number (as rollups.py's `_number`), else `default`."""
    return f"CASE WHEN jsonb_typeof({expr}) = 'number' THEN ({expr} #>> '{{}}')::float8 ELSE {default} END"


def _events_of(b: _Bind, app_id: str, types: list[str], start: datetime, end: datetime, endpoints: str) -> str:
    return (
        f"FROM events x WHERE x.app_id = {b(app_id)} AND x.event_type = ANY({b(types)}::text[])"
        f" AND x.event_time >= {b(start)} AND x.event_time < {b(end)} AND {endpoints}"
    )


async def sessions(
    conn: AsyncConnection, app_id: str, start: datetime, end: datetime, endpoints: str, params: list[Any]
) -> dict[date, tuple[int, int]]:
    """Per day: (sessions started, milliseconds of the sessions stopped that day: their Duration,
    else stop - start)."""
    b = _Bind(params)
    ms = "coalesce(s.duration_ms, (extract(epoch FROM s.stop_time - s.start_time) * 1000)::bigint, 0)"
    sql = (
        f"SELECT {_DAY} AS day, count(*) FILTER (WHERE x.event_type = '{SESSION_START}') AS sessions,"
        f" coalesce(sum({ms}) FILTER (WHERE x.event_type = '{SESSION_STOP}'), 0)::bigint AS ms"
        " FROM (SELECT x.event_type, x.event_time, x.session_id"
        f" {_events_of(b, app_id, [SESSION_START, SESSION_STOP], start, end, endpoints)}) x"
        f" LEFT JOIN sessions s ON x.event_type = '{SESSION_STOP}' AND x.session_id <> ''"
        f" AND s.app_id = {b(app_id)} AND s.id = x.session_id GROUP BY 1"
    )
    return {r["day"]: (int(r["sessions"]), int(r["ms"])) for r in await _fetch(conn, sql, b)}


async def session_hours(
    conn: AsyncConnection, app_id: str, start: datetime, end: datetime, endpoints: str, params: list[Any]
) -> dict[int, int]:
    """Sessions started per UTC hour of day."""
    b = _Bind(params)
    sql = (
        "SELECT extract(hour FROM x.event_time AT TIME ZONE 'UTC')::int AS hour, count(*) AS n"
        f" {_events_of(b, app_id, [SESSION_START], start, end, endpoints)} GROUP BY 1"
    )
    return {int(r["hour"]): int(r["n"]) for r in await _fetch(conn, sql, b)}


def _purchases(b: _Bind, app_id: str, start: datetime, end: datetime, endpoints: str) -> str:
    """A purchase per row: day, currency, product, quantity (1 when absent), revenue (price × quantity)."""
    quantity = _number("x.metrics -> '_quantity'", "1")
    price = _number("x.metrics -> '_item_price'", "0")
    return (
        f"SELECT {_DAY} AS day, coalesce(x.attributes ->> '_currency', '') AS currency,"
        f" coalesce(x.attributes ->> '_product_id', '') AS product, {quantity} AS units,"
        f" {price} * {quantity} AS revenue {_events_of(b, app_id, [PURCHASE], start, end, endpoints)}"
    )


async def revenue(
    conn: AsyncConnection, app_id: str, start: datetime, end: datetime, endpoints: str, params: list[Any]
) -> list[dict[str, Any]]:
    """Per day and currency: revenue, units, purchases."""
    b = _Bind(params)
    sql = (
        "SELECT day, currency, sum(revenue) AS revenue, sum(units) AS units, count(*) AS purchases"
        f" FROM ({_purchases(b, app_id, start, end, endpoints)}) p GROUP BY day, currency ORDER BY day, currency"
    )
    return await _fetch(conn, sql, b)


async def products(
    conn: AsyncConnection, app_id: str, start: datetime, end: datetime, endpoints: str, params: list[Any], limit: int
) -> list[dict[str, Any]]:
    """The `limit` (currency, product)s with the most revenue: revenue, units, purchases."""
    b = _Bind(params)
    sql = (
        "SELECT currency, product, sum(revenue) AS revenue, sum(units) AS units, count(*) AS purchases"
        f" FROM ({_purchases(b, app_id, start, end, endpoints)}) p GROUP BY currency, product"
        f" ORDER BY revenue DESC, currency, product LIMIT {b(limit)}"
    )
    return await _fetch(conn, sql, b)


async def events(
    conn: AsyncConnection,
    app_id: str,
    start: datetime,
    end: datetime,
    endpoints: str,
    params: list[Any],
    *,
    event_type: str | None,
    attr: str,
    values: list[str],
    metric: str | None,
) -> list[dict[str, Any]]:
    """Per day and event type: events (`n`), and of those carrying `metric` their count (`mn`)
    and sum (`total`); with `attr`, only custom events and purchases whose attribute `attr` has
    one of `values` (the events the rollups keep per attribute value)."""
    b = _Bind(params)
    wheres = [
        f"x.app_id = {b(app_id)}",
        f"x.event_time >= {b(start)}",
        f"x.event_time < {b(end)}",
        endpoints,
    ]
    if event_type is not None:
        wheres.append(f"x.event_type = {b(event_type)}::text")
    if attr:
        wheres.append(f"(left(x.event_type, 1) <> '_' OR x.event_type = '{PURCHASE}')")
        wheres.append(f"(x.attributes ->> {b(attr)}::text) = ANY({b(values)}::text[])")
    amount = _number(f"x.metrics -> {b(metric or '')}::text", "NULL")
    sql = (
        f"SELECT {_DAY} AS day, x.event_type, count(*) AS n, count({amount}) AS mn,"
        f" coalesce(sum({amount}), 0) AS total FROM events x WHERE {' AND '.join(wheres)}"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return await _fetch(conn, sql, b)
