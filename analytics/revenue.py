"""Revenue from `_monetization.purchase` events, per currency (never added across currencies):
revenue = Σ `_item_price` × `_quantity` (1 when absent), units = Σ `_quantity`, purchases =
events, paying users = distinct endpoints that bought, ARPDAU = revenue / daily active
endpoints. Products are `_product_id`.

Unfiltered: the aggregate rollups (an_revenue, an_payers, an_active). Filtered (any endpoint
filter, analytics/endpoints.py): paying endpoints and daily active endpoints from the
per-endpoint rollup rows of the filtered endpoints (an_payers, an_endpoint_days); revenue,
units and purchases from their raw purchase events (an_revenue keeps no endpoint)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import ids, scope
from analytics.model import Column, Filters, Table, Window
from store import analytics_filtered as f
from store import analytics_queries as q
from store import clickhouse_pages as chq
from store.clickhouse import ClickHouse


async def revenue(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, ch: ClickHouse | None = None
) -> Table:
    """Per day and currency: Revenue, Units, Purchases, PayingUsers, RevenuePerDailyActiveEndpoint."""
    rows: list[dict[str, Any]]
    if ch is not None:  # ClickHouse: the filtered endpoints' raw events (payers counted with them)
        chosen = await ids(conn, app_id, filters)
        active = await chq.active(ch, app_id, window.first, window.last, chosen, span=1)
        dau = {day: d for day, (d, _m) in active.items()}
        rows = await chq.revenue(ch, app_id, window.first, window.last, chosen)
    elif filters.empty:
        dau = await q.daily_active(conn, app_id, window.first, window.last, "", [""])
        rows = await q.revenue(conn, app_id, window.first, window.last)
    else:
        endpoints, params = await scope(conn, app_id, filters)
        active = await f.active(conn, app_id, window.first, window.last, endpoints, params, span=1)
        dau = {day: d for day, (d, _m) in active.items()}
        payers = await f.payers(conn, app_id, window.first, window.last, endpoints, params)
        rows = await f.revenue(conn, app_id, window.start, window.end, endpoints, params)
        for r in rows:
            r["payers"] = payers.get((r["day"], r["currency"]), 0)
    table = Table(
        [Column("Date", "String"), Column("Currency", "String")],
        [
            Column("Revenue"),
            Column("Units"),
            Column("Purchases", "Long"),
            Column("PayingUsers", "Long"),
            Column("RevenuePerDailyActiveEndpoint"),
        ],
    )
    for r in rows:
        day: date = r["day"]
        active_n = dau.get(day, 0)
        table.add(
            [day.isoformat(), r["currency"]],
            [r["revenue"], r["units"], r["purchases"], r["payers"], r["revenue"] / active_n if active_n else None],
        )
    return table


async def products(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    limit: int = 10,
    ch: ClickHouse | None = None,
) -> Table:
    """The `limit` products with the most revenue over the window: Revenue, Units, Purchases."""
    if ch is not None:
        rows = await chq.products(ch, app_id, window.first, window.last, await ids(conn, app_id, filters), limit)
    elif filters.empty:
        rows = await q.products(conn, app_id, window.first, window.last, limit)
    else:
        endpoints, params = await scope(conn, app_id, filters)
        rows = await f.products(conn, app_id, window.start, window.end, endpoints, params, limit)
    table = Table(
        [Column("Currency", "String"), Column("ProductId", "String")],
        [Column("Revenue"), Column("Units"), Column("Purchases", "Long")],
    )
    for r in rows:
        table.add([r["currency"], r["product"]], [r["revenue"], r["units"], r["purchases"]])
    return table


async def paying_users(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, ch: ClickHouse | None = None
) -> Table:
    """Distinct paying endpoints over the window, per currency (and `""`: in any currency)."""
    if ch is not None:
        counts = await chq.paying_users(ch, app_id, window.first, window.last, await ids(conn, app_id, filters))
    elif filters.empty:
        counts = await q.paying_users(conn, app_id, window.first, window.last)
    else:
        endpoints, params = await scope(conn, app_id, filters)
        counts = await f.paying_users(conn, app_id, window.first, window.last, endpoints, params)
    table = Table([Column("Currency", "String")], [Column("PayingUsers", "Long")])
    for currency, n in sorted(counts.items()):
        table.add([currency], [n])
    return table
