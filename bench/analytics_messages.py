"""bench/analytics.py's message events and message pages: campaigns (treatments, a holdout, push
opens, sessions opened from campaigns), a journey's activities (and test participants), and
direct email and SMS sends to numbers of several countries — sends, deliveries, opens, clicks,
bounces, opt-outs, as the delivery layer and the SDKs write them — and the campaigns, journeys
and transactional pages over them, from the message rollups beside the same page computed from
raw events (the path the pages took before the rollups: store/analytics_messages.py)."""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import messages
from analytics.model import Filters, Granularity, Table, Window
from rules import kpis as k
from store import analytics_messages as raw

CAMPAIGNS = [f"{'c' * 31}{i}" for i in range(4)]
JOURNEYS = ["j" * 32]
ACTIVITIES = [f"activity-{i}" for i in range(5)]
PREFIXES = ["+1206", "+336", "+447", "+4915", "+8190"]  # US, FR, GB, DE, JP
SHARE = 0.25  # of the events: message events
NONE = Filters()


async def setup(conn: Any, app_id: str, first_day: date, days: int) -> None:
    """The campaigns and their runs (one a week, both treatments, some endpoints held out)."""
    for c in CAMPAIGNS:
        await conn.execute("INSERT INTO campaigns (app_id, id) VALUES ($1, $2)", app_id, c)
        for run in range(days // 7):
            for treatment in ("0", "1"):
                await conn.execute(
                    "INSERT INTO campaign_activities (app_id, campaign_id, id, run_number, treatment_id,"
                    " campaign_version, scheduled_start, state, result, execution_metrics)"
                    " VALUES ($1, $2, $3, $4, $5, 1, $6, 'COMPLETED', 'SUCCESS', $7::jsonb)",
                    app_id,
                    c,
                    f"{c[-1]}{run:02d}{treatment}".ljust(32, "a"),
                    run + 1,
                    treatment,
                    datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) + timedelta(days=7 * run),
                    json.dumps({"TREATMENT_HOLDOUT": 100 + run} if treatment == "0" else {}),
                )


