"""The message pages' figures (campaigns, journeys, transactional) from ClickHouse's `events`:
rules/kpis.py's measures in ClickHouse's dialect, one statement per table, with the same scopes,
groups and counts as store/kpis.py's builder and store/analytics_messages.py (a missing attribute
is NULL there: here `mapContains` says whether the event carries it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from rules.kpis import Count, Measure
from store import analytics_messages as pg
from store.clickhouse import ClickHouse, in_list, lit


def _has(name: str) -> str:
    return f"mapContains(attributes, '{name}')"


def _attr(name: str) -> str:
    """The attribute, NULL when the event has none (as PostgreSQL's `->>`)."""
    return f"if({_has(name)}, attributes['{name}'], NULL)"


# Push opens from the SDK carry no message id: the endpoint and the campaign run name it.
MESSAGE = (
    f"if({_has('message_id')}, attributes['message_id'], concat(endpoint_id, '/', attributes['campaign_activity_id']))"
)
MESSAGE_HOUR = "formatDateTime(event_time, '%Y-%m-%d %H', 'UTC')"
_FROM_CAMPAIGNS = f"if({_has('source')}, attributes['source'], 'campaign') = 'campaign'"
_LIVE_JOURNEYS = f"NOT {_has('journey_test_run_id')}"

# The scopes of store/analytics_messages.py (the same keys), in ClickHouse's dialect.
SCOPES = {
    "campaigns": f"{_FROM_CAMPAIGNS} AND {_has('campaign_id')} AND attributes['campaign_id'] != '_DIRECT'",
    "campaign": f"{_FROM_CAMPAIGNS} AND {_has('campaign_id')} AND attributes['campaign_id'] = {{campaign_id}}",
    "transactional": "attributes['source'] IN ('direct', 'otp')",
    "journeys": f"{_has('journey_id')} AND {_LIVE_JOURNEYS}",
    "journey": f"{_has('journey_id')} AND attributes['journey_id'] = {{journey_id}} AND {_LIVE_JOURNEYS}",
    "campaign_sessions": f"{_has('campaign_id')} AND attributes['campaign_id'] != '_DIRECT'",
    "campaign_session": f"{_has('campaign_id')} AND attributes['campaign_id'] = {{campaign_id}}",
}
# The groups of store/analytics_messages.py (its SQL names them), in ClickHouse's dialect.
GROUPS = {
    pg.DATE: "formatDateTime(event_time, '%Y-%m-%d', 'UTC')",
    pg.HOUR: "formatDateTime(event_time, '%Y-%m-%dT%H:00Z', 'UTC')",
    pg.HOUR_OF_DAY: "formatDateTime(event_time, '%H', 'UTC')",
    pg.CAMPAIGN: _attr("campaign_id"),
    pg.TREATMENT: f"if({_has('treatment_id')}, attributes['treatment_id'], '0')",
    pg.JOURNEY: _attr("journey_id"),
    pg.JOURNEY_ACTIVITY: _attr("journey_activity_id"),
    pg.ADDRESS: _attr("address"),
}
_COUNTS = {
    Count.EVENTS: "countIf({where})",
    Count.MESSAGES: f"uniqExactIf({MESSAGE}, {{where}})",
    Count.MESSAGE_HOURS: f"uniqExactIf(concat({MESSAGE}, '@', {MESSAGE_HOUR}), {{where}})",
    Count.ENDPOINTS: "uniqExactIf(endpoint_id, {where})",
}


def aggregate(measure: Measure, types: set[str]) -> str:
    """One measure as a conditional aggregate; `types` collects the event types read."""
    types |= measure.events
    where = f"event_type IN {lit(sorted(measure.events))}"
    if measure.outcomes_only:
        where += f" AND {_has('delivery_status')}"
    sql = _COUNTS[measure.count].format(where=where)
    if measure.less is not None:
        sql = f"greatest(0, toInt64({sql}) - toInt64({aggregate(measure.less, types)}))"
    return sql


async def measured(
    ch: ClickHouse,
    *,
    app_id: str,
    start: datetime,
    end: datetime,
    scope: str,
    groups: Sequence[str],
    measures: Sequence[Measure],
    endpoints: Sequence[str] | None = None,
    owner: dict[str, str] | None = None,
) -> pg.Grouped:
    """Per group (store/analytics_messages.py's group names, in order), each measure's count
    over the events in [start, end) of `scope` sent to `endpoints` (None: every endpoint);
    groups with a NULL value are left out."""
    types: set[str] = set()
    aggregates = [aggregate(m, types) for m in measures]
    keys = [f"{GROUPS[g]} AS g{i}" for i, g in enumerate(groups)]
    condition = SCOPES[scope].format(**{k: lit(v) for k, v in (owner or {}).items()})
    last = (end - timedelta(microseconds=1)).date()
    where = (
        f"app_id = {lit(app_id)} AND event_date BETWEEN {lit(start.date())} AND {lit(last)}"
        f" AND event_time >= {lit(start)} AND event_time < {lit(end)} AND event_type IN {lit(sorted(types))}"
        f" AND {condition}"
    )
    if endpoints is not None:
        where += f" AND {in_list('endpoint_id', endpoints)}"
    names = ", ".join(f"g{i}" for i in range(len(groups)))
    rows = await ch.rows(
        f"SELECT {', '.join(keys + [f'{a} AS v{i}' for i, a in enumerate(aggregates)])} FROM {ch.events}"
        f" WHERE {where} GROUP BY {names} ORDER BY {names}"
    )
    out: pg.Grouped = []
    for r in rows:
        group = tuple(r[: len(groups)])
        if any(g is None for g in group):
            continue
        out.append((tuple(str(g) for g in group), [int(v) for v in r[len(groups) :]]))
    return out
