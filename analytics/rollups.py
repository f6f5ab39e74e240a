"""Folding events into the rollups (migration 0011, store/analytics_rollups.py): the one code path
the worker's rollup loop (worker/rollups.py), its backfill and bench/analytics.py run.

A batch of events becomes additive deltas, computed against what is rolled up already for the
batch's endpoints, and written in the caller's transaction (with the cursor, so each event is
folded exactly once):
- each new (endpoint, day) row, with the endpoint's dimensions that day; `an_active` gets +1 at
  (day, each dimension value, gap since the endpoint's previous active day), and the next active
  day's gap (an event arriving late, between two days) moves: -1 at its old gap, +1 at the new;
- the endpoint's first day (its earliest event, or its creation through the API if earlier) and
  the days until it first came back: `an_cohorts` and the day's new endpoints move with them;
- users active per day, sessions (`_session.start`) and their time (the session's Duration, from
  `_session.stop`), sessions by hour, event counts and metric sums per type (and per attribute
  value for custom events and purchases), revenue, units and payers per currency.
Days outside the retention (before it, or after tomorrow: clocks that are wrong) are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from analytics.model import RETENTION_DAYS
from store import analytics_rollups as store
from store import feed

GAP_NONE = 400  # an_active's gap for "no previous active day" (and any gap at least this long)
PURCHASE = "_monetization.purchase"
SESSION_START = "_session.start"
SESSION_STOP = "_session.stop"
ALL = ["", ""]  # the dimension value every endpoint has

# Demographic dimension -> (profile member, key); attributes are `attribute.<name>`.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "platform": ("demographic", "Platform"),
    "platform-version": ("demographic", "PlatformVersion"),
    "app-version": ("demographic", "AppVersion"),
    "make": ("demographic", "Make"),
    "model": ("demographic", "Model"),
    "locale": ("demographic", "Locale"),
    "country": ("location", "Country"),
    "region": ("location", "Region"),
    "city": ("location", "City"),
}
ATTRIBUTE = "attribute."
CHANNEL = "channel"


def dimensions(profile: dict[str, Any] | None) -> list[list[str]]:
    """[dimension, value] pairs of an endpoint's profile (as stored: JSON text members)."""
    out = [list(ALL)]
    if not profile:
        return out
    parts = {m: orjson.loads(profile[m]) if profile.get(m) else {} for m in ("demographic", "location", "attributes")}
    for dim, (member, key) in DIMENSIONS.items():
        value = (parts[member] or {}).get(key)
        if value not in (None, ""):
            out.append([dim, str(value)[:200]])
    if profile.get("channel_type"):
        out.append([CHANNEL, str(profile["channel_type"])])
    for name, values in sorted((parts["attributes"] or {}).items()):
        for value in values if isinstance(values, list) else [values]:
            out.append([ATTRIBUTE + name, str(value)[:200]])
    return out


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


def _gap(day: date, previous: date | None) -> int:
    return GAP_NONE if previous is None else min((day - previous).days, GAP_NONE)


class Deltas:
    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[Any, ...], list[float]]] = defaultdict(dict)

    def add(self, table: str, key: tuple[Any, ...], *values: float) -> None:
        row = self.tables[table].setdefault(key, [0.0] * len(values))
        for i, v in enumerate(values):
            row[i] += v


def _days(d: Deltas, app: str, day: date, i: int, n: float) -> None:
    """an_days column i (new_endpoints, sessions, session_ms, active_users) += n."""
    values = [0.0] * 4
    values[i] = n
    d.add("an_days", (app, day), *values)


