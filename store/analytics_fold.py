"""The rollup fold's per-event aggregation, inside PostgreSQL: one statement groups a batch's
events (store/analytics_batch.py) into the additive rollups — event counts and metric sums per
type (and per attribute value for custom events and purchases), sessions and their time,
sessions by hour, revenue, units and purchases, and paying endpoints — so that no event crosses
into Python. Per event this costs PostgreSQL a few microseconds where folding the same rows in
Python cost ~30 µs (and the CPU PutEvents needs). What depends on an endpoint's history (active
days, gaps, cohorts) is folded per endpoint-day by analytics/rollups.py.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from store.analytics_batch import Batch

# A metric value counts when it is a JSON number or a string that reads as one (what Python's
# float() takes, without nan / inf).
_NUMERIC = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"

_FOLD = """
WITH b AS MATERIALIZED (SELECT row_number() OVER () AS i, s.* FROM ({batch}) AS s),
metric AS MATERIALIZED (
    SELECT b.i, m.key AS metric, (m.value #>> '{{}}')::float8 AS amount
    FROM b, jsonb_each(CASE WHEN jsonb_typeof(b.metrics) = 'object' THEN b.metrics ELSE '{{}}'::jsonb END) AS m
    WHERE jsonb_typeof(m.value) = 'number'
       OR (jsonb_typeof(m.value) = 'string' AND m.value #>> '{{}}' ~ :numeric)
),
-- Each event once with no attribute, and once per attribute value for custom events and
-- purchases (standard engagement events carry message ids: not rolled up per value).
pair AS MATERIALIZED (
    SELECT b.i, b.app_id, b.day, b.event_type, '' AS attr, '' AS value FROM b
    UNION ALL
    SELECT b.i, b.app_id, b.day, b.event_type, a.key, left(a.value, 200)
    FROM b, jsonb_each_text(
        CASE WHEN jsonb_typeof(b.attributes) = 'object' THEN b.attributes ELSE '{{}}'::jsonb END) AS a
    WHERE (left(b.event_type, 1) <> '_' OR b.event_type = '_monetization.purchase') AND a.value IS NOT NULL
),
counted AS (
    SELECT app_id, day, event_type, attr, value, '' AS metric, count(*) AS n, 0::float8 AS total
    FROM pair GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT p.app_id, p.day, p.event_type, p.attr, p.value, x.metric, count(*), sum(x.amount)
    FROM pair p JOIN metric x ON x.i = p.i GROUP BY 1, 2, 3, 4, 5, 6
),
events_added AS (
    INSERT INTO an_events (app_id, day, event_type, attr, value, metric, n, total)
    SELECT * FROM counted
    ON CONFLICT (app_id, day, event_type, attr, value, metric)
    DO UPDATE SET n = an_events.n + EXCLUDED.n, total = an_events.total + EXCLUDED.total
),
-- Sessions: started ones counted on their start's day; the time of stopped ones (their
-- Duration, else stop - start) on their stop's day.
session_days AS (
    SELECT b.app_id, b.day,
           count(*) FILTER (WHERE b.event_type = '_session.start') AS sessions,
           coalesce(sum(coalesce(s.duration_ms, (extract(epoch FROM s.stop_time - s.start_time) * 1000)::bigint, 0))
                    FILTER (WHERE b.event_type = '_session.stop'), 0) AS ms
    FROM b LEFT JOIN sessions s
      ON b.event_type = '_session.stop' AND s.app_id = b.app_id AND s.id = b.session_id
    WHERE b.event_type = '_session.start' OR (b.event_type = '_session.stop' AND coalesce(b.session_id, '') <> '')
    GROUP BY 1, 2
),
days_added AS (
    INSERT INTO an_days (app_id, day, new_endpoints, sessions, session_ms, active_users)
    SELECT app_id, day, 0, sessions, ms, 0 FROM session_days
    ON CONFLICT (app_id, day)
    DO UPDATE SET sessions = an_days.sessions + EXCLUDED.sessions, session_ms = an_days.session_ms + EXCLUDED.session_ms
),
hours_added AS (
    INSERT INTO an_session_hours (app_id, day, hour, n)
    SELECT app_id, day, extract(hour FROM event_time AT TIME ZONE 'UTC')::int, count(*)
    FROM b WHERE event_type = '_session.start' GROUP BY 1, 2, 3
    ON CONFLICT (app_id, day, hour) DO UPDATE SET n = an_session_hours.n + EXCLUDED.n
),
-- Revenue: _item_price x _quantity (1 when absent), per currency and product.
purchase AS MATERIALIZED (
    SELECT b.app_id, b.day, b.endpoint_id, coalesce(b.attributes->>'_currency', '') AS currency,
           coalesce(b.attributes->>'_product_id', '') AS product,
           coalesce(q.amount, 1) AS quantity, coalesce(p.amount, 0) AS price
    FROM b
    LEFT JOIN metric q ON q.i = b.i AND q.metric = '_quantity'
    LEFT JOIN metric p ON p.i = b.i AND p.metric = '_item_price'
    WHERE b.event_type = '_monetization.purchase' AND jsonb_typeof(b.attributes) = 'object'
),
revenue_added AS (
    INSERT INTO an_revenue (app_id, day, currency, product, revenue, units, purchases)
    SELECT app_id, day, currency, product, sum(price * quantity), sum(quantity), count(*)
    FROM purchase GROUP BY 1, 2, 3, 4
    ON CONFLICT (app_id, day, currency, product) DO UPDATE SET revenue = an_revenue.revenue + EXCLUDED.revenue,
        units = an_revenue.units + EXCLUDED.units, purchases = an_revenue.purchases + EXCLUDED.purchases
),
payers_added AS (
    INSERT INTO an_payers (app_id, day, currency, endpoint_id)
    SELECT DISTINCT app_id, day, currency, endpoint_id FROM purchase
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM b
"""


async def fold_events(conn: AsyncConnection, batch: Batch) -> int:
    """Add the batch's per-event aggregates to the rollups; how many events it had (in range)."""
    # The batch's row counts are unknown to the planner (it guesses a handful): it would sort
    # thousands of rows on text keys where hashing them is cheaper.
    await conn.execute(text("SET LOCAL enable_sort = off"))
    count = await conn.scalar(text(_FOLD.format(batch=batch.sql)), {**batch.params, "numeric": _NUMERIC})
    await conn.execute(text("SET LOCAL enable_sort = on"))
    return int(count or 0)


async def endpoint_days(conn: AsyncConnection, batch: Batch) -> dict[tuple[str, str], set[date]]:
    """The batch's (app, endpoint) keys and the days each sent events on."""
    rows = await conn.execute(
        text(f"SELECT app_id, endpoint_id, array_agg(DISTINCT day) FROM ({batch.sql}) AS b GROUP BY 1, 2"),
        batch.params,
    )
    return {(r[0], r[1]): set(r[2]) for r in rows}
