"""The usage and revenue figures as GetApplicationDateRangeKpi names, in KpiResult.Rows shape
(Values are strings of doubles, as for the message KPIs; a name without `-grouped-by-` gives one
row without GroupedBys; no data gives no rows):

- `daily-active-endpoints-grouped-by-date`: per Date, DailyActiveEndpoints;
- `monthly-active-endpoints`: MonthlyActiveEndpoints, the endpoints active in the 30 days ending
  on the range's last day;
- `new-endpoints-grouped-by-date`: per Date, NewEndpoints;
- `sessions-grouped-by-date`: per Date, Sessions;
- `stickiness`: Stickiness, the average daily active endpoints over the range divided by the
  monthly active endpoints of its last day;
- `retention-7-day`, `-14-day`, `-30-day`: Retention7Day (...), the share of the endpoints first
  seen in the range that came back within 7 (14, 30) days;
- `revenue-grouped-by-date`: per Date and Currency, Revenue;
- `paying-users`: PayingUsers, the distinct endpoints that made a purchase in the range.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics import revenue as revenue_page
from analytics import usage
from analytics.model import Column, Filters, Table, Window
from store import analytics_queries as q

NONE = Filters()
DATE = Column("Date", "String")


def window(start: datetime, end: datetime) -> Window:
    """The UTC days of a KPI's [start, end] instants."""
    return Window(start.astimezone(UTC).date(), end.astimezone(UTC).date())


async def _daily_active(conn: AsyncConnection, app_id: str, w: Window) -> Table:
    dau = await q.daily_active(conn, app_id, w.first, w.last, "", [""])
    table = Table([DATE], [Column("DailyActiveEndpoints")])
    for day in w.days:
        if day in dau:
            table.add([day.isoformat()], [dau[day]])
    return table


async def _per_day(conn: AsyncConnection, app_id: str, w: Window, column: str, key: str) -> Table:
    rows = await q.days(conn, app_id, w.first, w.last)
    table = Table([DATE], [Column(key)])
    for day in w.days:
        if day in rows and rows[day][column]:
            table.add([day.isoformat()], [rows[day][column]])
    return table


async def _monthly(conn: AsyncConnection, app_id: str, w: Window) -> Table:
    n = await usage.monthly_active_endpoints(conn, app_id, w.last, NONE)
    return _single("MonthlyActiveEndpoints", n if n else None)


async def _stickiness(conn: AsyncConnection, app_id: str, w: Window) -> Table:
    dau = await q.daily_active(conn, app_id, w.first, w.last, "", [""])
    mau = await usage.monthly_active_endpoints(conn, app_id, w.last, NONE)
    average = sum(dau.values()) / len(w.days)
    return _single("Stickiness", average / mau if mau else None)


def _retention(span: int) -> Callable[[AsyncConnection, str, Window], Awaitable[Table]]:
    async def kpi(conn: AsyncConnection, app_id: str, w: Window) -> Table:
        share = await usage.retained_share(conn, app_id, w, span)
        return _single(f"Retention{span}Day", share[1] if share else None)

    return kpi


async def _revenue(conn: AsyncConnection, app_id: str, w: Window) -> Table:
    page = await revenue_page.revenue(conn, app_id, w, NONE)
    table = Table(page.groups, [Column("Revenue")])
    for group, values in page.rows:
        table.add(group, values[:1])
    return table


async def _paying(conn: AsyncConnection, app_id: str, w: Window) -> Table:
    n = (await q.paying_users(conn, app_id, w.first, w.last)).get("", 0)
    return _single("PayingUsers", n if n else None)


def _single(key: str, value: float | None) -> Table:
    table = Table([], [Column(key)])
    if value is not None:
        table.add([], [value])
    return table


KPIS: dict[str, Callable[[AsyncConnection, str, Window], Awaitable[Table]]] = {
    "daily-active-endpoints-grouped-by-date": _daily_active,
    "monthly-active-endpoints": _monthly,
    "new-endpoints-grouped-by-date": lambda c, a, w: _per_day(c, a, w, "new_endpoints", "NewEndpoints"),
    "sessions-grouped-by-date": lambda c, a, w: _per_day(c, a, w, "sessions", "Sessions"),
    "stickiness": _stickiness,
    **{f"retention-{s}-day": _retention(s) for s in usage.RETENTION_SPANS},
    "revenue-grouped-by-date": _revenue,
    "paying-users": _paying,
}


async def kpi(conn: AsyncConnection, app_id: str, name: str, start: datetime, end: datetime) -> Table:
    """The rows of usage KPI `name` (one of KPIS) for the days of [start, end]."""
    return await KPIS[name](conn, app_id, window(start, end))
