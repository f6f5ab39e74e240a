"""Message rollups (migration 0014): the figures of the campaigns, journeys and transactional
analytics pages kept as events arrive, with the definitions of rules/kpis.py and the scopes of
store/kpis.py / store/analytics_messages.py, so that a page over 90 days adds up a few thousand
rows instead of counting millions of events.

`fold` runs in the rollup step's transaction over one batch (store/analytics_batch.py); the
aggregation happens in PostgreSQL. What a definition counts once (a message per clock hour, an
opened message, an endpoint) goes through `an_msg_sets`, whose insert reports only what is new;
each new (item, day) moves `an_msg_distinct`'s counts per gap (days since the item's previous
day), so distinct counts over any range stay sums of per-day rows. Only the numbers of SMS
sends leave the database (once per batch and number): their country comes from the numbering
plan (phonenumbers), as the KPI `-grouped-by-country` metrics read it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from rules import kpis as k
from store.analytics_batch import Batch
from store.analytics_messages import SCOPES as PAGE_SCOPES
from store.kpis import MESSAGE, MESSAGE_HOUR
from store.kpis import SCOPES as KPI_SCOPES

# The partitioned parents: retention drops their month partitions with the other rollups'.
PARENTS = ("an_msg_counts", "an_msg_distinct", "an_msg_sets")
GAP_NONE = 400  # an_msg_distinct's gap for "no previous day" (and any gap at least this long)

# Every event type the pages' measures read (rules/kpis.py), per kind of message.
ENGAGEMENT = frozenset(
    k.SENT.events | k.DELIVERED.events | k.HARD_BOUNCES.events | k.OPENS | k.EMAIL_CLICKS | k.OPT_OUTS
)
SMS = frozenset(k.SMS_SENT.events | k.SMS_DELIVERED.events | {"_SMS.FAILURE"})
TRANSACTIONAL = frozenset(ENGAGEMENT | {"_email.rejected"} | SMS)
SESSIONS = frozenset({"_session.start"})

# The kinds of message rollups: (scope condition, first group, second group, whether the UTC
# hour is kept, the event types counted). Groups with a NULL value are left out, as the pages'
# raw queries leave them out.
_HOUR = "extract(hour FROM event_time AT TIME ZONE 'UTC')::smallint"
KINDS: dict[str, tuple[str, str, str, bool, frozenset[str]]] = {
    "c": (
        KPI_SCOPES[k.Scope.CAMPAIGNS],
        "attributes->>'campaign_id'",
        "coalesce(attributes->>'treatment_id', '0')",
        False,
        ENGAGEMENT,
    ),
    "j": (
        PAGE_SCOPES["journeys"],
        "attributes->>'journey_id'",
        "attributes->>'journey_activity_id'",
        False,
        ENGAGEMENT,
    ),
    "s": (PAGE_SCOPES["campaign_sessions"], "attributes->>'campaign_id'", "''", True, SESSIONS),
    # The SMS number's country (bound per batch), '' for every other event.
    "t": (KPI_SCOPES[k.Scope.TRANSACTIONAL], "coalesce(n.country, '')", "''", True, TRANSACTIONAL),
}

# What a definition counts once, per kind `c` and `j`: class -> measure (rules/kpis.py).
CLASSES: dict[str, k.Measure] = {
    "open_hours": k.Measure(k.OPENS, k.Count.MESSAGE_HOURS),
    "opened": k.Measure(k.OPENS, k.Count.MESSAGES),
    "click_hours": k.Measure(k.EMAIL_CLICKS, k.Count.MESSAGE_HOURS),
    "opt_outs": k.Measure(k.OPT_OUTS, k.Count.ENDPOINTS),
    "sent_to": k.Measure(k.SENT.events, k.Count.ENDPOINTS, outcomes_only=True),
}
_ITEMS = {
    k.Count.MESSAGES: MESSAGE,
    k.Count.MESSAGE_HOURS: f"{MESSAGE} || '@' || {MESSAGE_HOUR}",
    k.Count.ENDPOINTS: "endpoint_id",
}
_SAFE = re.compile(r"^[A-Za-z0-9_.]+$")


def _types(events: frozenset[str]) -> str:
    """An SQL list of event types (fixed names from rules/kpis.py, spliced in: checked)."""
    assert all(_SAFE.match(e) for e in events)
    return ", ".join(f"'{e}'" for e in sorted(events))


def _outcome(measure: k.Measure) -> str:
    return " AND attributes->>'delivery_status' IS NOT NULL" if measure.outcomes_only else ""


def _tagged() -> str:
    parts = []
    for kind, (scope, g1, g2, hourly, events) in KINDS.items():
        join = ""
        if kind == "t":
            join = (
                " LEFT JOIN unnest(CAST(:numbers AS text[]), CAST(:countries AS text[])) AS n(number, country)"
                f" ON b.event_type IN ({_types(SMS)}) AND n.number = b.attributes->>'address'"
            )
        parts.append(
            f"SELECT '{kind}'::text AS kind, {g1} AS g1, {g2} AS g2, {_HOUR if hourly else '0'}::smallint AS hour,"
            f" b.app_id, b.endpoint_id, b.event_type, b.event_time, b.day, b.attributes FROM b{join}"
            f" WHERE b.event_type IN ({_types(events)}) AND {scope} AND {g1} IS NOT NULL AND {g2} IS NOT NULL"
        )
    return "\n    UNION ALL ".join(parts)


def _items() -> str:
    # Items are kept as their md5: a fixed 32 characters whatever the ids' length (attributes run
    # to 200 characters), so the set stays compact and its keys within a btree entry.
    return "\n        UNION ALL ".join(
        f"SELECT app_id, kind, g1, g2, '{name}'::text AS class, md5({_ITEMS[m.count]}) AS item, day FROM tagged"
        f" WHERE kind IN ('c', 'j') AND event_type IN ({_types(m.events)}){_outcome(m)}"
        for name, m in CLASSES.items()
    )


_KEY = "app_id, kind, g1, g2, class, item"
_FOLD = f"""
WITH b AS MATERIALIZED (
    SELECT app_id, endpoint_id, event_type, event_time, day, attributes FROM ({{batch}}) AS s
    WHERE event_type IN ({_types(TRANSACTIONAL | SESSIONS)})
),
tagged AS MATERIALIZED (
    {_tagged()}
),
counted AS (
    INSERT INTO an_msg_counts (app_id, kind, day, g1, g2, hour, event_type, outcome, n)
    SELECT app_id, kind, day, g1, g2, hour, event_type, attributes->>'delivery_status' IS NOT NULL, count(*)
    FROM tagged GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (app_id, kind, day, g1, g2, hour, event_type, outcome) DO UPDATE SET n = an_msg_counts.n + EXCLUDED.n
),
items AS (
    SELECT DISTINCT * FROM (
        {_items()}
    ) AS x WHERE item IS NOT NULL
),
added AS (
    INSERT INTO an_msg_sets ({_KEY}, day) SELECT {_KEY}, day FROM items
    ON CONFLICT DO NOTHING RETURNING {_KEY}, day
),
-- The days rolled up before this batch of the items that have a new day (every part of one
-- statement reads the tables as they were before it).
known AS (
    SELECT s.{_KEY.replace(", ", ", s.")}, s.day FROM an_msg_sets s
    JOIN (SELECT DISTINCT {_KEY} FROM added) AS t USING ({_KEY})
),
-- Each day's gap before the batch (taken back) and after it (added): unchanged ones cancel.
moved AS (
    SELECT app_id, kind, day, g1, g2, class,
           least(coalesce(day - lag(day) OVER (PARTITION BY {_KEY} ORDER BY day), {GAP_NONE}), {GAP_NONE}) AS gap,
           -1 AS n
    FROM known
    UNION ALL
    SELECT app_id, kind, day, g1, g2, class,
           least(coalesce(day - lag(day) OVER (PARTITION BY {_KEY} ORDER BY day), {GAP_NONE}), {GAP_NONE}), 1
    FROM (SELECT * FROM known UNION ALL SELECT * FROM added) AS a
)
INSERT INTO an_msg_distinct (app_id, kind, day, g1, g2, class, gap, n)
SELECT app_id, kind, day, g1, g2, class, gap, sum(n) FROM moved
GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0
ON CONFLICT (app_id, kind, day, g1, g2, class, gap) DO UPDATE SET n = an_msg_distinct.n + EXCLUDED.n
"""

_PREPARE = f"""
SELECT DISTINCT date_trunc('month', day)::date AS month,
       CASE WHEN event_type IN ({_types(SMS)}) AND {KPI_SCOPES[k.Scope.TRANSACTIONAL]}
            THEN attributes->>'address' END AS number
