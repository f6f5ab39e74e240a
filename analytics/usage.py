"""Usage: active, new and returning endpoints, users and sessions, from the rollups.

Definitions (docs/analytics.md; a day is a UTC date):
- active on a day: the endpoint sent at least one event (session or custom) stamped that day;
- monthly active on a day: active on at least one of the 30 days ending that day;
- stickiness: daily active / monthly active, per day (and, for the window, the average daily
  active endpoints over the monthly active endpoints of its last day);
- new on a day: its first day seen (its earliest event, or its creation through the API if
  earlier); an endpoint that never sent an event is not counted;
- sessions: `_session.start` events; session time: the stopped sessions' Duration (or stop -
  start), counted on the day of their `_session.stop`;
- retention: of the endpoints first seen on a day (a cohort), the share whose first return (an
  active day after the first) came within 7, 14 and 30 days. A cohort younger than N days has
  had less than N days to come back: its share so far.
Filters: active endpoints, MAU and stickiness by one dimension (analytics/demographics.py
`dimension_of`); new endpoints, users, sessions and retention only for the whole project.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.demographics import dimension_of, require_unfiltered
from analytics.model import Column, Filters, Table, Window
from store import analytics_queries as q

RETENTION_SPANS = (7, 14, 30)
DATE = Column("Date", "String")


async def active(conn: AsyncConnection, app_id: str, window: Window, filters: Filters) -> Table:
    """Per day: DailyActiveEndpoints, MonthlyActiveEndpoints, Stickiness (filterable)."""
    dim, values = dimension_of(filters)
    dau = await q.daily_active(conn, app_id, window.first, window.last, dim, values)
    mau = await q.monthly_active(conn, app_id, window.first, window.last, dim, values)
    table = Table(
        [DATE],
        [Column("DailyActiveEndpoints", "Long"), Column("MonthlyActiveEndpoints", "Long"), Column("Stickiness")],
    )
    for day in window.days:
        if day in mau:
            d, m = dau.get(day, 0), mau[day]
            table.add([day.isoformat()], [d, m, d / m if m else None])
    return table


async def daily(conn: AsyncConnection, app_id: str, window: Window, filters: Filters) -> Table:
    """Per day: DailyActiveEndpoints, DailyActiveUsers, NewEndpoints, Sessions,
    SessionsPerActiveEndpoint, AverageSessionSeconds (whole project only)."""
    require_unfiltered(filters, "the usage page's users, new endpoints and sessions")
    dau = await q.daily_active(conn, app_id, window.first, window.last, "", [""])
    rows = await q.days(conn, app_id, window.first, window.last)
    table = Table(
        [DATE],
        [
            Column("DailyActiveEndpoints", "Long"),
            Column("DailyActiveUsers", "Long"),
            Column("NewEndpoints", "Long"),
            Column("Sessions", "Long"),
            Column("SessionsPerActiveEndpoint"),
            Column("AverageSessionSeconds"),
        ],
    )
    for day in window.days:
        r = rows.get(day)
        if r is None and day not in dau:
            continue
        r = r or {"new_endpoints": 0, "sessions": 0, "session_ms": 0, "active_users": 0}
        active_n, sessions = dau.get(day, 0), r["sessions"]
        table.add(
            [day.isoformat()],
            [
                active_n,
                r["active_users"],
                r["new_endpoints"],
                sessions,
                sessions / active_n if active_n else None,
                r["session_ms"] / 1000 / sessions if sessions else None,
            ],
        )
    return table


async def sessions_by_hour(conn: AsyncConnection, app_id: str, window: Window, filters: Filters) -> Table:
    """Sessions started per UTC hour of day (0-23) over the window (whole project only)."""
    require_unfiltered(filters, "sessions by hour")
    hours = await q.session_hours(conn, app_id, window.first, window.last)
    table = Table([Column("Hour", "String")], [Column("Sessions", "Long")])
    for hour in range(24):
        table.add([str(hour)], [hours.get(hour, 0)])
    return table


async def retention(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, weekly: bool = False
) -> Table:
    """Per cohort (first day seen, or its ISO week's Monday when `weekly`): Endpoints and the
    shares Retention7Day, Retention14Day, Retention30Day (whole project only)."""
    require_unfiltered(filters, "retention")
    groups: dict[date, dict[int, int]] = {}
    for first, returned, n in await q.cohorts(conn, app_id, window.first, window.last):
        key = first - timedelta(days=first.weekday()) if weekly else first
        groups.setdefault(key, {}).setdefault(returned, 0)
        groups[key][returned] += n
    table = Table(
        [Column("Week" if weekly else "Date", "String")],
        [Column("Endpoints", "Long"), *(Column(f"Retention{s}Day") for s in RETENTION_SPANS)],
    )
    for key in sorted(groups):
        size = sum(groups[key].values())
        if size <= 0:
            continue
        shares = [sum(n for r, n in groups[key].items() if 1 <= r <= s) / size for s in RETENTION_SPANS]
        table.add([key.isoformat()], [size, *shares])
    return table


async def retained_share(conn: AsyncConnection, app_id: str, window: Window, span: int) -> tuple[int, float] | None:
    """(cohort size, share back within `span` days) of every endpoint first seen in the window."""
    size = back = 0
    for _first, returned, n in await q.cohorts(conn, app_id, window.first, window.last):
        size += n
        back += n if 1 <= returned <= span else 0
    return (size, back / size) if size > 0 else None


async def monthly_active_endpoints(conn: AsyncConnection, app_id: str, day: date, filters: Filters) -> int:
    """Endpoints active in the 30 days ending on `day`."""
    dim, values = dimension_of(filters)
    return (await q.monthly_active(conn, app_id, day, day, dim, values)).get(day, 0)
