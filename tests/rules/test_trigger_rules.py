"""What an event sets off (rules/triggers.py): the outbox rows for a batch of events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rules.triggers import CampaignTrigger, JourneyTrigger, ProjectTriggers, outbox_rows

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CART = {"FilterType": "ENDPOINT", "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["cart"]}}}
OPENED = {
    "FilterType": "SYSTEM",
    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}},
}
SCHEDULE = {"StartTime": "2026-12-01T00:00:00Z", "EndTime": "2026-12-31T00:00:00Z", "Frequency": "EVENT"}


def event(event_type: str, endpoint: str = "e1", at: datetime = AT, **attributes: str) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint,
        "event_id": f"{endpoint}-{event_type}",
        "event_type": event_type,
        "event_time": at,
        "attributes": attributes,
        "metrics": {},
    }


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["kind"], r["target_id"], r["endpoint_id"]) for r in rows]


def test_a_project_without_triggers_writes_nothing() -> None:
    assert outbox_rows(ProjectTriggers(), "app", [event("cart")], "ENDPOINT") == []


def test_a_matching_event_triggers_each_campaign_and_journey_it_matches() -> None:
    project = ProjectTriggers(
        campaigns=(CampaignTrigger("c1", SCHEDULE, CART), CampaignTrigger("c2", SCHEDULE, OPENED)),
        journeys=(JourneyTrigger("j1", CART),),
    )
    rows = outbox_rows(project, "app", [event("cart"), event("view")], "ENDPOINT")
    assert kinds(rows) == [("campaign", "c1", "e1"), ("journey", "j1", "e1")]
    assert rows[0]["event"] == {"EventType": "cart", "Attributes": {}, "Metrics": {}}


def test_system_filters_hear_only_system_events() -> None:
    project = ProjectTriggers(campaigns=(CampaignTrigger("c2", SCHEDULE, OPENED),))
    assert outbox_rows(project, "app", [event("_email.open")], "ENDPOINT") == []
    assert kinds(outbox_rows(project, "app", [event("_email.open")], "SYSTEM")) == [("campaign", "c2", "e1")]


def test_a_campaign_or_journey_never_triggers_itself() -> None:
    project = ProjectTriggers(
        campaigns=(CampaignTrigger("c2", SCHEDULE, OPENED),), journeys=(JourneyTrigger("j2", OPENED),)
    )
    own = [event("_email.open", campaign_id="c2", journey_id="j2")]
    assert outbox_rows(project, "app", own, "SYSTEM") == []


def test_paused_campaigns_and_events_outside_the_window_trigger_nothing() -> None:
    paused = ProjectTriggers(campaigns=(CampaignTrigger("c1", SCHEDULE, CART, paused=True),))
    assert outbox_rows(paused, "app", [event("cart")], "ENDPOINT") == []
    live = ProjectTriggers(campaigns=(CampaignTrigger("c1", SCHEDULE, CART),))
    before = event("cart", at=datetime(2026, 11, 30, tzinfo=UTC))
    after_end = event("cart", at=datetime(2026, 12, 31, tzinfo=UTC))  # EndTime is exclusive
    assert outbox_rows(live, "app", [before, after_end], "ENDPOINT") == []


def test_a_schedule_the_rules_cannot_read_triggers_nothing_and_breaks_nothing() -> None:
    broken = CampaignTrigger("bad", {"StartTime": "not a time", "Frequency": "EVENT"}, CART)
    project = ProjectTriggers(campaigns=(broken, CampaignTrigger("c1", SCHEDULE, CART)))
    assert kinds(outbox_rows(project, "app", [event("cart")], "ENDPOINT")) == [("campaign", "c1", "e1")]


def test_waiting_participants_hear_of_every_event_of_the_project() -> None:
    project = ProjectTriggers(listening=True)
    rows = outbox_rows(project, "app", [event("cart", "e1"), event("view", "e2")], "ENDPOINT")
    assert kinds(rows) == [("engagement", "", "e1"), ("engagement", "", "e2")]
