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
Filters (analytics/endpoints.py): none, or one dimension's values, are answered by the
aggregate rollups where they keep the figure (active endpoints, MAU, stickiness; the whole
project's users, new endpoints, sessions and cohorts); any other filter by the per-endpoint
rollup rows of the filtered endpoints (active days, users, first days and returns), and sessions
and session time by their raw events (no rollup keeps them per endpoint).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import ids, rollup_dimension, scope
from analytics.model import Column, Filters, Table, Window
from store import analytics_filtered as f
from store import analytics_queries as q
from store import clickhouse_pages as chq
from store.clickhouse import ClickHouse

RETENTION_SPANS = (7, 14, 30)
DATE = Column("Date", "String")


async def active(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, ch: ClickHouse | None = None
) -> Table:
    """Per day: DailyActiveEndpoints, MonthlyActiveEndpoints, Stickiness."""
    dim = rollup_dimension(filters)
    if ch is not None:  # ClickHouse: the raw events of the filtered endpoints, whatever the filter
        both = await chq.active(ch, app_id, window.first, window.last, await ids(conn, app_id, filters))
        dau = {day: d for day, (d, m) in both.items() if m}
        mau = {day: m for day, (_d, m) in both.items() if m}
    elif dim is None:
        endpoints, params = await scope(conn, app_id, filters)
        both = await f.active(conn, app_id, window.first, window.last, endpoints, params)
        dau = {day: d for day, (d, m) in both.items() if m}
        mau = {day: m for day, (_d, m) in both.items() if m}
    else:
        dau = await q.daily_active(conn, app_id, window.first, window.last, *dim)
        mau = await q.monthly_active(conn, app_id, window.first, window.last, *dim)
    table = Table(
        [DATE],
        [Column("DailyActiveEndpoints", "Long"), Column("MonthlyActiveEndpoints", "Long"), Column("Stickiness")],
    )
    for day in window.days:
        if day in mau:
            d, m = dau.get(day, 0), mau[day]
            table.add([day.isoformat()], [d, m, d / m if m else None])
    return table


async def daily(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    ch: ClickHouse | None = None,
) -> Table:
    """Per day: DailyActiveEndpoints, DailyActiveUsers, NewEndpoints, Sessions,
    SessionsPerActiveEndpoint, AverageSessionSeconds."""
    if ch is not None:
        dau, rows = await _clickhouse_days(conn, ch, app_id, window, filters)
    elif filters.empty:
        dau = await q.daily_active(conn, app_id, window.first, window.last, "", [""])
        rows = await q.days(conn, app_id, window.first, window.last)
    else:  # an_days has no dimensions: every filter takes the per-endpoint path
        dau, rows = await _filtered_days(conn, app_id, window, filters)
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


async def _filtered_days(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters
) -> tuple[dict[date, int], dict[date, dict[str, int]]]:
    """The filtered endpoints' daily active endpoints, and per day their new endpoints, sessions,
    session time and active users (the shape of store/analytics_queries.py's `days`)."""
    endpoints, params = await scope(conn, app_id, filters)
    active_days = await f.active(conn, app_id, window.first, window.last, endpoints, params, span=1)
    dau = {day: d for day, (d, _m) in active_days.items() if d}
    new: dict[date, int] = {}
    for first, _returned, n in await f.cohorts(conn, app_id, window.first, window.last, endpoints, params):
        new[first] = new.get(first, 0) + n
    users = await f.users(conn, app_id, window.first, window.last, endpoints, params)
    sessions = await f.sessions(conn, app_id, window.start, window.end, endpoints, params)
    rows: dict[date, dict[str, int]] = {}
    for day in window.days:
        started, ms = sessions.get(day, (0, 0))
        if day in new or day in users or started or ms:
            rows[day] = {
                "new_endpoints": new.get(day, 0),
                "sessions": started,
                "session_ms": ms,
                "active_users": users.get(day, 0),
            }
    return dau, rows


async def _clickhouse_days(
    conn: AsyncConnection, ch: ClickHouse, app_id: str, window: Window, filters: Filters
) -> tuple[dict[date, int], dict[date, dict[str, int]]]:
    """`_filtered_days`' shapes from ClickHouse's raw events."""
    endpoints = await ids(conn, app_id, filters)
    per_day = await chq.days(ch, app_id, window.first, window.last, endpoints)
    new: dict[date, int] = {}
    for first, _returned, n in await chq.cohorts(
        ch, app_id, window.first, window.last, _lowest(ch.keep_days), endpoints
    ):
        new[first] = new.get(first, 0) + n
    rows = {day: {**r, "new_endpoints": new.get(day, 0)} for day, r in per_day.items()}
    for day, n in new.items():
        rows.setdefault(day, {"new_endpoints": n, "sessions": 0, "session_ms": 0, "active_users": 0})
    return {day: r["dau"] for day, r in per_day.items()}, rows


def _lowest(retention_days: int) -> date:
    """The retention's first day (the rollups' `lowest`): older days are not counted."""
    return datetime.now(UTC).date() - timedelta(days=retention_days)


async def sessions_by_hour(
    conn: AsyncConnection, app_id: str, window: Window, filters: Filters, *, ch: ClickHouse | None = None
) -> Table:
    """Sessions started per UTC hour of day (0-23) over the window."""
    if ch is not None:
        hours = await chq.session_hours(ch, app_id, window.first, window.last, await ids(conn, app_id, filters))
    elif filters.empty:
        hours = await q.session_hours(conn, app_id, window.first, window.last)
    else:  # sessions are not rolled up per endpoint: the filtered endpoints' raw events
        endpoints, params = await scope(conn, app_id, filters)
        hours = await f.session_hours(conn, app_id, window.start, window.end, endpoints, params)
    table = Table([Column("Hour", "String")], [Column("Sessions", "Long")])
    for hour in range(24):
        table.add([str(hour)], [hours.get(hour, 0)])
    return table


async def retention(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    weekly: bool = False,
    ch: ClickHouse | None = None,
) -> Table:
    """Per cohort (first day seen, or its ISO week's Monday when `weekly`): Endpoints and the
    shares Retention7Day, Retention14Day, Retention30Day."""
    if ch is not None:
        chosen = await ids(conn, app_id, filters)
        cohorts = await chq.cohorts(ch, app_id, window.first, window.last, _lowest(ch.keep_days), chosen)
    elif filters.empty:
        cohorts = await q.cohorts(conn, app_id, window.first, window.last)
    else:  # an_cohorts has no dimensions: the filtered endpoints' own first days and returns
        endpoints, params = await scope(conn, app_id, filters)
        cohorts = await f.cohorts(conn, app_id, window.first, window.last, endpoints, params)
    groups: dict[date, dict[int, int]] = {}
    for first, returned, n in cohorts:
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
    dim = rollup_dimension(filters)
    if dim is None:
        endpoints, params = await scope(conn, app_id, filters)
        return (await f.active(conn, app_id, day, day, endpoints, params)).get(day, (0, 0))[1]
    return (await q.monthly_active(conn, app_id, day, day, *dim)).get(day, 0)
