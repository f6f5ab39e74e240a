"""What a stored event sets off: the trigger outbox rows for one batch of events.

Three kinds of trigger (PINPOINT.md §4.4 event-triggered campaigns, §4.5 event-started journeys):
- `campaign`: an EVENT campaign whose EventFilter matches sends to the endpoint that reported
  the event, if the event falls inside the campaign's StartTime..EndTime window;
- `journey`: an ACTIVE journey whose EventStartCondition matches admits the endpoint;
- `engagement`: the project has participants waiting at a split for an event; the dispatcher
  tells those of the event's endpoint.

`filter_type` says where the events came from: ENDPOINT for PutEvents, SYSTEM for the events
OpenPoint records itself (`_email.delivered`, `_SMS.SUCCESS`, `_email.open`, ...). A campaign's or
journey's own messages never trigger it again, or a SYSTEM filter on `_email.send` would feed
itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.event_filters import matches
from rules.schedules import within_schedule

CAMPAIGN = "campaign"
JOURNEY = "journey"
ENGAGEMENT = "engagement"


@dataclass(frozen=True)
class CampaignTrigger:
    campaign_id: str
    schedule: dict[str, Any]  # StartTime resolved (IMMEDIATE → the campaign's creation)
    event_filter: dict[str, Any]
    paused: bool = False


@dataclass(frozen=True)
class JourneyTrigger:
    journey_id: str
    event_filter: dict[str, Any]


@dataclass(frozen=True)
class ProjectTriggers:
    """What one project's events may set off, as read (and briefly cached) by store/outbox.py."""

    campaigns: tuple[CampaignTrigger, ...] = ()
    journeys: tuple[JourneyTrigger, ...] = ()
    listening: bool = False  # some participant waits at a split for an event

    @property
    def empty(self) -> bool:
        return not (self.campaigns or self.journeys or self.listening)


def event_of(row: dict[str, Any]) -> dict[str, Any]:
    """An event row as the filters read it."""
    return {"EventType": row["event_type"], "Attributes": row["attributes"] or {}, "Metrics": row["metrics"] or {}}


def campaign_fires(trigger: CampaignTrigger, event: dict[str, Any], at: datetime, filter_type: str) -> bool:
    if trigger.paused or trigger.event_filter.get("FilterType", "ENDPOINT") != filter_type:
        return False
    if event["Attributes"].get("campaign_id") == trigger.campaign_id:
        return False
    return within_schedule(trigger.schedule, at) and matches(trigger.event_filter, event)


def journey_fires(trigger: JourneyTrigger, event: dict[str, Any], filter_type: str) -> bool:
    if trigger.event_filter.get("FilterType", "ENDPOINT") != filter_type:
        return False
    if event["Attributes"].get("journey_id") == trigger.journey_id:
        return False
    return matches(trigger.event_filter, event)


def outbox_rows(
    project: ProjectTriggers, app_id: str, event_rows: list[dict[str, Any]], filter_type: str
) -> list[dict[str, Any]]:
    """One outbox row per (trigger, event) that fires, in event order."""
    out: list[dict[str, Any]] = []
    if project.empty:
        return out
    for row in event_rows:
        event = event_of(row)
        base = {
            "app_id": app_id,
            "endpoint_id": row["endpoint_id"],
            "event_id": row["event_id"],
            "event_time": row["event_time"],
            "event": event,
        }
        for c in project.campaigns:
            try:
                fires = campaign_fires(c, event, row["event_time"], filter_type)
            except ValueError:  # a schedule the rules cannot read: it triggers nothing
                continue
            if fires:
                out.append({**base, "kind": CAMPAIGN, "target_id": c.campaign_id})
        for j in project.journeys:
            if journey_fires(j, event, filter_type):
                out.append({**base, "kind": JOURNEY, "target_id": j.journey_id})
        if project.listening:
            out.append({**base, "kind": ENGAGEMENT, "target_id": ""})
    return out
