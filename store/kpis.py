"""KPI queries: one aggregate over `events`, built from a definition in rules/kpis.py.

Every metric is the same query: the events of one project and date range, narrowed to whose
messages they are (a campaign, every campaign, transactional sends, a journey), grouped by the
metric's group, with up to three filtered aggregates (the value, the rate's divisor, the basis
that says a group has data). Event type lists are bound parameters; only the fixed SQL fragments below
are spliced in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from rules.kpis import Count, Counted, Group, Kpi, Measure, Scope, Totals

# Push opens come from the app's SDK without a message id: the endpoint and the campaign run
# it was opened from name the notification.
MESSAGE = "coalesce(attributes->>'message_id', endpoint_id || '/' || coalesce(attributes->>'campaign_activity_id', ''))"
MESSAGE_HOUR = "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"

_COUNTS = {
    Count.EVENTS: "count(*)",
    Count.MESSAGES: f"count(DISTINCT {MESSAGE})",
    Count.MESSAGE_HOURS: f"count(DISTINCT {MESSAGE} || '@' || {MESSAGE_HOUR})",
    Count.ENDPOINTS: "count(DISTINCT endpoint_id)",
}

_GROUPS = {
    Group.NONE: "''",
    Group.DATE: "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    Group.CAMPAIGN: "attributes->>'campaign_id'",
    Group.CAMPAIGN_ACTIVITY: "attributes->>'campaign_activity_id'",
    Group.JOURNEY_ACTIVITY: "attributes->>'journey_activity_id'",
    # The phone number; rules/kpis.py folds numbers into countries.
    Group.COUNTRY: "attributes->>'address'",
}

# The delivery layer writes `source` on every event it causes; events from the app's SDK (push
# opens) carry only the campaign ids of the notification. Direct push sends name the campaign
# `_DIRECT` for the SDKs' sake (channels/push.py).
_FROM_CAMPAIGNS = "coalesce(attributes->>'source', 'campaign') = 'campaign'"
SCOPES = {
    Scope.CAMPAIGN: f"{_FROM_CAMPAIGNS} AND attributes->>'campaign_id' = :campaign_id",
    Scope.CAMPAIGNS: f"{_FROM_CAMPAIGNS} AND attributes->>'campaign_id' <> '_DIRECT'",
    Scope.TRANSACTIONAL: "attributes->>'source' IN ('direct', 'otp')",
    # Test participants' messages carry their test run and stay out of the live numbers.
    Scope.JOURNEY: "attributes->>'journey_id' = :journey_id AND attributes->>'journey_test_run_id' IS NULL",
}


class Builder:
    def __init__(self) -> None:
        self.arrays: dict[str, list[str]] = {}
        self.events: set[str] = set()

    def _array(self, values: frozenset[str]) -> str:
        name = f"events_{len(self.arrays)}"
        self.arrays[name] = sorted(values)
        self.events |= values
        return f":{name}"

    def aggregate(self, measure: Measure | None) -> str:
        if measure is None:
            return "0"
        where = f"event_type = ANY({self._array(measure.events)})"
        if measure.outcomes_only:
            where += " AND attributes->>'delivery_status' IS NOT NULL"
        sql = f"{_COUNTS[measure.count]} FILTER (WHERE {where})"
        if measure.less is not None:
            sql = f"greatest(0, {sql} - {self.aggregate(measure.less)})"
        return sql

    def every_event(self) -> str:
        """Every event type the aggregates read: the index on (app_id, event_type, event_time)
        then skips the rest of the project's events."""
        return self._array(frozenset(self.events))


async def count(
    conn: AsyncConnection,
    kpi: Kpi,
    *,
    app_id: str,
    start: datetime,
    end: datetime,
    campaign_id: str | None = None,
    journey_id: str | None = None,
) -> Counted:
    """The totals of `kpi` per group over the inclusive range [start, end]."""
    b = Builder()
    columns = f"{b.aggregate(kpi.value)} AS value, {b.aggregate(kpi.per)} AS per, {b.aggregate(kpi.basis)} AS basis"
    all_events = b.every_event()
    sql = (
        f"SELECT {_GROUPS[kpi.group]} AS grp, {columns} FROM events"
        f" WHERE app_id = :app_id AND event_time BETWEEN :start AND :end AND event_type = ANY({all_events})"
        f" AND {SCOPES[kpi.scope]} GROUP BY 1 ORDER BY 1"
    )
    stmt = text(sql).bindparams(*(bindparam(name, type_=ARRAY(String)) for name in b.arrays))
    params: dict[str, Any] = {**b.arrays, "app_id": app_id, "start": start, "end": end}
    if kpi.scope is Scope.CAMPAIGN:
        params["campaign_id"] = campaign_id
    if kpi.scope is Scope.JOURNEY:
        params["journey_id"] = journey_id
    rows = (await conn.execute(stmt, params)).mappings()
    return [(r["grp"] or "", Totals(int(r["value"]), int(r["per"]), int(r["basis"]))) for r in rows]
