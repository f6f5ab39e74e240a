"""Folding events into the rollups (migration 0011, store/analytics_rollups.py): the one code path
the worker's rollup loop (worker/rollups.py), its backfill and bench/analytics.py run.

A batch of events (store/analytics_batch.py: a feed slice or a backfill page, named in SQL) is
folded in the caller's transaction, with the cursor, so each event is folded exactly once. Per
event, the aggregation runs in PostgreSQL (store/analytics_fold.py: event counts and metric sums
per type and attribute value, sessions and their time, sessions by hour, revenue, units and
payers per currency). Per endpoint-day, additive deltas are computed here against what is
rolled up already for the batch's endpoints:
- each new (endpoint, day) row, with the endpoint's dimensions that day; `an_active` gets +1 at
  (day, each dimension value, gap since the endpoint's previous active day), and the next active
  day's gap (an event arriving late, between two days) moves: -1 at its old gap, +1 at the new;
- the endpoint's first day (its earliest event, or its creation through the API if earlier) and
  the days until it first came back: `an_cohorts` and the day's new endpoints move with them;
- users active per day.
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
from store import analytics_fold as fold_sql
from store import analytics_message_rollups as message_rollups
from store import analytics_rollups as store
from store import feed
from store.analytics_batch import Batch, from_backfill, from_feed

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


async def fold(conn: AsyncConnection, batch: Batch, lowest: date) -> int:
    """Fold the batch's events into the rollups (in the caller's transaction); how many were in
    range. `lowest`: the first day of the retention (the batch leaves out days outside it)."""
    by_endpoint = await fold_sql.endpoint_days(conn, batch)
    if not by_endpoint:
        return 0
    # Every day of the batch's events: their month partitions must exist before any insert.
    await store.ensure_partitions(conn, set().union(*by_endpoint.values()))
    counted = await fold_sql.fold_events(conn, batch)
    await message_rollups.fold(conn, batch)
    d = Deltas()
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
    for app, day in await store.new_user_days(conn, user_days):
        _days(d, app, day, 3, 1)
    touched = {k[1] for t in ("an_active", "an_days") for k in d.tables[t]} | {r[2] for r in new_rows}
    await store.ensure_partitions(conn, {t for t in touched if t >= lowest})
    await store.insert_endpoint_days(conn, new_rows)
    await store.upsert_endpoints(conn, endpoint_rows)
    for table, deltas in d.tables.items():
        if table == "an_cohorts":
            rows = deltas
        else:  # partitioned by day: days before the retention are gone already
            rows = {k: v for k, v in deltas.items() if k[1] >= lowest}
        await store.add(conn, table, {k: tuple(v) for k, v in rows.items()})
    return counted


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


async def step(engine: AsyncEngine, *, batch: int = 2000, keep_days: int = RETENTION_DAYS) -> int:
    """One transaction of the rollup loop: the next slice of the feed (and a page of the backfill
    while there is one) folded, the cursor moved with them. How many events were read (0: caught
    up). The cursor row's lock makes any other loop wait, so each event is folded once."""
    async with engine.begin() as conn:
        at = await store.cursor(conn)
        if at is None:
            # First start: the feed from now on; the events stored already by the backfill.
            await store.start_cursor(conn, await feed.start(conn))
            return 1
        today = await store.today(conn)
        lowest, highest = today - timedelta(days=keep_days), today + timedelta(days=1)
        read = 0
        if (found := await feed.slice_upto(conn, at.xid, limit=batch)) is not None:
            upto, read = found
            await fold(conn, from_feed(at.xid, upto, lowest, highest), lowest)
            at.xid = upto
        if at.backfill is not None:
            upto = at.backfill[0]  # the events of transactions up to the feed's start
            page = from_backfill(upto, at.backfill[1:], batch, lowest, highest)
            last = await store.backfill_last(conn, page)
            if last is not None:
                await fold(conn, page, lowest)
                at.backfill = [upto, *last]
                read += batch
            else:
                at.backfill = None
                read += 1  # once more: the backfill is done
        await store.save_cursor(conn, at)
        return read