async def fold(conn: AsyncConnection, events: list[dict[str, Any]], *, keep_days: int) -> int:
    """Fold `events` into the rollups (in the caller's transaction); how many were in range."""
    today = await store.today(conn)
    lowest, highest = today - timedelta(days=keep_days), today + timedelta(days=1)
    events = [e for e in events if lowest <= _day(e["event_time"]) <= highest]
    if not events:
        return 0
    await store.ensure_partitions(conn, {_day(e["event_time"]) for e in events})
    d = Deltas()
    by_endpoint: dict[tuple[str, str], set[date]] = defaultdict(set)
    for e in events:
        by_endpoint[(e["app_id"], e["endpoint_id"])].add(_day(e["event_time"]))
    keys = sorted(by_endpoint)
    known_days, firsts, profiles = await store.endpoint_state(conn, keys)
    new_rows: list[tuple[str, str, date, list[list[str]]]] = []
    endpoint_rows: list[tuple[str, str, date, int | None]] = []
    user_days: set[tuple[str, date, str]] = set()
    for key in keys:
        app = key[0]
        profile = profiles.get(key)
        old = known_days.get(key, {})
        fresh = sorted(by_endpoint[key] - set(old))
        if profile and profile.get("user_id"):
            user_days.update((app, day, profile["user_id"]) for day in by_endpoint[key])
        if fresh:
            _fold_active(d, key, old, fresh, dimensions(profile), new_rows)
        endpoint_rows.extend(_fold_first(d, key, firsts.get(key), fresh, profile, lowest))
    # Users, sessions, events, revenue.
    for app, day in await store.new_user_days(conn, user_days):
        _days(d, app, day, 3, 1)
    stops = sorted(
        {(e["app_id"], e["session_id"]) for e in events if e["event_type"] == SESSION_STOP and e["session_id"]}
    )
    durations = await store.session_durations(conn, stops)
    payers: set[tuple[str, date, str, str]] = set()
    for e in events:
        _fold_event(d, e, durations, payers)
    touched = {
        k[1] for t in ("an_active", "an_days", "an_events", "an_revenue", "an_session_hours") for k in d.tables[t]
    }
    touched |= {r[2] for r in new_rows} | {p[1] for p in payers} | {u[1] for u in user_days}
    await store.ensure_partitions(conn, {t for t in touched if t >= lowest})
    await store.insert_endpoint_days(conn, new_rows)
    await store.upsert_endpoints(conn, endpoint_rows)
    await store.insert_payers(conn, payers)
    for table, deltas in d.tables.items():
        if table == "an_cohorts":
            rows = deltas
        else:  # partitioned by day: days before the retention are gone already
            rows = {k: v for k, v in deltas.items() if k[1] >= lowest}
        await store.add(conn, table, {k: tuple(v) for k, v in rows.items()})
    return len(events)


def _fold_active(
    d: Deltas,
    key: tuple[str, str],
    old: dict[date, list[list[str]]],
    fresh: list[date],
    dims: list[list[str]],
    new_rows: list[tuple[str, str, date, list[list[str]]]],
) -> None:
    """New active days of one endpoint: their an_active rows, and the gaps of the days they precede."""
    app = key[0]
    before = sorted(old)
    after = sorted([*before, *fresh])
    old_gap = {day: _gap(day, prev) for prev, day in zip([None, *before], before, strict=False)}
    fresh_set = set(fresh)
    for prev, day in zip([None, *after], after, strict=False):
        gap = _gap(day, prev)
        if day in fresh_set:
            new_rows.append((app, key[1], day, dims))
            for dim, value in dims:
                d.add("an_active", (app, day, dim, value, gap), 1)
        elif old_gap[day] != gap:
            for dim, value in old[day]:
                d.add("an_active", (app, day, dim, value, old_gap[day]), -1)
                d.add("an_active", (app, day, dim, value, gap), 1)