def day_messages(
    rng: random.Random, app_id: str, day: date, alive: int, count: int, offset: int
) -> list[tuple[Any, ...]]:
    """About `count` message events of sends made on `day` (what came back may be later)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    latest = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []

    def add(ep: int, kind: str, at: datetime, attributes: dict[str, Any]) -> None:
        rows.append(
            (app_id, f"ep-{ep:07d}", f"m{offset}-{len(rows)}", kind, min(at, latest), None,
             orjson.dumps(attributes).decode(), "{}", "{}")
        )  # fmt: skip

    n = 0
    while len(rows) < count:
        n += 1
        ep = max(0, alive - 1 - int(rng.expovariate(1 / max(1.0, alive / 6))) % alive)
        at = start + timedelta(seconds=rng.randrange(86_400))
        later = at + timedelta(minutes=rng.randrange(1, 36 * 60))  # opens and reports may come the next day
        ids: dict[str, Any] = {"message_id": f"msg-{offset}-{n}"}
        draw = rng.random()
        if draw < 0.55:
            c = rng.choice(CAMPAIGNS)
            run = min(offset // 7, 11)
            treatment = rng.choice("01") if c != CAMPAIGNS[3] else "0"
            campaign = {
                "campaign_id": c,
                "treatment_id": treatment,
                "campaign_activity_id": f"{c[-1]}{run:02d}{treatment}",
            }
            ids |= {**campaign, "source": "campaign"}
            channel = rng.choices(["EMAIL", "PUSH", "SMS"], [6, 3, 1])[0]
        elif draw < 0.75:
            ids |= {"journey_id": JOURNEYS[0], "journey_activity_id": rng.choice(ACTIVITIES), "source": "journey"}
            if rng.random() < 0.03:
                ids["journey_test_run_id"] = "test-run"
            channel = rng.choice(["EMAIL", "SMS"])
        else:
            ids["source"] = "otp" if rng.random() < 0.1 else "direct"
            channel = rng.choice(["EMAIL", "SMS"])
        if channel == "EMAIL":
            ids["address"] = f"ep-{ep}@example.com"
            if rng.random() < 0.03:
                add(ep, "_email.rejected", at, ids | {"delivery_status": "PERMANENT_FAILURE"})
                continue
            add(ep, "_email.send", at, ids | {"delivery_status": "SUCCESSFUL"})
            add(ep, "_email.delivered", at, ids)
            if rng.random() < 0.02:
                add(ep, "_email.hardbounce", later, ids)
                continue
            if rng.random() < 0.3:
                for _ in range(rng.randrange(1, 4)):
                    add(ep, "_email.open", later + timedelta(minutes=rng.randrange(120)), ids)
                if rng.random() < 0.3:
                    add(ep, "_email.click", later + timedelta(minutes=rng.randrange(120)), ids)
            if rng.random() < 0.005:
                add(ep, "_email.unsubscribe", later, ids)
        elif channel == "PUSH":
            if rng.random() < 0.01:
                add(ep, "_push.failure", at, ids | {"delivery_status": "PERMANENT_FAILURE"})
                continue
            add(ep, "_push.send", at, ids | {"delivery_status": "SUCCESSFUL"})
            if rng.random() < 0.1:  # from the app's SDK: the campaign's ids, no message id
                sdk = {key: ids[key] for key in ("campaign_id", "treatment_id", "campaign_activity_id")}
                add(ep, "_campaign.opened_notification", later, sdk)
                add(ep, "_session.start", later, {"campaign_id": ids["campaign_id"]})
        else:
            ids["address"] = f"{PREFIXES[ep % len(PREFIXES)]}{ep % 10_000_000:07d}"
            if rng.random() < 0.02:
                add(ep, "_SMS.FAILURE", at, ids | {"delivery_status": "PERMANENT_FAILURE"})
                continue
            add(ep, "_SMS.BUFFERED", at, ids | {"delivery_status": "SUCCESSFUL"})
            add(ep, "_SMS.SUCCESS" if rng.random() < 0.92 else "_SMS.FAILURE", later, ids)
            if rng.random() < 0.003:
                add(ep, "_SMS.OPTOUT", later, ids)
    return rows


# -- the pages, and the same from raw events ---------------------------------------------------

_RAW = {  # (kind, axis) -> (scope, scope of one owner, groups)
    ("c", "groups"): ("campaigns", "campaign", [raw.CAMPAIGN, raw.TREATMENT]),
    ("j", "groups"): ("journeys", "journey", [raw.JOURNEY, raw.JOURNEY_ACTIVITY]),
    ("s", "hour_of_day"): ("campaign_sessions", "campaign_session", [raw.HOUR_OF_DAY]),
    ("t", "date"): ("transactional", "transactional", [raw.DATE]),
    ("t", "hour"): ("transactional", "transactional", [raw.HOUR]),
    ("t", "country"): ("transactional", "transactional", [raw.ADDRESS]),
}


class _FromRawEvents:
    """Stands in for store/analytics_message_rollups.py `measured`: the raw-event query."""

    @staticmethod
    async def measured(
        conn: Any, *, app_id: str, first: date, last: date, kind: str, axis: str,
        measures: Sequence[k.Measure], g1: str | None = None,
    ) -> raw.Grouped:  # fmt: skip
        scope, one, groups = _RAW[(kind, axis)]
        owner = {"campaign_id" if kind in "cs" else "journey_id": g1} if g1 else None
        window = Window(first, last)
        counted = await raw.measured(
            conn, app_id=app_id, start=window.start, end=window.end, scope=one if g1 else scope, groups=groups,
            measures=measures, owner=owner,
        )  # fmt: skip
        if axis != "country":
            return counted
        countries: dict[str, list[int]] = {}
        for (number,), counts in counted:
            if (country := k.country_of(number)) is not None:
                countries[country] = [
                    a + b for a, b in zip(countries.get(country, [0] * len(counts)), counts, strict=True)
                ]
        return sorted(((c,), v) for c, v in countries.items())


@contextlib.asynccontextmanager
async def from_raw_events() -> AsyncIterator[None]:
    """analytics/messages.py answering from raw events, as it did before the rollups."""
    saved = getattr(messages, "rolled")  # noqa: B009 - the module analytics/messages.py reads
    setattr(messages, "rolled", _FromRawEvents)  # noqa: B010
    try:
        yield
    finally:
        setattr(messages, "rolled", saved)  # noqa: B010


Figure = Callable[..., Awaitable[Table]]  # (connection, project, window, ch=None)
_HOURLY = Granularity.HOUR
FIGURES: dict[str, Figure] = {
    "campaigns (treatments, holdout)": lambda c, a, w, ch=None: messages.campaigns(c, a, w, NONE, ch=ch),
    "campaigns (one campaign)": lambda c, a, w, ch=None: messages.campaigns(
        c, a, w, NONE, campaign_id=CAMPAIGNS[0], ch=ch
    ),
    "campaigns (sessions-by-hour)": lambda c, a, w, ch=None: messages.campaigns(
        c, a, w, NONE, view="sessions-by-hour", ch=ch
    ),
    "journeys (activities)": lambda c, a, w, ch=None: messages.journeys(c, a, w, NONE, ch=ch),
    "transactional (daily)": lambda c, a, w, ch=None: messages.transactional(c, a, w, NONE, ch=ch),
    "transactional (hourly, last 7 days)": lambda c, a, w, ch=None: messages.transactional(
        c, a, Window(w.last - timedelta(days=6), w.last, _HOURLY), NONE, ch=ch
    ),
    "transactional (sms-by-country)": lambda c, a, w, ch=None: messages.transactional(
        c, a, w, NONE, view="sms-by-country", ch=ch
    ),
}


def agree(table: Table, baseline: Table) -> str:
    if table.rows == baseline.rows:
        return "yes" if any(any(v for v in values if v) for _, values in table.rows) else "yes (empty!)"
    return f"NO ({len(set(table.rows) ^ set(baseline.rows))} rows differ)"


async def report(engine: AsyncEngine, app_id: str, window: Window, raw_timeout: float, ch: Any = None) -> None:
    """A row per message page: its time from the rollups, from raw events, the ratio, agreement;
    with `ch`, its time on ClickHouse and whether that table is the rollups' one."""
    for name, figure in FIGURES.items():
        async with engine.connect() as c:
            await figure(c, app_id, window)  # warm
            t1 = time.perf_counter()
            table = await figure(c, app_id, window)
            fast = time.perf_counter() - t1
        async with engine.connect() as c, from_raw_events():
            await c.execute(text(f"SET statement_timeout = '{int(raw_timeout * 1000)}'"))
            t1 = time.perf_counter()
            try:
                baseline = await figure(c, app_id, window)
                slow = time.perf_counter() - t1
                slow_text, ratio, same = f"{slow:.2f}s", f"{slow / fast:,.0f}x", agree(table, baseline)
            except DBAPIError:
                slow_text, ratio, same = f">{raw_timeout:.0f}s", f">{raw_timeout / fast:,.0f}x", "-"
        line = f"{name:<52} {fast * 1000:>7.0f}ms {slow_text:>11} {ratio:>8}  {same:<5}"
        if ch is not None:
            async with engine.connect() as c:
                await figure(c, app_id, window, ch=ch)  # warm
                t1 = time.perf_counter()
                on_ch = await figure(c, app_id, window, ch=ch)
                line += f" {(time.perf_counter() - t1) * 1000:>9.0f}ms  {agree(on_ch, table)}"
        print(line, flush=True)
