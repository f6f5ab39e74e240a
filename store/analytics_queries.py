"""The analytics pages' SQL over the rollups (migration 0011; analytics/usage.py, revenue.py,
events.py, demographics.py shape the answers). Every query reads rows keyed by project and day:
a few thousand rows for 90 days, never the raw events.

Distinct endpoints active in a range [A, B] come from `an_active`: an endpoint's first active
day inside the range is the one row of it whose gap (days since its previous active day)
exceeds day - A, so summing those rows counts each endpoint once."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


def _dim(alias: str = "") -> str:
    """Rows of dimension :dim with one of :values; platforms compare lower-cased (the caller
    lower-cases its values): the filter is case-insensitive, the rollups keep the value sent."""
    a = f"{alias}." if alias else ""
    return (
        f"{a}app_id = :app AND {a}dim = :dim"
        f" AND (CASE WHEN {a}dim = 'platform' THEN lower({a}value) ELSE {a}value END) = ANY(:values)"
    )


async def _rows(conn: AsyncConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]


async def daily_active(
    conn: AsyncConnection, app_id: str, first: date, last: date, dim: str, values: list[str]
) -> dict[date, int]:
    rows = await _rows(
        conn,
        f"SELECT day, sum(n)::bigint AS n FROM an_active WHERE {_dim()} AND day BETWEEN :first AND :last GROUP BY day",
        {"app": app_id, "dim": dim, "values": values, "first": first, "last": last},
    )
    return {r["day"]: int(r["n"]) for r in rows}


async def monthly_active(
    conn: AsyncConnection, app_id: str, first: date, last: date, dim: str, values: list[str], span: int = 30
) -> dict[date, int]:
    """Per day d of [first, last]: the endpoints active in the `span` days ending on d."""
    rows = await _rows(
        conn,
        "SELECT d.day::date AS day, sum(a.n)::bigint AS n"
        " FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d(day)"
        f" JOIN an_active a ON a.day BETWEEN d.day::date - (:span - 1) AND d.day::date"
        " AND a.gap > a.day - (d.day::date - (:span - 1))"
        f" WHERE {_dim('a')} GROUP BY d.day",
        {"app": app_id, "dim": dim, "values": values, "first": first, "last": last, "span": span},
    )
    return {r["day"]: int(r["n"]) for r in rows}


async def distinct_active(
    conn: AsyncConnection, app_id: str, first: date, last: date, dim: str, values: list[str] | None
) -> dict[str, int]:
    """Endpoints active in [first, last] per value of `dim` (all its values when `values` is None)."""
    where = "app_id = :app AND dim = :dim" if values is None else _dim()
    rows = await _rows(
        conn,
        f"SELECT value, sum(n)::bigint AS n FROM an_active WHERE {where} AND day BETWEEN :first AND :last"
        " AND gap > day - CAST(:first AS date) GROUP BY value",
        {"app": app_id, "dim": dim, "values": values, "first": first, "last": last},
    )
    return {r["value"]: int(r["n"]) for r in rows if r["n"]}


async def days(conn: AsyncConnection, app_id: str, first: date, last: date) -> dict[date, dict[str, int]]:
    rows = await _rows(
        conn,
        "SELECT day, new_endpoints, sessions, session_ms, active_users FROM an_days"
        " WHERE app_id = :app AND day BETWEEN :first AND :last",
        {"app": app_id, "first": first, "last": last},
    )
    return {r.pop("day"): r for r in rows}


async def session_hours(conn: AsyncConnection, app_id: str, first: date, last: date) -> dict[int, int]:
    rows = await _rows(
        conn,
        "SELECT hour, sum(n)::bigint AS n FROM an_session_hours WHERE app_id = :app AND day BETWEEN :first AND :last"
        " GROUP BY hour",
        {"app": app_id, "first": first, "last": last},
    )
    return {int(r["hour"]): int(r["n"]) for r in rows}


async def cohorts(conn: AsyncConnection, app_id: str, first: date, last: date) -> list[tuple[date, int, int]]:
    """(first day, days until the first return or -1, endpoints) of the cohorts first seen in range."""
    rows = await _rows(
        conn,
        "SELECT first_day, returned_after, n FROM an_cohorts WHERE app_id = :app"
        " AND first_day BETWEEN :first AND :last AND n <> 0",
        {"app": app_id, "first": first, "last": last},
    )
    return [(r["first_day"], int(r["returned_after"]), int(r["n"])) for r in rows]


async def revenue(conn: AsyncConnection, app_id: str, first: date, last: date) -> list[dict[str, Any]]:
    """Per day and currency: revenue, units, purchases and paying endpoints."""
    return await _rows(
        conn,
        "SELECT r.day, r.currency, r.revenue, r.units, r.purchases, coalesce(p.n, 0) AS payers FROM"
        " (SELECT day, currency, sum(revenue) AS revenue, sum(units) AS units, sum(purchases)::bigint AS purchases"
        "  FROM an_revenue WHERE app_id = :app AND day BETWEEN :first AND :last GROUP BY day, currency) r"
        " LEFT JOIN (SELECT day, currency, count(*) AS n FROM an_payers WHERE app_id = :app"
        "  AND day BETWEEN :first AND :last GROUP BY day, currency) p USING (day, currency)"
        " ORDER BY r.day, r.currency",
        {"app": app_id, "first": first, "last": last},
    )


async def products(conn: AsyncConnection, app_id: str, first: date, last: date, limit: int) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT currency, product, sum(revenue) AS revenue, sum(units) AS units, sum(purchases)::bigint AS purchases"
        " FROM an_revenue WHERE app_id = :app AND day BETWEEN :first AND :last GROUP BY currency, product"
        " ORDER BY revenue DESC, currency, product LIMIT :limit",
        {"app": app_id, "first": first, "last": last, "limit": limit},
    )


async def paying_users(conn: AsyncConnection, app_id: str, first: date, last: date) -> dict[str, int]:
    """Distinct paying endpoints in the range, per currency and in all ('' key)."""
    rows = await _rows(
        conn,
        "SELECT coalesce(currency, '') AS currency, count(DISTINCT endpoint_id) AS n FROM an_payers"
        " WHERE app_id = :app AND day BETWEEN :first AND :last GROUP BY GROUPING SETS ((currency), ())",
        {"app": app_id, "first": first, "last": last},
    )
    return {("" if r["currency"] is None else r["currency"]): int(r["n"]) for r in rows}


async def events(
    conn: AsyncConnection,
    app_id: str,
    first: date,
    last: date,
    *,
    event_type: str | None,
    attr: str,
    values: list[str],
    metric: str,
) -> list[dict[str, Any]]:
    """Per day and event type: events (and the metric's count and sum), of events with attribute
    `attr` in `values` ('' and [''] for every event)."""
    return await _rows(
        conn,
        "SELECT day, event_type, sum(n)::bigint AS n, sum(total) AS total FROM an_events"
        " WHERE app_id = :app AND day BETWEEN :first AND :last"
        " AND (CAST(:type AS text) IS NULL OR event_type = :type)"
        " AND attr = :attr AND value = ANY(:values) AND metric = :metric"
        " GROUP BY day, event_type ORDER BY day, event_type",
        {
            "app": app_id,
            "first": first,
            "last": last,
            "type": event_type,
            "attr": attr,
            "values": values,
            "metric": metric,
        },
    )
