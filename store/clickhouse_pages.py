"""The analytics pages' figures from ClickHouse's `events` (store/clickhouse.py), in the shapes
of the PostgreSQL statements they stand for (store/analytics_queries.py, analytics_filtered.py,
analytics_funnels.py), with the definitions of docs/analytics.md.

ClickHouse keeps no rollups: every figure is one aggregate over the raw events of the range,
read in the table's order (a project's days, then event type). `endpoints` is the filtered
endpoints' ids, resolved in PostgreSQL (store/analytics_scope.py: segments, attributes and
profiles live there), or None for every endpoint. What the rollups take from an endpoint's
profile (its user, creation day, dimensions) the feeder copied onto each event row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from store.clickhouse import ClickHouse, in_list, lit

PURCHASE = "_monetization.purchase"
SESSION_START = "_session.start"
SESSION_STOP = "_session.stop"
_NEVER = "toDate('2149-06-06')"  # the last Date: an endpoint without a creation day


def _where(app_id: str, first: date, last: date, endpoints: Sequence[str] | None) -> str:
    where = f"app_id = {lit(app_id)} AND event_date BETWEEN {lit(first)} AND {lit(last)}"
    return where if endpoints is None else f"{where} AND {in_list('endpoint_id', endpoints)}"


def _day(text: str) -> date:
    return date.fromisoformat(text)


async def active(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None, span: int = 30
) -> dict[date, tuple[int, int]]:
    """Per day of [first, last] with any: (endpoints active that day, endpoints active in the
    `span` days ending that day). Without a distinct count per day: each endpoint-day x, whose
    gap since the endpoint's previous active day is g, is the endpoint's first active day in the
    spans ending on days x + span - min(g, span) .. x + span - 1, and counts once in each (the
    rule PostgreSQL's an_active rows follow)."""
    days = (
        f"SELECT DISTINCT endpoint_id, event_date FROM {ch.events}"
        f" WHERE {_where(app_id, first - timedelta(days=span - 1), last, endpoints)}"
    )
    gaps = (
        "SELECT x, g FROM (SELECT endpoint_id, arraySort(groupArray(event_date)) AS ds,"
        " arrayMap((d, i) -> if(i = 1, 100000, dateDiff('day', ds[i - 1], d)), ds, arrayEnumerate(ds)) AS gs"
        f" FROM ({days}) GROUP BY endpoint_id) ARRAY JOIN ds AS x, gs AS g"
    )
    n = int(span)
    rows = await ch.rows(
        "SELECT day, sum(d), sum(m) FROM ("
        f" SELECT addDays(x, {n - 1} - k) AS day, 0 AS d, 1 AS m FROM ({gaps}) ARRAY JOIN range(least(g, {n})) AS k"
        f" UNION ALL SELECT event_date AS day, 1 AS d, 0 AS m FROM ({days}))"
        f" WHERE day BETWEEN {lit(first)} AND {lit(last)} GROUP BY day"
    )
    return {_day(r[0]): (int(r[1]), int(r[2])) for r in rows}


async def days(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None
) -> dict[date, dict[str, int]]:
    """Per day: active endpoints (`dau`), active users, sessions started, and the time of the
    sessions stopped that day."""
    rows = await ch.rows(
        "SELECT event_date, uniqExact(endpoint_id), uniqExactIf(user_id, user_id != ''),"
        f" countIf(event_type = '{SESSION_START}'),"
        f" sumIf(ifNull(session_ms, 0), event_type = '{SESSION_STOP}' AND session_id != '')"
        f" FROM {ch.events} WHERE {_where(app_id, first, last, endpoints)} GROUP BY event_date"
    )
    return {
        _day(r[0]): {"dau": int(r[1]), "active_users": int(r[2]), "sessions": int(r[3]), "session_ms": int(r[4])}
        for r in rows
    }


async def cohorts(
    ch: ClickHouse, app_id: str, first: date, last: date, lowest: date, endpoints: Sequence[str] | None
) -> list[tuple[date, int, int]]:
    """(first day, days until the first return or -1, endpoints) of the endpoints first seen in
    [first, last]: the first day is the earliest event's, or the creation's when earlier (not
    before the day before the retention's `lowest`); a return is a later active day."""
    where = f"app_id = {lit(app_id)} AND event_date >= {lit(lowest)}"
    if endpoints is not None:
        where += f" AND {in_list('endpoint_id', endpoints)}"
    rows = await ch.rows(
        "SELECT f, r, count() FROM (SELECT endpoint_id,"
        f" least(min(event_date), ifNull(greatest(minOrNull(created_date), {lit(lowest - timedelta(days=1))}),"
        f" {_NEVER})) AS f, arrayFilter(d -> d > f, groupUniqArray(event_date)) AS later,"
        " if(empty(later), -1, dateDiff('day', f, arrayMin(later))) AS r"
        f" FROM {ch.events} WHERE {where} GROUP BY endpoint_id)"
        f" WHERE f BETWEEN {lit(first)} AND {lit(last)} GROUP BY f, r"
    )
    return [(_day(r[0]), int(r[1]), int(r[2])) for r in rows]


async def session_hours(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None
) -> dict[int, int]:
    """Sessions started per UTC hour of day."""
    rows = await ch.rows(
        f"SELECT toHour(event_time), count() FROM {ch.events} WHERE {_where(app_id, first, last, endpoints)}"
        f" AND event_type = '{SESSION_START}' GROUP BY 1"
    )
    return {int(r[0]): int(r[1]) for r in rows}


def _purchases(ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None) -> str:
    """A purchase per row: day, endpoint, currency, product, units (1 when absent), revenue."""
    quantity = "if(mapContains(metrics, '_quantity'), metrics['_quantity'], 1)"
    price = "if(mapContains(metrics, '_item_price'), metrics['_item_price'], 0)"
    return (
        f"SELECT event_date, endpoint_id, attributes['_currency'] AS currency, attributes['_product_id'] AS product,"
        f" {quantity} AS units, {price} * {quantity} AS revenue FROM {ch.events}"
        f" WHERE {_where(app_id, first, last, endpoints)} AND event_type = '{PURCHASE}'"
    )


async def revenue(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Per day and currency: revenue, units, purchases, paying endpoints."""
    rows = await ch.rows(
        "SELECT event_date, currency, sum(revenue), sum(units), count(), uniqExact(endpoint_id)"
        f" FROM ({_purchases(ch, app_id, first, last, endpoints)}) GROUP BY event_date, currency"
        " ORDER BY event_date, currency"
    )
    return [
        {
            "day": _day(r[0]),
            "currency": r[1],
            "revenue": float(r[2]),
            "units": float(r[3]),
            "purchases": int(r[4]),
            "payers": int(r[5]),
        }
        for r in rows
    ]


async def products(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None, limit: int
) -> list[dict[str, Any]]:
    """The `limit` (currency, product)s with the most revenue: revenue, units, purchases."""
    rows = await ch.rows(
        "SELECT currency, product, sum(revenue) AS r, sum(units), count()"
        f" FROM ({_purchases(ch, app_id, first, last, endpoints)}) GROUP BY currency, product"
        f" ORDER BY r DESC, currency, product LIMIT {int(limit)}"
    )
    return [
        {"currency": r[0], "product": r[1], "revenue": float(r[2]), "units": float(r[3]), "purchases": int(r[4])}
        for r in rows
    ]


async def paying_users(
    ch: ClickHouse, app_id: str, first: date, last: date, endpoints: Sequence[str] | None
) -> dict[str, int]:
    """Distinct paying endpoints in the range, per currency and in all ('' key)."""
    rows = await ch.rows(
        f"SELECT currency, uniqExact(endpoint_id) FROM ({_purchases(ch, app_id, first, last, endpoints)})"
        " GROUP BY GROUPING SETS ((currency), ())"
    )
    return {r[0]: int(r[1]) for r in rows}


async def events(
    ch: ClickHouse,
    app_id: str,
    first: date,
    last: date,
    endpoints: Sequence[str] | None,
    *,
    event_type: str | None,
    attr: str,
    values: list[str],
    metric: str | None,
) -> list[dict[str, Any]]:
    """Per day and event type: events (`n`), and of those carrying `metric` their count (`mn`)
    and sum (`total`); with `attr`, only custom events and purchases whose attribute `attr` has
    one of `values`."""
    wheres = [_where(app_id, first, last, endpoints)]
    if event_type is not None:
        wheres.append(f"event_type = {lit(event_type)}")
    if attr:
        wheres.append(f"(NOT startsWith(event_type, '_') OR event_type = '{PURCHASE}')")
        wheres.append(f"mapContains(attributes, {lit(attr)}) AND attributes[{lit(attr)}] IN {lit(values)}")
    has = f"mapContains(metrics, {lit(metric or '')})"
    rows = await ch.rows(
        f"SELECT event_date, event_type, count(), countIf({has}), sumIf(metrics[{lit(metric or '')}], {has})"
        f" FROM {ch.events} WHERE {' AND '.join(wheres)}"
        " GROUP BY event_date, event_type ORDER BY event_date, event_type"
    )
    return [
        {"day": _day(r[0]), "event_type": r[1], "n": int(r[2]), "mn": int(r[3]), "total": float(r[4])} for r in rows
    ]


async def distinct_active(
    ch: ClickHouse, app_id: str, first: date, last: date, dim: str, endpoints: Sequence[str] | None
) -> dict[str, int]:
    """Endpoints active in [first, last] per value of `dim`, each under the dimensions of its
    earliest event in the range."""
    rows = await ch.rows(
        "SELECT tupleElement(p, 2) AS value, count() FROM (SELECT endpoint_id,"
        f" argMin(arrayFilter(q -> tupleElement(q, 1) = {lit(dim)}, dims), event_time) AS d"
        f" FROM {ch.events} WHERE {_where(app_id, first, last, endpoints)} GROUP BY endpoint_id)"
        " ARRAY JOIN d AS p GROUP BY value"
    )
    return {r[0]: int(r[1]) for r in rows}


async def funnel(
    ch: ClickHouse,
    app_id: str,
    start: datetime,
    end: datetime,
    steps: Sequence[tuple[str, dict[str, tuple[str, ...]]]],
    endpoints: Sequence[str] | None,
) -> list[tuple[int, int]]:
    """(endpoints, users) reaching each step in [start, end): `windowFunnel` over the steps'
    events in 'strict_increase' mode (each step strictly after the previous one's moment; one
    event never serves two steps), its window the whole range, on millisecond timestamps."""
    conditions = []
    for event_type, attributes in steps:
        match = [f"event_type = {lit(event_type)}"]
        for name, values in sorted(attributes.items()):
            match.append(f"(mapContains(attributes, {lit(name)}) AND attributes[{lit(name)}] IN {lit(list(values))})")
        conditions.append(f"({' AND '.join(match)})")
    window_ms = int((end - start).total_seconds() * 1000)
    types = list(dict.fromkeys(t for t, _ in steps))
    rows = await ch.rows(
        "SELECT k, count(), uniqExactIf(user_id, user_id != '') FROM ("
        f" SELECT endpoint_id, windowFunnel({window_ms}, 'strict_increase')"
        f"(toUInt64(toUnixTimestamp64Milli(event_time)), {', '.join(conditions)}) AS level,"
        " argMax(user_id, event_time) AS user_id"
        f" FROM {ch.events} WHERE {_where(app_id, start.date(), (end - timedelta(microseconds=1)).date(), endpoints)}"
        f" AND event_type IN {lit(types)} AND event_time >= {lit(start)} AND event_time < {lit(end)}"
        " GROUP BY endpoint_id HAVING level > 0) ARRAY JOIN range(1, level + 1) AS k GROUP BY k"
    )
    counted = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    return [counted.get(k + 1, (0, 0)) for k in range(len(steps))]
