"""When a journey admits, and what its workflow does next (a `JourneyPlan`): run an entry cycle,
watch (nothing to admit before a time, or a signal), hold while paused, or stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys.times import instant
from rules import journey_timing as timing
from rules.journeys import MAX_LIFETIME
from store import journey_runs as runs
from store import journeys as journeys_store
from workflows.journey import ACTIVE, CANCELLED, DELETED, PAUSED, JourneyInput, JourneyPlan


def entry_window(journey: dict[str, Any]) -> tuple[datetime, datetime]:
    """When participants may enter: Schedule.StartTime (publishing when absent) to EndTime (at
    most 540 days on, the longest a journey runs)."""
    schedule = journey["definition"].get("Schedule") or {}
    published = journey["published_at"] or journey["updated_at"]
    start = instant(schedule["StartTime"]) if schedule.get("StartTime") else instant(published)
    end = instant(schedule["EndTime"]) if schedule.get("EndTime") else start + MAX_LIFETIME
    return start, min(end, start + MAX_LIFETIME)


def earliest_local(definition: dict[str, Any], start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """LocalTime journeys: the start's wall clock is reached first at UTC+14 and the end's last
    at UTC-12; each participant's own window is applied when it is admitted."""
    if not definition.get("LocalTime"):
        return start, end
    return start - timedelta(hours=14), end + timedelta(hours=12)


def next_cycle(request: JourneyInput, definition: dict[str, Any], start: datetime, now: datetime) -> datetime | None:
    """When the next entry cycle is due: the start, at once when the segment changed (with
    RefreshOnSegmentUpdate), RefreshFrequency after the last; None when no cycle is to come."""
    if request.run_number == 0:
        return start
    if request.segment_changed and definition.get("RefreshOnSegmentUpdate"):
        return now
    refresh = definition.get("RefreshFrequency")
    if not refresh or request.last_cycle_at is None:
        return None
    return instant(request.last_cycle_at) + timing.parse_duration(refresh)


async def plan(conn: AsyncConnection, request: JourneyInput, now: datetime) -> JourneyPlan:
    """The journey as stored now decides: the state participants must be told of, a cycle and
    when, and the runs and state written on the way (a cancelled journey's runs end; one past
    its window, or taken once and never refreshed, is CLOSED)."""
    journey = await journeys_store.find(conn, request.app_id, request.journey_id)
    if journey is None:
        return JourneyPlan("stop", DELETED)
    state, at = journey["state"], journey["updated_at"].isoformat()
    definition = journey["definition"]
    if state == DELETED:
        return JourneyPlan("stop", state, tell=DELETED, purge=True, state_at=at)
    if state == CANCELLED:
        await runs.end_runs(conn, request.app_id, request.journey_id, "CANCELLED")
        return JourneyPlan("stop", state, tell=None if request.told == CANCELLED else CANCELLED, state_at=at)
    if state == PAUSED:
        return JourneyPlan("hold", state, tell=None if request.told == PAUSED else PAUSED, state_at=at)
    if state != ACTIVE:
        return JourneyPlan("stop", state)  # a draft, or closed: nothing to admit
    tell = ACTIVE if request.told == PAUSED else None
    start, end = earliest_local(definition, *entry_window(journey))
    if now >= end:
        await journeys_store.set_state(conn, request.app_id, request.journey_id, "CLOSED")
        return JourneyPlan("stop", "CLOSED", tell=tell, state_at=at)
    condition = definition.get("StartCondition") or {}
    if condition.get("EventStartCondition"):
        # PutEvents admits; the journey's one run lasts its whole window.
        await runs.ensure_run(conn, request.app_id, request.journey_id, 0, "RUNNING")
        return JourneyPlan("watch", state, at=end.isoformat(), tell=tell, state_at=at)
    due = next_cycle(request, definition, start, now)
    if due is None or due >= end:
        if request.run_number > 0 and not definition.get("RefreshFrequency"):
            # Taken once at start and never refreshed: entry has ended.
            await journeys_store.set_state(conn, request.app_id, request.journey_id, "CLOSED")
            return JourneyPlan("stop", "CLOSED", tell=tell, state_at=at)
        return JourneyPlan("watch", state, at=end.isoformat(), tell=tell, state_at=at)
    await runs.ensure_run(conn, request.app_id, request.journey_id, request.run_number, "SCHEDULED")
    return JourneyPlan("cycle", state, at=due.isoformat(), tell=tell, state_at=at)
