"""The campaigns, journeys and transactional pages answered from the message rollups (migration
0014), through the gateway with signed requests: random campaign, journey, session and
transactional events over the last 30 days, written as the delivery layer writes them, loaded in
two parts with the rollups folded after each; every figure checked against counts computed here
from the events loaded (the definitions of docs/analytics.md, written out again), the filtered
pages (answered from raw events) against the same counts over the filtered endpoints, and the
date-range KPIs against the pages."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.analytics_backends import analytics_backend  # noqa: F401 - both backends, every test
from tests.api.test_analytics import add_campaign, add_run, campaign_kpi
from tests.api.test_analytics_pages import page, table
from tests.stack import Stack

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ENDPOINTS = [f"ep-{i}" for i in range(10)]
IOS = set(ENDPOINTS[:4])
COUNTRIES = {"+12065550142": "US", "+12065550143": "US", "+33612345678": "FR", "+447700900123": "GB"}
OUTCOMES = {"_email.send", "_email.rejected", "_SMS.BUFFERED", "_SMS.FAILURE", "_push.send", "_push.failure"}
DELIVERED = {"_email.delivered", "_SMS.SUCCESS", "_push.send"}
OPENS = {"_email.open", "_campaign.opened_notification"}
OPT_OUTS = {"_email.unsubscribe", "_SMS.OPTOUT"}
ENGAGEMENT = sorted(OUTCOMES | DELIVERED | OPENS | OPT_OUTS | {"_email.click", "_email.hardbounce"})


Event = tuple[str, str, datetime, dict[str, str]]  # endpoint, type, time, attributes


def msg(e: Event) -> str:
    """The message an event is of (push opens name the endpoint and the campaign run)."""
    return e[3].get("message_id") or f"{e[0]}/{e[3].get('campaign_activity_id', '')}"


class Loaded:
    """The events written, as (endpoint, type, time, attributes)."""

    def __init__(self, stack: Stack, app_id: str, seed: int) -> None:
        self.stack, self.app_id, self.rnd = stack, app_id, random.Random(seed)
        self.campaigns = [add_campaign(stack, app_id) for _ in range(2)]
        self.runs = {
            c: add_run(stack, app_id, c, 1, "0", execution_metrics=json.dumps({"TREATMENT_HOLDOUT": 3}))
            for c in self.campaigns
        }
        self.events: list[Event] = []

    def add(self, n: int) -> None:
        rnd, rows = self.rnd, []
        for _ in range(n):
            at = NOW - timedelta(hours=rnd.randrange(1, 29 * 24), minutes=-rnd.randrange(60))
            endpoint = rnd.choice(ENDPOINTS)
            message = f"m-{rnd.randrange(25)}"
            what = rnd.random()
            if what < 0.4:
                kind = rnd.choice(ENGAGEMENT)
                campaign = rnd.choice(self.campaigns)
                attrs = {
                    "campaign_id": campaign,
                    "treatment_id": rnd.choice("01"),
                    "campaign_activity_id": self.runs[campaign],
                }
                if kind != "_campaign.opened_notification":
                    attrs |= {"source": "campaign", "message_id": message}
            elif what < 0.65:
                kind = rnd.choice(ENGAGEMENT)
                attrs = {
                    "journey_id": "j1",
                    "journey_activity_id": rnd.choice(("a1", "a2")),
                    "source": "journey",
                    "message_id": message,
                }
                if rnd.random() < 0.1:
                    attrs["journey_test_run_id"] = "test"
            elif what < 0.9:
                kind = rnd.choice(
                    [
                        "_email.send",
                        "_email.delivered",
                        "_email.rejected",
                        "_email.hardbounce",
                        "_SMS.BUFFERED",
                        "_SMS.SUCCESS",
                        "_SMS.FAILURE",
                    ]
                )
                number = rnd.choice(list(COUNTRIES))
                attrs = {
                    "source": "direct",
                    "message_id": message,
                    "address": number if kind.startswith("_SMS") else f"{endpoint}@example.com",
                }
            else:
                kind, attrs = "_session.start", {"campaign_id": rnd.choice(self.campaigns)}
            if kind in OUTCOMES and rnd.random() < 0.9:
                attrs["delivery_status"] = "SUCCESSFUL"
            self.events.append((endpoint, kind, at, attrs))
            rows.append((endpoint, uuid.uuid4().hex, kind, at, json.dumps(attrs)))
        for day in {r[3].date() for r in rows}:
            self.stack.sql("SELECT ensure_event_partition($1::date)", day)
        self.stack.sql(
            "INSERT INTO events (app_id, endpoint_id, event_id, event_type, event_time, attributes)"
            " SELECT $1, e, i, t, at, a::jsonb"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) AS x(e, i, t, at, a)",
            self.app_id,
            *(list(c) for c in zip(*rows, strict=True)),
        )  # fmt: skip

    # -- the figures, counted from the events ----------------------------------------------------
    def engagement(
        self, key: str, group: str, endpoints: set[str] | None = None
    ) -> dict[tuple[str, str], dict[str, str]]:
        """Per (key, group attribute) the pages' columns, over the events of that kind."""
        by: dict[tuple[str, str], list[Event]] = defaultdict(list)
        for e in self.events:
            attrs = e[3]
            if key not in attrs or attrs.get("journey_test_run_id") or e[1] == "_session.start":
                continue
            if endpoints is not None and e[0] not in endpoints:
                continue
            by[(attrs[key], attrs.get(group, "0"))].append(e)
        out = {}
        for g, evs in by.items():

            def n(types: set[str], outcome: bool = False, evs: list[Event] = evs) -> int:
                return sum(1 for e in evs if e[1] in types and (not outcome or "delivery_status" in e[3]))

            sent = n(OUTCOMES, outcome=True)
            bounces = n({"_email.hardbounce"})
            delivered = max(0, n(DELIVERED) - bounces)
            opened = {msg(e) for e in evs if e[1] in OPENS}
            per = max(0, n({"_email.delivered"}) - bounces) + n({"_push.send"})
            row = {
                "Sent": str(sent), "Delivered": str(delivered),
                "Opens": str(len({(msg(e), e[2].strftime("%Y%m%d%H")) for e in evs if e[1] in OPENS})),
                "Clicks": str(len({(msg(e), e[2].strftime("%Y%m%d%H")) for e in evs if e[1] == "_email.click"})),
                "Bounces": str(bounces),
                "OptOuts": str(len({e[0] for e in evs if e[1] in OPT_OUTS})),
                "Endpoints": str(len({e[0] for e in evs if e[1] in OUTCOMES and "delivery_status" in e[3]})),
            }  # fmt: skip
            if sent:
                row["DeliveryRate"] = repr(min(1.0, delivered / sent))
            if per:
                row["OpenRate"] = repr(min(1.0, len(opened) / per))
            out[g] = row
        return out

    def transactional(self, slot: str) -> dict[tuple[str], dict[str, int]]:
        out: dict[tuple[str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _, kind, at, attrs in self.events:
            if attrs.get("source") != "direct":
                continue
            cell = out[(at.strftime(slot),)]
            cell["EmailSent"] += kind in ("_email.send", "_email.rejected") and "delivery_status" in attrs
            cell["EmailDelivered"] += kind == "_email.delivered"
            cell["EmailDelivered"] -= kind == "_email.hardbounce"
            cell["EmailFailed"] += kind == "_email.hardbounce" or (
                kind == "_email.rejected" and "delivery_status" in attrs
            )
            cell["SmsSent"] += kind in ("_SMS.BUFFERED", "_SMS.FAILURE") and "delivery_status" in attrs
            cell["SmsDelivered"] += kind == "_SMS.SUCCESS"
            cell["SmsFailed"] += kind == "_SMS.FAILURE"
        for cell in out.values():
            cell["EmailDelivered"] = max(0, cell["EmailDelivered"])
        return out

    def countries(self) -> dict[tuple[str], dict[str, str]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for _, kind, _, attrs in self.events:
            if attrs.get("source") == "direct" and kind.startswith("_SMS"):
                c = out[COUNTRIES[attrs["address"]]]
                c[0] += kind in ("_SMS.BUFFERED", "_SMS.FAILURE") and "delivery_status" in attrs
                c[1] += kind == "_SMS.SUCCESS"
                c[2] += kind == "_SMS.FAILURE"
        return {
            (k,): dict(zip(("SmsSent", "SmsDelivered", "SmsFailed"), map(str, v), strict=True)) for k, v in out.items()
        }

    def sessions(self, campaign: str | None = None) -> dict[tuple[str], dict[str, str]]:
        hours = [0] * 24
        for _, kind, at, attrs in self.events:
            if kind == "_session.start" and (campaign is None or attrs["campaign_id"] == campaign):
                hours[at.hour] += 1
        return {(f"{h:02d}",): {"Sessions": str(n)} for h, n in enumerate(hours)}


@pytest.fixture
def loaded(pinpoint: Any, stack: Stack, app_id: str) -> Loaded:
    data = Loaded(stack, app_id, 16)
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [{"Id": e, "Demographic": {"Platform": "ios" if e in IOS else "android"}} for e in ENDPOINTS]
        },
    )
    data.add(400)
    stack.drain_rollups()
    return data


def check_pages(stack: Stack, data: Loaded) -> None:
    app_id = data.app_id
    want = data.engagement("campaign_id", "treatment_id")
    for campaign in data.campaigns:
        want[(campaign, "HOLDOUT")] = {"Endpoints": "3"}
    assert table(page(stack, app_id, "campaigns")) == want
    one = data.campaigns[0]
    assert table(page(stack, app_id, "campaigns", ("campaign-id", one))) == {
        g: v for g, v in want.items() if g[0] == one
    }
    assert table(page(stack, app_id, "campaigns", ("view", "sessions-by-hour"))) == data.sessions()
    sessions = page(stack, app_id, "campaigns", ("view", "sessions-by-hour"), ("campaign-id", one))
    assert table(sessions) == data.sessions(one)
    assert table(page(stack, app_id, "journeys")) == data.engagement("journey_id", "journey_activity_id")
    daily = table(page(stack, app_id, "transactional"))
    counted = data.transactional("%Y-%m-%d")
    assert len(daily) == 30
    assert {d: {k: int(v) for k, v in r.items()} for d, r in daily.items() if any(v != "0" for v in r.values())} == {
        d: dict(c) for d, c in counted.items() if any(c.values())
    }
    hourly = table(page(stack, app_id, "transactional", ("granularity", "HOUR")))
    counted = data.transactional("%Y-%m-%dT%H:00Z")
    assert len(hourly) == 7 * 24
    for slot, row in hourly.items():
        assert {k: int(v) for k, v in row.items()} == {k: counted.get((slot[0],), {}).get(k, 0) for k in row}, slot
    assert table(page(stack, app_id, "transactional", ("view", "sms-by-country"))) == data.countries()


class TestMessagePagesFromRollups:
    def test_every_figure_counted_from_the_events_also_after_more_arrive(self, stack: Stack, loaded: Loaded) -> None:
        check_pages(stack, loaded)
        loaded.add(300)  # folded on top: counted once more only what is new
        stack.drain_rollups()
        check_pages(stack, loaded)

    def test_endpoint_filters_read_the_filtered_endpoints_events(self, stack: Stack, loaded: Loaded) -> None:
        rows = table(page(stack, loaded.app_id, "campaigns", ("platform", "ios")))
        want = loaded.engagement("campaign_id", "treatment_id", IOS)
        for campaign in loaded.campaigns:
            want[(campaign, "HOLDOUT")] = {"Endpoints": "3"}  # per run, not narrowed by endpoint filters
        assert rows == want
        journeys = table(page(stack, loaded.app_id, "journeys", ("platform", "ios")))
        assert journeys == loaded.engagement("journey_id", "journey_activity_id", IOS)

    def test_the_campaign_kpis_agree_with_the_page(self, pinpoint: Any, stack: Stack, loaded: Loaded) -> None:
        rows = table(page(stack, loaded.app_id, "campaigns"))
        start = NOW - timedelta(days=30)
        for campaign in loaded.campaigns:
            for name, key in (("attempted-deliveries", "Sent"), ("successful-deliveries", "Delivered")):
                kpi = campaign_kpi(
                    pinpoint,
                    loaded.app_id,
                    campaign,
                    f"{name}-grouped-by-campaign-activity",
                    StartTime=start,
                    EndTime=NOW,
                )
                # One run: its activity's figure is the sum of the campaign's treatments.
                total = sum(int(rows[(campaign, t)][key]) for t in "01" if (campaign, t) in rows)
                assert kpi == [(loaded.runs[campaign], f"{float(total)!r}")]
