"""The analytics rollups end to end: hand-built events sent through PutEvents (boto3), folded by
the rollup loop beside the worker, read back through the KPI operation and the analytics
functions, each figure compared with the same figure counted here from the events sent."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from analytics import demographics, events, revenue, usage
from analytics.model import Filters, Window
from tests.stack import Stack

PLATFORMS = ("ios", "android", "web")
PAGES = ("home", "cart", "search")
CURRENCIES = ("USD", "EUR")


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Data:
    """Events of 12 endpoints over 31 days, the first `base` (UTC)."""

    def __init__(self, base: date, seed: int = 7) -> None:
        rnd = random.Random(seed)
        self.base = base
        self.profiles: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []  # endpoint, day, type, attributes, metrics, session
        for i in range(12):
            ep = f"ep-{i}"
            self.profiles[ep] = {
                "ChannelType": "EMAIL",
                "Address": f"{ep}@example.com",
                "Demographic": {"Platform": PLATFORMS[i % 3], "AppVersion": f"1.{i % 2}", "Make": "Acme"},
                "Location": {"Country": "FR" if i % 4 else "DE", "City": "Paris" if i % 4 else "Berlin"},
                "Attributes": {"tier": ["gold" if i < 4 else "free"]},
                "User": {"UserId": f"user-{i // 2}"},
            }
            first = rnd.randrange(0, 20)
            days = sorted({first, *(first + rnd.choice((1, 3, 6, 9, 13, 20)) for _ in range(rnd.randrange(0, 4)))})
            for d in (d for d in days if d <= 30):
                for s in range(rnd.randrange(1, 3)):
                    sid = f"{ep}-{d}-{s}"
                    self.events.append(self._event(ep, d, 8 + s, "_session.start", session=sid))
                    for _ in range(rnd.randrange(1, 4)):
                        page = rnd.choice(PAGES)
                        ms = float(rnd.randrange(10, 500))
                        self.events.append(self._event(ep, d, 9 + s, "shop.visit", {"page": page}, {"ms": ms}))
                    if rnd.random() < 0.4:
                        metrics = {"_item_price": float(rnd.randrange(1, 20))}
                        if rnd.random() < 0.5:
                            metrics["_quantity"] = float(rnd.randrange(1, 4))
                        attrs = {"_currency": rnd.choice(CURRENCIES), "_product_id": rnd.choice(("gem", "coin"))}
                        self.events.append(self._event(ep, d, 10 + s, "_monetization.purchase", attrs, metrics))
                    self.events.append(self._event(ep, d, 11 + s, "_session.stop", session=sid, stop=True))
        rnd.shuffle(self.events)

    def _event(
        self,
        ep: str,
        day: int,
        hour: int,
        kind: str,
        attributes: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        *,
        session: str | None = None,
        stop: bool = False,
    ) -> dict[str, Any]:
        at = datetime.combine(self.base + timedelta(days=day), time(hour), tzinfo=UTC)
        event: dict[str, Any] = {"EventType": kind, "Timestamp": iso(at)}
        if attributes:
            event["Attributes"] = attributes
        if metrics:
            event["Metrics"] = metrics
        if session:
            start = at.replace(hour=8 if hour < 11 else hour - 3)
            event["Session"] = {"Id": session, "StartTimestamp": iso(start)}
            if stop:
                event["Session"] |= {"StopTimestamp": iso(at), "Duration": 60_000}
        return {"endpoint": ep, "day": self.base + timedelta(days=day), "event": event}

    def send(self, pinpoint: Any, app_id: str, part: list[dict[str, Any]]) -> None:
        by_endpoint: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in part:
            by_endpoint[e["endpoint"]].append(e["event"])
        n = 0
        for ep, evs in by_endpoint.items():
            for i in range(0, len(evs), 50):
                batch = {f"{ep}-{n + j}": ev for j, ev in enumerate(evs[i : i + 50])}
                n += len(batch)
                item = {"Endpoint": self.profiles[ep], "Events": batch}
                resp = pinpoint.put_events(ApplicationId=app_id, EventsRequest={"BatchItem": {ep: item}})
                codes = {v["StatusCode"] for v in resp["EventsResponse"]["Results"][ep]["EventsItemResponse"].values()}
                assert codes == {202}

    # The figures, counted from the events.
    def active(self) -> dict[date, set[str]]:
        out: dict[date, set[str]] = defaultdict(set)
        for e in self.events:
            out[e["day"]].add(e["endpoint"])
        return out

    def first_days(self) -> dict[str, date]:
        firsts: dict[str, date] = {}
        for e in self.events:
            firsts[e["endpoint"]] = min(firsts.get(e["endpoint"], e["day"]), e["day"])
        return firsts

    def monthly(self, day: date) -> set[str]:
        active = self.active()
        return {ep for d, eps in active.items() if day - timedelta(days=29) <= d <= day for ep in eps}

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"]["EventType"] == kind]


@pytest.fixture
def loaded(stack: Stack, pinpoint: Any, app_id: str) -> Data:
    today = datetime.now(UTC).date()
    data = Data(today - timedelta(days=40))
    half = len(data.events) // 2
    # Two deliveries, the rollups caught up in between: the second half holds events of days
    # before, between and after days already folded (the gaps and first days move).
    data.send(pinpoint, app_id, data.events[:half])
    stack.drain_rollups()
    data.send(pinpoint, app_id, data.events[half:])
    stack.drain_rollups()
    return data


def kpi(pinpoint: Any, app_id: str, name: str, data: Data) -> list[dict[str, Any]]:
    start = datetime.combine(data.base, time(), tzinfo=UTC)
    end = start + timedelta(days=30, hours=23)
    resp = pinpoint.get_application_date_range_kpi(ApplicationId=app_id, KpiName=name, StartTime=start, EndTime=end)
    rows: list[dict[str, Any]] = resp["ApplicationDateRangeKpiResponse"]["KpiResult"]["Rows"]
    return rows


def by_date(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {r["GroupedBys"][0]["Value"]: float(r["Values"][0]["Value"]) for r in rows}


def single(rows: list[dict[str, Any]]) -> float:
    assert len(rows) == 1 and "GroupedBys" not in rows[0]
    return float(rows[0]["Values"][0]["Value"])


class TestUsageKpis:
    def test_daily_active_new_and_sessions(self, pinpoint: Any, app_id: str, loaded: Data) -> None:
        active = {d.isoformat(): float(len(eps)) for d, eps in loaded.active().items()}
        assert by_date(kpi(pinpoint, app_id, "daily-active-endpoints-grouped-by-date", loaded)) == active
        new: dict[str, float] = defaultdict(float)
        for d in loaded.first_days().values():
            new[d.isoformat()] += 1
        assert by_date(kpi(pinpoint, app_id, "new-endpoints-grouped-by-date", loaded)) == new
        sessions: dict[str, float] = defaultdict(float)
        for e in loaded.of("_session.start"):
            sessions[e["day"].isoformat()] += 1
        assert by_date(kpi(pinpoint, app_id, "sessions-grouped-by-date", loaded)) == sessions

    def test_monthly_active_and_stickiness(self, pinpoint: Any, app_id: str, loaded: Data) -> None:
        last = loaded.base + timedelta(days=30)
        mau = len(loaded.monthly(last))
        assert single(kpi(pinpoint, app_id, "monthly-active-endpoints", loaded)) == mau
        average = sum(len(eps) for eps in loaded.active().values()) / 31
        assert single(kpi(pinpoint, app_id, "stickiness", loaded)) == pytest.approx(average / mau)

    def test_retention(self, pinpoint: Any, app_id: str, loaded: Data) -> None:
        firsts = loaded.first_days()
        days: dict[str, set[date]] = defaultdict(set)
        for e in loaded.events:
            days[e["endpoint"]].add(e["day"])
        for span in (7, 14, 30):
            back = [ep for ep, f in firsts.items() if any(0 < (d - f).days <= span for d in days[ep])]
            share = single(kpi(pinpoint, app_id, f"retention-{span}-day", loaded))
            assert share == pytest.approx(len(back) / len(firsts))

    def test_revenue_and_paying_users(self, pinpoint: Any, app_id: str, loaded: Data) -> None:
        expected: dict[tuple[str, str], float] = defaultdict(float)
        for e in loaded.of("_monetization.purchase"):
            m = e["event"]["Metrics"]
            expected[(e["day"].isoformat(), e["event"]["Attributes"]["_currency"])] += m["_item_price"] * m.get(
                "_quantity", 1.0
            )
        rows = kpi(pinpoint, app_id, "revenue-grouped-by-date", loaded)
        got = {(r["GroupedBys"][0]["Value"], r["GroupedBys"][1]["Value"]): float(r["Values"][0]["Value"]) for r in rows}
        assert got == pytest.approx(dict(expected))
        payers = {e["endpoint"] for e in loaded.of("_monetization.purchase")}
        assert single(kpi(pinpoint, app_id, "paying-users", loaded)) == len(payers)

    def test_message_kpis_still_answer(self, pinpoint: Any, app_id: str, loaded: Data) -> None:
        assert kpi(pinpoint, app_id, "txn-emails-sent", loaded) == []


class TestAnalyticsPages:
    async def test_active_filtered_by_platform(self, engine: AsyncEngine, app_id: str, loaded: Data) -> None:
        window = Window(loaded.base, loaded.base + timedelta(days=30))
        ios = {ep for ep, p in loaded.profiles.items() if p["Demographic"]["Platform"] == "ios"}
        async with engine.connect() as conn:
            table = await usage.active(conn, app_id, window, Filters(platforms=("ios",)))
        for (day,), (dau, mau, _stickiness) in table.rows:
            d = date.fromisoformat(day)
            assert dau == len(loaded.active().get(d, set()) & ios)
            assert mau == len(loaded.monthly(d) & ios)

    async def test_retention_cohorts(self, engine: AsyncEngine, app_id: str, loaded: Data) -> None:
        window = Window(loaded.base, loaded.base + timedelta(days=30))
        async with engine.connect() as conn:
            table = await usage.retention(conn, app_id, window, Filters())
        firsts = loaded.first_days()
        days: dict[str, set[date]] = defaultdict(set)
        for e in loaded.events:
            days[e["endpoint"]].add(e["day"])
        for (cohort,), (size, r7, r14, r30) in table.rows:
            members = [ep for ep, f in firsts.items() if f.isoformat() == cohort]
            assert size == len(members)
            for span, share in ((7, r7), (14, r14), (30, r30)):
                f = date.fromisoformat(cohort)
                back = [ep for ep in members if any(0 < (d - f).days <= span for d in days[ep])]
                assert share == pytest.approx(len(back) / len(members))
        assert sum(v[0] for _, v in table.rows if isinstance(v[0], int)) == len(firsts)

    async def test_events_with_attribute_filter_and_metric(
        self, engine: AsyncEngine, app_id: str, loaded: Data
    ) -> None:
        window = Window(loaded.base, loaded.base + timedelta(days=30))
        async with engine.connect() as conn:
            table = await events.events(
                conn,
                app_id,
                window,
                Filters(),
                event_type="shop.visit",
                attributes={"page": ("home", "cart")},
                metric="ms",
            )
        expected: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for e in loaded.of("shop.visit"):
            if e["event"]["Attributes"]["page"] in ("home", "cart"):
                expected[e["day"].isoformat()][0] += 1
                expected[e["day"].isoformat()][1] += e["event"]["Metrics"]["ms"]
        got = {day: [n, total] for (day, _t), (n, _m, total, _avg) in table.rows}
        assert got == expected

    async def test_demographics(self, engine: AsyncEngine, app_id: str, loaded: Data) -> None:
        window = Window(loaded.base + timedelta(days=5), loaded.base + timedelta(days=25))
        seen = {ep for d, eps in loaded.active().items() if window.first <= d <= window.last for ep in eps}
        async with engine.connect() as conn:
            platforms = await demographics.demographics(conn, app_id, window, Filters(), "platform")
            cities = await demographics.demographics(conn, app_id, window, Filters(), "city")
            tiers = await demographics.demographics(conn, app_id, window, Filters(), "attribute.tier")
        for table, path in ((platforms, ("Demographic", "Platform")), (cities, ("Location", "City"))):
            expected: dict[str, int] = defaultdict(int)
            for ep in seen:
                expected[loaded.profiles[ep][path[0]][path[1]]] += 1
            assert {g[0]: v[0] for g, v in table.rows} == expected
        for table in (tiers,):
            expected = defaultdict(int)
            for ep in seen:
                expected[loaded.profiles[ep]["Attributes"]["tier"][0]] += 1
            assert {g[0]: v[0] for g, v in table.rows} == expected

    async def test_revenue_page(self, engine: AsyncEngine, app_id: str, loaded: Data) -> None:
        window = Window(loaded.base, loaded.base + timedelta(days=30))
        async with engine.connect() as conn:
            table = await revenue.paying_users(conn, app_id, window, Filters())
        expected = defaultdict(set)
        for e in loaded.of("_monetization.purchase"):
            expected[e["event"]["Attributes"]["_currency"]].add(e["endpoint"])
            expected[""].add(e["endpoint"])
        assert {g[0]: v[0] for g, v in table.rows} == {k: len(v) for k, v in expected.items()}