FROM ({{batch}}) AS b WHERE event_type IN ({_types(TRANSACTIONAL | SESSIONS)})
"""


@lru_cache(maxsize=100_000)
def _country(number: str) -> str | None:
    return k.country_of(number)


async def fold(conn: AsyncConnection, batch: Batch) -> None:
    """Fold the batch's message events into the message rollups, in the caller's transaction
    (the caller's cursor makes each event folded once)."""
    rows = (await conn.execute(text(_PREPARE.format(batch=batch.sql)), batch.params)).all()
    if not rows:
        return
    for month in sorted({r[0] for r in rows}):
        await conn.execute(text("SELECT ensure_message_partition(:d)"), {"d": month})
    countries = {r[1]: c for r in rows if r[1] is not None and (c := _country(r[1])) is not None}
    await conn.execute(
        text(_FOLD.format(batch=batch.sql)),
        {**batch.params, "numbers": list(countries), "countries": list(countries.values())},
    )


# -- reading -----------------------------------------------------------------------------------

# What a page groups by: the SQL of each group value over an_msg_counts / an_msg_distinct.
AXES = {
    "groups": ["g1", "g2"],  # campaign and treatment, journey and activity
    "hour_of_day": ["lpad(hour::text, 2, '0')"],
    "date": ["to_char(day, 'YYYY-MM-DD')"],
    "hour": ["to_char(day, 'YYYY-MM-DD') || 'T' || lpad(hour::text, 2, '0') || '\\:00Z'"],  # \: not a bind
    "country": ["g1"],
}
Grouped = list[tuple[tuple[str, ...], list[int]]]


def _class_of(measure: k.Measure) -> str:
    for name, m in CLASSES.items():
        if (m.events, m.count, m.outcomes_only) == (measure.events, measure.count, measure.outcomes_only):
            return name
    raise ValueError(f"the message rollups do not count {measure} once")


def _value(measure: k.Measure, counts: dict[tuple[str, bool], int], distinct: dict[str, int]) -> int:
    if measure.count is not k.Count.EVENTS:
        return distinct.get(_class_of(measure), 0)
    n = sum(
        v
        for (event, outcome), v in counts.items()
        if event in measure.events and (outcome or not measure.outcomes_only)
    )
    if measure.less is not None:
        n = max(0, n - _value(measure.less, counts, distinct))
    return n


async def measured(
    conn: AsyncConnection,
    *,
    app_id: str,
    first: date,
    last: date,
    kind: str,
    axis: str,
    measures: Sequence[k.Measure],
    g1: str | None = None,
) -> Grouped:
    """Per group of `axis` (sorted), each measure over the days [first, last] of one kind of
    message (`g1`: one campaign or journey), as store/analytics_messages.py `measured` counts
    them from raw events: a group is there when it has an event of a type the measures read.
    Counts of things counted once (rules/kpis.Count other than EVENTS) are over the whole
    range, so only the `groups` axis has them."""
    events = frozenset().union(*(m.events for m in measures))
    assert events <= KINDS[kind][4], f"kind {kind} does not count every event type of {measures}"
    keys = AXES[axis]
    group_sql = ", ".join(f"{g} AS g{i}" for i, g in enumerate(keys))
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    where = (
        "app_id = :app AND kind = :kind AND day BETWEEN :first AND :last AND (CAST(:g1 AS text) IS NULL OR g1 = :g1)"
    )
    if axis == "country":
        where += " AND g1 <> ''"
    params: dict[str, Any] = {"app": app_id, "kind": kind, "first": first, "last": last, "g1": g1}
    counts: dict[tuple[str, ...], dict[tuple[str, bool], int]] = defaultdict(dict)
    for r in await conn.execute(
        text(
            f"SELECT {group_sql}, event_type, outcome, sum(n) AS n FROM an_msg_counts WHERE {where}"
            f" AND event_type IN ({_types(events)}) GROUP BY {positions}, {len(keys) + 1}, {len(keys) + 2}"
        ),
        params,
    ):
        counts[tuple(r[: len(keys)])][(r[len(keys)], r[len(keys) + 1])] = int(r[-1])
    distinct: dict[tuple[str, ...], dict[str, int]] = defaultdict(dict)
    if any(m.count is not k.Count.EVENTS for m in measures):
        assert axis == "groups", "distinct counts are kept over ranges of days, per campaign or journey group"
        classes = sorted({_class_of(m) for m in measures if m.count is not k.Count.EVENTS})
        for r in await conn.execute(
            text(
                f"SELECT {group_sql}, class, sum(n) AS n FROM an_msg_distinct WHERE {where}"
                f" AND class IN ({', '.join(repr(c) for c in classes)}) AND gap > day - :first"
                f" GROUP BY {positions}, {len(keys) + 1}"
            ),
            params,
        ):
            distinct[tuple(r[: len(keys)])][r[len(keys)]] = int(r[-1])
    return [(group, [_value(m, counts[group], distinct[group]) for m in measures]) for group in sorted(counts)]
