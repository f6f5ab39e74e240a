"""Revenue from `_monetization.purchase` events, per currency (never added across currencies):
revenue = Σ `_item_price` × `_quantity` (1 when absent), units = Σ `_quantity`, purchases =
events, paying users = distinct endpoints that bought, ARPDAU = revenue / daily active
endpoints. Products are `_product_id`. Whole project only (not filterable by endpoint)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.demographics import require_unfiltered
from analytics.model import Column, Filters, Table, Window
from store import analytics_queries as q


async def revenue(conn: AsyncConnection, app_id: str, window: Window, filters: Filters) -> Table:
    """Per day and currency: Revenue, Units, Purchases, PayingUsers, RevenuePerDailyActiveEndpoint."""
    require_unfiltered(filters, "revenue")
    dau = await q.daily_active(conn, app_id, window.first, window.last, "", [""])
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
    for r in await q.revenue(conn, app_id, window.first, window.last):
        active = dau.get(r["day"], 0)
        table.add(
            [r["day"].isoformat(), r["currency"]],
            [r["revenue"], r["units"], r["purchases"], r["payers"], r["revenue"] / active if active else None],
        )
    return table


async def products(conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, limit: int = 10) -> Table:
    """The `limit` products with the most revenue over the window: Revenue, Units, Purchases."""
    require_unfiltered(filters, "revenue")
    table = Table(
        [Column("Currency", "String"), Column("ProductId", "String")],
        [Column("Revenue"), Column("Units"), Column("Purchases", "Long")],
    )
    for r in await q.products(conn, app_id, window.first, window.last, limit):
        table.add([r["currency"], r["product"]], [r["revenue"], r["units"], r["purchases"]])
    return table


async def paying_users(conn: AsyncConnection, app_id: str, window: Window, filters: Filters) -> Table:
    """Distinct paying endpoints over the window, per currency (and `""`: in any currency)."""
    require_unfiltered(filters, "revenue")
    table = Table([Column("Currency", "String")], [Column("PayingUsers", "Long")])
    for currency, n in sorted((await q.paying_users(conn, app_id, window.first, window.last)).items()):
        table.add([currency], [n])
    return table
