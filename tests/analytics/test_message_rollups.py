"""The message rollups (store/analytics_message_rollups.py) give the figures the raw-event queries
give (store/analytics_messages.py, the KPIs' own aggregates), for every page axis and for windows
starting on any day: random campaign, journey, session and transactional events, stored in
several transactions and folded in shuffled batches (an item's days arrive out of order, so
the gaps move), through the feed as the rollup step reads it, on a database of its own."""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import messages
from launch.postgres import EmbeddedPostgres
from rules import kpis as k
from store import analytics_message_rollups as rolled
from store import analytics_messages as raw
from store import events as events_store
from store import feed
from store.analytics_batch import Batch, from_backfill, from_feed
from store.db import make_engine
from store.migrate import upgrade

TODAY = datetime.now(UTC).date()
BASE = TODAY - timedelta(days=20)
NUMBERS = ["+12065550142", "+12065550143", "+33612345678", "+447700900123", "+81312345678", "not-a-number"]
CAMPAIGN_TYPES = [
    "_email.send", "_email.delivered", "_email.open", "_email.open", "_email.click", "_email.hardbounce",
    "_email.unsubscribe", "_email.rejected", "_push.send", "_push.failure", "_campaign.opened_notification",
    "_SMS.BUFFERED", "_SMS.SUCCESS", "_SMS.FAILURE", "_SMS.OPTOUT", "_custom.send", "shop.visit",
]  # fmt: skip
TXN_TYPES = [
    "_email.send", "_email.delivered", "_email.rejected", "_email.hardbounce", "_email.open",
    "_SMS.BUFFERED", "_SMS.SUCCESS", "_SMS.FAILURE",
]  # fmt: skip


def make_events(app_id: str, rnd: random.Random, n: int = 1500) -> list[dict[str, Any]]:
    """Message events of a few endpoints and messages, so that items repeat across hours and days."""
    out = []
    for i in range(n):
        day = BASE + timedelta(days=rnd.randrange(21))
        at = datetime.combine(day, time(rnd.choice((0, 9, 10, 23)), rnd.randrange(60)), tzinfo=UTC)
        endpoint = f"ep-{rnd.randrange(12)}"
        attributes: dict[str, Any] = {}
        what = rnd.random()
        if what < 0.45:
            kind = rnd.choice(CAMPAIGN_TYPES)
            attributes = {"campaign_id": rnd.choice(("c1", "c2", "_DIRECT")), "campaign_activity_id": "a"}
            if rnd.random() < 0.8:
                attributes["treatment_id"] = rnd.choice(("0", "1"))
            if kind != "_campaign.opened_notification":  # the SDK's push opens carry no source
                attributes["source"] = rnd.choice(("campaign", "campaign", "direct"))
        elif what < 0.7:
            kind = rnd.choice(CAMPAIGN_TYPES)
            attributes = {"journey_id": rnd.choice(("j1", "j2")), "source": "journey"}
            if rnd.random() < 0.9:
                attributes["journey_activity_id"] = rnd.choice(("a1", "a2"))
            if rnd.random() < 0.1:
                attributes["journey_test_run_id"] = "run"
        elif what < 0.9:
            kind = rnd.choice(TXN_TYPES)
            attributes = {"source": rnd.choice(("direct", "otp"))}
            attributes["address"] = rnd.choice(NUMBERS) if kind.startswith("_SMS") else f"{endpoint}@example.com"
        else:
            kind = "_session.start"
            attributes = {"campaign_id": rnd.choice(("c1", "c2", "_DIRECT"))} if rnd.random() < 0.8 else {}
        if rnd.random() < 0.7 and kind != "_campaign.opened_notification":
            attributes["message_id"] = f"m-{rnd.randrange(40)}"
        if kind in ("_email.send", "_email.rejected", "_SMS.BUFFERED", "_push.send", "_push.failure", "_custom.send"):
            if rnd.random() < 0.9:
                attributes["delivery_status"] = "SUCCESSFUL"
        elif kind == "_SMS.FAILURE" and rnd.random() < 0.5:
            attributes["delivery_status"] = "PERMANENT_FAILURE"
        out.append(
            {
                "app_id": app_id,
                "endpoint_id": endpoint,
                "event_id": f"ev-{i}",
                "event_type": kind,
                "event_time": at,
                "session_id": None,
                "attributes": attributes,
                "metrics": {},
                "client": {},
            }
        )
    return out


