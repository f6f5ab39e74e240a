"""Every rollup page (usage, retention, revenue, events, demographics) under endpoint filters,
through signed requests on the gateway: 12 hand-built endpoints over 31 days of sessions,
custom events and purchases (tests/analytics/test_rollups.py's `Data`), sent by PutEvents and
folded by the worker's rollup loop. Each page is checked

- under a segment, an endpoint attribute, platform + app version together, and a segment and an
  attribute together (AND), against the same figure counted here from the events sent by the
  endpoints those filters keep;
- through both paths: the aggregate rollups (no filter, one dimension) and the per-endpoint path
  (a filter every endpoint matches, several dimensions) give the same table;

and bad filter values are refused naming the parameter."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.analytics.test_rollups import Data
from tests.api.analytics_backends import analytics_backend  # noqa: F401 - both backends, every test
from tests.api.test_analytics_pages import call, page, refused, table
from tests.stack import Stack

Rows = dict[tuple[str, ...], dict[str, float]]
Expect = Callable[["Loaded", set[str]], Rows]


class Loaded:
    """The data sent, the project, the segment of French endpoints, and the filter sets."""

    def __init__(self, data: Data, app_id: str, segment_id: str) -> None:
        self.data, self.app_id = data, app_id
        self.first, self.last = data.base, data.base + timedelta(days=30)
        p = data.profiles
        french = {ep for ep in p if p[ep]["Location"]["Country"] == "FR"}
        gold = {ep for ep in p if p[ep]["Attributes"]["tier"] == ["gold"]}
        ios_web_10 = {
            ep
            for ep in p
            if p[ep]["Demographic"]["Platform"] in ("ios", "web") and p[ep]["Demographic"]["AppVersion"] == "1.0"
        }
        self.filter_sets: list[tuple[list[tuple[str, str]], set[str]]] = [
            ([("segment-id", segment_id)], french),
            ([("attribute.tier", "gold")], gold),
            ([("platform", "iOS,web"), ("app-version", "1.0")], ios_web_10),
            ([("segment-id", segment_id), ("attribute.tier", "gold")], french & gold),
        ]
        assert all(0 < len(kept) < len(p) for _, kept in self.filter_sets)

    def range(self) -> list[tuple[str, str]]:
        return [
            ("start-time", datetime.combine(self.first, time(), tzinfo=UTC).isoformat()),
            ("end-time", datetime.combine(self.last, time(12), tzinfo=UTC).isoformat()),
        ]

    def events(self, kept: set[str], kind: str | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.data.events if e["endpoint"] in kept and (kind is None or e["event"]["EventType"] == kind)
        ]

    def active(self, kept: set[str]) -> dict[date, set[str]]:
        out: dict[date, set[str]] = defaultdict(set)
        for e in self.events(kept):
            out[e["day"]].add(e["endpoint"])
        return out

    def first_days(self, kept: set[str]) -> dict[str, date]:
        return {ep: d for ep, d in self.data.first_days().items() if ep in kept}


@pytest.fixture
def loaded(stack: Stack, pinpoint: Any, app_id: str) -> Loaded:
    data = Data(datetime.now(UTC).date() - timedelta(days=40), seed=11)
    data.send(pinpoint, app_id, data.events)
    stack.drain_rollups()
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "france",
            "Dimensions": {"Location": {"Country": {"DimensionType": "INCLUSIVE", "Values": ["FR"]}}},
        },
    )["SegmentResponse"]["Id"]
    return Loaded(data, app_id, segment)


def numbers(answer: dict[str, Any]) -> Rows:
    return {k: {n: float(v) for n, v in values.items()} for k, values in table(answer).items()}


def assert_rows(got: Rows, expected: Rows) -> None:
    assert set(got) == set(expected)
    for key, values in expected.items():
        assert got[key] == pytest.approx(values), key


# -- the figures, counted from the events sent -------------------------------------------------


def usage_active(x: Loaded, kept: set[str]) -> Rows:
    active = x.active(kept)
    out: Rows = {}
    for i in range(31):
        d = x.first + timedelta(days=i)
        monthly = {ep for day, eps in active.items() if d - timedelta(days=29) <= day <= d for ep in eps}
        if monthly:
            dau = len(active.get(d, set()))
            out[(d.isoformat(),)] = {
                "DailyActiveEndpoints": dau,
                "MonthlyActiveEndpoints": len(monthly),
                "Stickiness": dau / len(monthly),
            }
    return out


def usage_daily(x: Loaded, kept: set[str]) -> Rows:
    active = x.active(kept)
    new: dict[date, int] = defaultdict(int)
    for d in x.first_days(kept).values():
        new[d] += 1
    starts: dict[date, int] = defaultdict(int)
    for e in x.events(kept, "_session.start"):
        starts[e["day"]] += 1
    stops: dict[date, int] = defaultdict(int)
    for e in x.events(kept, "_session.stop"):
        stops[e["day"]] += 1  # each stopped session's Duration is 60 s
    out: Rows = {}
    for d, eps in active.items():
        users = {x.data.profiles[ep]["User"]["UserId"] for ep in eps}
        out[(d.isoformat(),)] = {
            "DailyActiveEndpoints": len(eps),
            "DailyActiveUsers": len(users),
            "NewEndpoints": new[d],
            "Sessions": starts[d],
            "SessionsPerActiveEndpoint": starts[d] / len(eps),
            "AverageSessionSeconds": 60 * stops[d] / starts[d],
        }
    return out


def sessions_by_hour(x: Loaded, kept: set[str]) -> Rows:
    hours = [0] * 24
    for e in x.events(kept, "_session.start"):
        hours[int(e["event"]["Timestamp"][11:13])] += 1
    return {(str(h),): {"Sessions": n} for h, n in enumerate(hours)}


def retention(weekly: bool) -> Expect:
    def expect(x: Loaded, kept: set[str]) -> Rows:
        days: dict[str, set[date]] = defaultdict(set)
        for e in x.events(kept):
            days[e["endpoint"]].add(e["day"])
        cohorts: dict[date, list[str]] = defaultdict(list)
        for ep, first in x.first_days(kept).items():
            cohorts[first - timedelta(days=first.weekday()) if weekly else first].append(ep)
        out: Rows = {}
        for key, members in cohorts.items():
            back = {}
            for span in (7, 14, 30):
                n = sum(1 for ep in members if any(0 < (d - min(days[ep])).days <= span for d in days[ep]))
                back[f"Retention{span}Day"] = n / len(members)
            out[(key.isoformat(),)] = {"Endpoints": len(members), **back}
        return out

    return expect


def _purchase(e: dict[str, Any]) -> tuple[str, str, float, float]:
    m, a = e["event"]["Metrics"], e["event"]["Attributes"]
    quantity = m.get("_quantity", 1.0)
    return a["_currency"], a["_product_id"], m["_item_price"] * quantity, quantity


def revenue_daily(x: Loaded, kept: set[str]) -> Rows:
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    payers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in x.events(kept, "_monetization.purchase"):
        currency, _product, revenue, units = _purchase(e)
        key = (e["day"].isoformat(), currency)
        sums[key][0] += revenue
        sums[key][1] += units
        sums[key][2] += 1
        payers[key].add(e["endpoint"])
    active = x.active(kept)
    return {
        key: {
            "Revenue": r,
            "Units": u,
            "Purchases": n,
            "PayingUsers": len(payers[key]),
            "RevenuePerDailyActiveEndpoint": r / len(active[date.fromisoformat(key[0])]),
        }
        for key, (r, u, n) in sums.items()
    }


def revenue_products(x: Loaded, kept: set[str]) -> Rows:
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for e in x.events(kept, "_monetization.purchase"):
        currency, product, revenue, units = _purchase(e)
        for i, v in enumerate((revenue, units, 1)):
            sums[(currency, product)][i] += v
    top = sorted(sums.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
    return {k: {"Revenue": r, "Units": u, "Purchases": n} for k, (r, u, n) in top}


def paying_users(x: Loaded, kept: set[str]) -> Rows:
    payers: dict[str, set[str]] = defaultdict(set)
    for e in x.events(kept, "_monetization.purchase"):
        payers[e["event"]["Attributes"]["_currency"]].add(e["endpoint"])
        payers[""].add(e["endpoint"])
    return {(c,): {"PayingUsers": len(eps)} for c, eps in payers.items()}


def events_all(x: Loaded, kept: set[str]) -> Rows:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for e in x.events(kept):
        counts[(e["day"].isoformat(), e["event"]["EventType"])] += 1
    return {k: {"Events": n} for k, n in counts.items()}


def events_visits(x: Loaded, kept: set[str]) -> Rows:
    """shop.visit events on the home or cart page, and their `ms` metric."""
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for e in x.events(kept, "shop.visit"):
        if e["event"]["Attributes"]["page"] in ("home", "cart"):
            row = out.setdefault((e["day"].isoformat(), "shop.visit"), {"Events": 0, "MetricEvents": 0, "MetricSum": 0})
            row["Events"] += 1
            row["MetricEvents"] += 1
            row["MetricSum"] += e["event"]["Metrics"]["ms"]
    for row in out.values():
        row["MetricAverage"] = row["MetricSum"] / row["MetricEvents"]
    return out


def demographics(path: tuple[str, str] | None) -> Expect:
    def expect(x: Loaded, kept: set[str]) -> Rows:
        counts: dict[str, int] = defaultdict(int)
        for ep in {ep for eps in x.active(kept).values() for ep in eps}:
            profile = x.data.profiles[ep]
            counts[profile[path[0]][path[1]] if path else profile["Attributes"]["tier"][0]] += 1
        return {(v,): {"ActiveEndpoints": n} for v, n in counts.items()}

    return expect


PAGES: list[tuple[str, list[tuple[str, str]], Expect]] = [
    ("usage", [], usage_active),
    ("usage", [("view", "daily")], usage_daily),
    ("usage", [("view", "sessions-by-hour")], sessions_by_hour),
    ("retention", [], retention(weekly=False)),
    ("retention", [("view", "weekly")], retention(weekly=True)),
    ("revenue", [], revenue_daily),
    ("revenue", [("view", "products")], revenue_products),
    ("revenue", [("view", "paying-users")], paying_users),
    ("events", [], events_all),
    ("events", [("event-type", "shop.visit"), ("metric", "ms"), ("attribute.page", "home,cart")], events_visits),
    ("demographics", [], demographics(("Demographic", "Platform"))),
    ("demographics", [("dimension", "city")], demographics(("Location", "City"))),
    ("demographics", [("dimension", "attribute.tier")], demographics(None)),
]
IDS = [f"{name}-{'-'.join(v for _, v in q[:1]) or 'default'}-{i}" for i, (name, q, _) in enumerate(PAGES)]


@pytest.mark.parametrize(("name", "query", "expect"), PAGES, ids=IDS)
def test_each_page_under_each_filter(
    stack: Stack, loaded: Loaded, name: str, query: list[tuple[str, str]], expect: Expect
) -> None:
    for filters, kept in loaded.filter_sets:
        if name == "events" and any(k.startswith("attribute.") for k, _ in filters):
            continue  # on the events page, attribute.<name> is an event attribute (the query's own)
        answer = page(stack, loaded.app_id, name, *loaded.range(), *query, *filters)
        assert_rows(numbers(answer), expect(loaded, kept))


@pytest.mark.parametrize(("name", "query", "expect"), PAGES, ids=IDS)
def test_both_paths_agree(
    stack: Stack, loaded: Loaded, name: str, query: list[tuple[str, str]], expect: Expect
) -> None:
    """No filter (the aggregate rollups) and filters every endpoint matches, on two dimensions
    (the per-endpoint rows and raw events): the same table, and the one counted here."""
    everyone = [("channel", "EMAIL"), ("app-version", "1.0,1.1")]
    whole = numbers(page(stack, loaded.app_id, name, *loaded.range(), *query))
    assert_rows(numbers(page(stack, loaded.app_id, name, *loaded.range(), *query, *everyone)), whole)
    assert_rows(whole, expect(loaded, set(loaded.data.profiles)))


def test_one_dimension_on_the_aggregate_rollups_equals_the_per_endpoint_path(stack: Stack, loaded: Loaded) -> None:
    """attribute.tier=gold alone is answered from an_active; with a second filter every endpoint
    matches, from the gold endpoints' own rows: the same table."""
    for name, query in (("usage", []), ("demographics", [("dimension", "platform")])):
        one = page(stack, loaded.app_id, name, *loaded.range(), *query, ("attribute.tier", "gold"))
        two = page(
            stack, loaded.app_id, name, *loaded.range(), *query, ("attribute.tier", "gold"), ("channel", "EMAIL")
        )
        assert numbers(one)
        assert_rows(numbers(two), numbers(one))


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("usage", []),
        ("usage", [("view", "daily")]),
        ("usage", [("view", "sessions-by-hour")]),
        ("retention", [("view", "weekly")]),
        ("revenue", []),
        ("revenue", [("view", "products")]),
        ("revenue", [("view", "paying-users")]),
        ("events", []),
        ("demographics", [("dimension", "city")]),
    ],
)
@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ([("segment-id", "f" * 32)], "Invalid value for segment-id:"),
        ([("segment-id", "a,b")], "Invalid value for segment-id:"),
        ([("platform", "ios"), ("channel", "PIGEON")], "Invalid value for channel:"),
        ([("app-version", ",")], "Invalid value for app-version:"),
    ],
)
def test_bad_filters_name_the_parameter(
    stack: Stack, app_id: str, name: str, query: list[tuple[str, str]], bad: list[tuple[str, str]], named: str
) -> None:
    resp = call(stack, "GET", f"/v1/apps/{app_id}/analytics/{name}", [*query, *bad])
    assert refused(resp).startswith(named)