def _fold_first(
    d: Deltas,
    key: tuple[str, str],
    first: tuple[date, int | None] | None,
    fresh: list[date],
    profile: dict[str, Any] | None,
    lowest: date,
) -> Iterable[tuple[str, str, date, int | None]]:
    """The endpoint's first day and first return (an_endpoints), moving its cohort and new count."""
    if not fresh and first is not None:
        return []
    app = key[0]
    active = set(fresh)  # days it sent events (its creation is no activity)
    starts = set(fresh)
    if first is not None:
        active.add(first[0])
        starts.add(first[0])
        if first[1] is not None:
            active.add(first[0] + timedelta(days=first[1]))
    elif profile and profile.get("created_at") is not None:
        starts.add(max(_day(profile["created_at"]), lowest - timedelta(days=1)))
    start = min(starts)
    later = [day for day in active if day > start]
    returned = (min(later) - start).days if later else None
    if first is not None and (start, returned) == first:
        return []
    if first is not None:
        d.add("an_cohorts", (app, first[0], -1 if first[1] is None else first[1]), -1)
        _days(d, app, first[0], 0, -1)
    d.add("an_cohorts", (app, start, -1 if returned is None else returned), 1)
    _days(d, app, start, 0, 1)
    return [(app, key[1], start, returned)]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fold_event(
    d: Deltas, e: dict[str, Any], durations: dict[tuple[str, str], int], payers: set[tuple[str, date, str, str]]
) -> None:
    app, kind, day = e["app_id"], e["event_type"], _day(e["event_time"])
    if kind == SESSION_START:
        _days(d, app, day, 1, 1)
        d.add("an_session_hours", (app, day, e["event_time"].astimezone(UTC).hour), 1)
    elif kind == SESSION_STOP and e["session_id"]:
        _days(d, app, day, 2, durations.get((app, e["session_id"]), 0))
    attributes = _json(e.get("attributes"))
    metrics = {k: v for k, v in ((k, _number(v)) for k, v in _json(e.get("metrics")).items()) if v is not None}
    # Standard engagement events carry message ids: only custom events and purchases are rolled
    # up per attribute value.
    per_value = not kind.startswith("_") or kind == PURCHASE
    pairs = [("", "")] + ([(k, str(v)[:200]) for k, v in sorted(attributes.items())] if per_value else [])
    table = d.tables["an_events"]  # the hot path: one row per event, attribute value and metric
    for attr, value in pairs:
        row = table.get(key := (app, day, kind, attr, value, ""))
        if row is None:
            table[key] = [1.0, 0.0]
        else:
            row[0] += 1
        for metric, amount in metrics.items():
            row = table.get(key := (app, day, kind, attr, value, metric))
            if row is None:
                table[key] = [1.0, amount]
            else:
                row[0] += 1
                row[1] += amount
    if kind == PURCHASE:
        currency = str(attributes.get("_currency") or "")
        product = str(attributes.get("_product_id") or "")
        quantity = metrics.get("_quantity", 1.0)
        price = metrics.get("_item_price", 0.0)
        d.add("an_revenue", (app, day, currency, product), price * quantity, quantity, 1)
        payers.add((app, day, currency, e["endpoint_id"]))


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        loaded = orjson.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}


async def step(engine: AsyncEngine, *, batch: int = 2000, keep_days: int = RETENTION_DAYS) -> int:
    """One transaction of the rollup loop: the next events of the feed (and a page of the backfill
    while there is one) folded, the cursor moved with them. How many events were read (0: caught
    up). The cursor row's lock makes any other loop wait, so each event is folded once."""
    async with engine.begin() as conn:
        at = await store.cursor(conn)
        if at is None:
            # First start: the feed from now on; the events stored already by the backfill.
            await store.start_cursor(conn, await feed.start(conn))
            return 1
        events, at.xid = await feed.read(conn, at.xid, limit=batch)
        read = len(events)
        if at.backfill is not None:
            upto = at.backfill[0]  # the events of transactions up to the feed's start
            page = await store.backfill_page(conn, upto, at.backfill[1:], batch)
            if page:
                last = page[-1]
                at.backfill = [
                    upto,
                    last["app_id"],
                    last["endpoint_id"],
                    last["event_time"].isoformat(),
                    last["event_id"],
                ]
                events.extend(page)
                read += len(page)
            else:
                at.backfill = None
                read += 1  # once more: the backfill is done
        await fold(conn, events, keep_days=keep_days)
        await store.save_cursor(conn, at)
        return read