@pytest.fixture
async def engine(pg_server: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    url = pg_server.create_database(f"openpoint_msg_rollups_{secrets.token_hex(4)}")
    upgrade(url)
    e = make_engine(url, pool_size=2)
    yield e
    await e.dispose()


LOWEST, HIGHEST = TODAY - timedelta(days=91), TODAY + timedelta(days=1)


async def fold_through_feed(engine: AsyncEngine, events: list[dict[str, Any]], rnd: random.Random) -> None:
    """Store the events in shuffled transactions, folding the feed's slices in between."""
    async with engine.begin() as conn:
        after = await feed.start(conn)
    rnd.shuffle(events)
    for i in range(0, len(events), 200):
        async with engine.begin() as conn:
            await events_store.insert_events(conn, events[i : i + 200])
        while True:
            async with engine.begin() as conn:
                found = await feed.slice_upto(conn, after, limit=150)
                if found is None:
                    break
                await rolled.fold(conn, from_feed(after, found[0], LOWEST, HIGHEST))
                after = found[0]


def windows() -> list[tuple[date, date]]:
    return [(BASE, TODAY), (BASE + timedelta(days=3), BASE + timedelta(days=12)), (BASE + timedelta(days=7),) * 2]


async def compare(engine: AsyncEngine, app_id: str) -> None:
    sessions = [k.Measure(frozenset({"_session.start"}))]
    sms = [k.SMS_SENT, k.SMS_DELIVERED, messages.SMS_FAILED]
    cases: list[tuple[str, str, str, list[str], list[k.Measure], dict[str, str] | None]] = [
        ("c", "groups", "campaigns", [raw.CAMPAIGN, raw.TREATMENT], messages._ENGAGEMENT, None),
        ("c", "groups", "campaign", [raw.CAMPAIGN, raw.TREATMENT], messages._ENGAGEMENT, {"campaign_id": "c1"}),
        ("j", "groups", "journeys", [raw.JOURNEY, raw.JOURNEY_ACTIVITY], messages._ENGAGEMENT, None),
        ("j", "groups", "journey", [raw.JOURNEY, raw.JOURNEY_ACTIVITY], messages._ENGAGEMENT, {"journey_id": "j2"}),
        ("s", "hour_of_day", "campaign_sessions", [raw.HOUR_OF_DAY], sessions, None),
        ("s", "hour_of_day", "campaign_session", [raw.HOUR_OF_DAY], sessions, {"campaign_id": "c2"}),
        ("t", "date", "transactional", [raw.DATE], messages._TRANSACTIONAL, None),
        ("t", "hour", "transactional", [raw.HOUR], messages._TRANSACTIONAL, None),
    ]
    async with engine.connect() as conn:
        for first, last in windows():
            start = datetime.combine(first, time(), tzinfo=UTC)
            end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
            for kind, axis, scope, groups, measures, owner in cases:
                want = await raw.measured(
                    conn,
                    app_id=app_id,
                    start=start,
                    end=end,
                    scope=scope,
                    groups=groups,
                    measures=measures,
                    owner=owner,
                )
                got = await rolled.measured(
                    conn,
                    app_id=app_id,
                    first=first,
                    last=last,
                    kind=kind,
                    axis=axis,
                    measures=measures,
                    g1=next(iter(owner.values())) if owner else None,
                )
                assert got == want, (kind, axis, scope, owner, first, last)
                assert want, (kind, axis, scope, first, last)  # the data has something to compare
            by_number = await raw.measured(
                conn, app_id=app_id, start=start, end=end, scope="transactional", groups=[raw.ADDRESS], measures=sms
            )
            countries: dict[str, list[int]] = {}
            for (number,), counts in by_number:
                if (country := k.country_of(number)) is not None:
                    countries[country] = [a + b for a, b in zip(countries.get(country, [0, 0, 0]), counts, strict=True)]
            got = await rolled.measured(
                conn, app_id=app_id, first=first, last=last, kind="t", axis="country", measures=sms
            )
            assert got == sorted((((c,), v) for c, v in countries.items() if any(v))), (first, last)
            assert {c for (c,), _ in got} >= {"US", "FR", "GB", "JP"} or (first, last) != (BASE, TODAY)


async def test_rollups_agree_with_raw_events_through_the_feed(engine: AsyncEngine) -> None:
    rnd = random.Random(16)
    app_id = secrets.token_hex(16)
    await fold_through_feed(engine, make_events(app_id, rnd), rnd)
    await compare(engine, app_id)


async def test_backfill_pages_fold_each_event_once(engine: AsyncEngine) -> None:
    """Events stored before the rollups, folded in backfill pages (in key order)."""
    rnd = random.Random(61)
    app_id = secrets.token_hex(16)
    events = make_events(app_id, rnd, 600)
    async with engine.begin() as conn:
        await events_store.insert_events(conn, events)
    async with engine.begin() as conn:
        upto = str(int(await feed.horizon(conn)) - 1)
    after: list[Any] = []
    while True:
        async with engine.begin() as conn:
            page = from_backfill(upto, after, 97, LOWEST, HIGHEST)
            last = (
                await conn.execute(
                    text(
                        f"SELECT app_id, endpoint_id, event_time, event_id FROM ({page.sql}) AS p"
                        " ORDER BY 1 DESC, 2 DESC, 3 DESC, 4 DESC LIMIT 1"
                    ),  # fmt: skip
                    page.params,
                )
            ).first()
            if last is None:
                break
            await rolled.fold(conn, page)
            after = [last[0], last[1], last[2].isoformat(), last[3]]
    await compare(engine, app_id)


async def test_nothing_to_fold_and_other_events(engine: AsyncEngine) -> None:
    """A batch without message events writes nothing (and makes no partition)."""
    app_id = secrets.token_hex(16)
    event = make_events(app_id, random.Random(1), 1)[0] | {"event_type": "shop.visit", "attributes": {}}
    async with engine.begin() as conn:
        await events_store.insert_events(conn, [event])
        batch = Batch(
            "SELECT app_id, endpoint_id, event_id, event_type, event_time, session_id, attributes, metrics,"
            " (event_time AT TIME ZONE 'UTC')::date AS day FROM events WHERE app_id = :b_app",
            {"b_app": app_id},
        )
        await rolled.fold(conn, batch)
        assert await conn.scalar(text("SELECT count(*) FROM an_msg_counts WHERE app_id = :a"), {"a": app_id}) == 0


async def test_ids_as_long_as_putevents_takes(engine: AsyncEngine) -> None:
    """Attribute values run to 200 characters (of up to 4 bytes): the rollups' keys still fit."""
    app_id = secrets.token_hex(16)
    long = "\U0001f600" * 200
    at = datetime.combine(TODAY, time(9), tzinfo=UTC)
    ids = {"campaign_id": long, "treatment_id": long, "message_id": long, "source": "campaign"}
    rows = [
        {"app_id": app_id, "endpoint_id": long, "event_id": f"ev-{i}", "event_type": kind, "event_time": at,
         "session_id": None, "attributes": ids | extra, "metrics": {}, "client": {}}
        for i, (kind, extra) in enumerate(
            [("_email.send", {"delivery_status": "SUCCESSFUL"}), ("_email.delivered", {}), ("_email.open", {}),
             ("_email.unsubscribe", {}), ("_session.start", {})]
        )
    ]  # fmt: skip
    await fold_through_feed(engine, rows, random.Random(2))
    async with engine.connect() as conn:
        got = await rolled.measured(
            conn, app_id=app_id, first=TODAY, last=TODAY, kind="c", axis="groups", measures=messages._ENGAGEMENT
        )
    assert got == [((long, long), [1, 1, 1, 1, 1, 0, 0, 0, 1, 1])]  # no push: 0 push deliveries
