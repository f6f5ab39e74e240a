"""A campaign's runs: which treatments a run sends, the Id each run of a treatment reports, when
the next run is, and whether any is left (PINPOINT.md §4.4 schedules, treatments, limits).

A treatment with a Schedule of its own (rules.campaigns.own_schedules) runs apart from the
others: its runs are a *schedule group* of their own. The default group (None) is the default
treatment with every treatment on the campaign's Schedule.

Rules where Pinpoint is silent [impl]:
- ActivityResponse.Id is a hash of campaign, run and treatment, so a retried start finds the
  row it wrote; an event-triggered campaign reports all its sends as run 0.
- Occurrences already past when a run is planned (the schedule changed, a run outlasted the
  interval) are skipped, with PLANNING_GRACE of slack; the first run of a campaign is never
  skipped, nor a run whose timer fired late.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from rules import schedules, treatments
from rules.campaigns import own_schedules
from rules.instants import as_utc, parse_instant

RECURRING = frozenset({"HOURLY", "DAILY", "WEEKLY", "MONTHLY"})
PLANNING_GRACE = timedelta(seconds=60)
DEFAULT_TREATMENT = treatments.DEFAULT_TREATMENT


def activity_id(campaign_id: str, run_number: int, treatment_id: str) -> str:
    """The Id of one run of one treatment (ActivityResponse.Id), the same on every retry."""
    return hashlib.sha256(f"{campaign_id}/{run_number}/{treatment_id}".encode()).hexdigest()[:32]


def treatment_ids(definition: dict[str, Any]) -> list[str]:
    return [DEFAULT_TREATMENT] + [t["Id"] for t in definition.get("AdditionalTreatments") or []]


def group_treatments(definition: dict[str, Any], group: str | None) -> list[str]:
    """The treatments one schedule group sends: a treatment with its own Schedule alone, or
    (group None) the default treatment and every treatment on the campaign's Schedule."""
    own = own_schedules(definition)
    if group is not None:
        return [group] if group in own else []
    return [t for t in treatment_ids(definition) if t not in own]


def group_schedule(definition: dict[str, Any], group: str | None) -> dict[str, Any] | None:
    """The Schedule a group runs on: the campaign's, or a treatment's own over it; None when the
    treatment no longer has a schedule of its own."""
    if group is None:
        return definition.get("Schedule") or {}
    own = own_schedules(definition).get(group)
    return None if own is None else {**(definition.get("Schedule") or {}), **own}


def allocation_of(definition: dict[str, Any]) -> treatments.Allocation:
    """Which cohorts go to the holdout and to each treatment."""
    return treatments.allocate(
        int(definition.get("HoldoutPercent") or 0),
        [(t["Id"], int(t["SizePercent"])) for t in definition.get("AdditionalTreatments") or []],
    )


def messages_per_second(definition: dict[str, Any], app_settings: dict[str, Any]) -> int | None:
    """The campaign's MessagesPerSecond, else the project's; None: as fast as the channels go."""
    mps = (definition.get("Limits") or {}).get("MessagesPerSecond") or (app_settings.get("Limits") or {}).get(
        "MessagesPerSecond"
    )
    return int(mps) if mps else None


def next_run_time(
    schedule: dict[str, Any], *, created: datetime, last_run_at: str | None, now: str | None, run_number: int
) -> datetime | None:
    """When a group's next run is: the schedule's first occurrence after the last run (or from
    its StartTime, IMMEDIATE being the campaign's `created`), past ones skipped (module doc)."""
    schedule = schedules.resolve_start(schedule, created=created)
    if last_run_at:
        after = as_utc(last_run_at)
    else:
        start = parse_instant(schedule["StartTime"])
        assert start is not None  # the API refuses any other StartTime
        after = start - timedelta(microseconds=1)
    run = schedules.next_run(schedule, after=after)
    if run is None or now is None or (last_run_at is None and run_number == 0):
        return run
    # Occurrences already past when planning (the schedule was changed, or a run outlasted
    # the interval) are not sent after the fact. A run planned earlier and delayed by a
    # worker outage is not affected: its timer fires late and it runs.
    earliest = as_utc(now) - PLANNING_GRACE
    for _ in range(100_000):
        if run is None or run >= earliest:
            break
        run = schedules.next_run(schedule, after=run)
    return run


def groups_ahead(definition: dict[str, Any], group: str | None, now: datetime) -> bool:
    """Whether a schedule group other than `group` still has a run after `now`: the campaign is
    then not COMPLETED when `group` has none left."""
    groups: list[str | None] = [None, *own_schedules(definition)]
    for other in groups:
        schedule = group_schedule(definition, other)
        if other == group or not schedule or schedule.get("StartTime") == "IMMEDIATE":
            continue
        if schedule.get("Frequency", "ONCE") in (*RECURRING, "ONCE") and schedules.next_run(schedule, after=now):
            return True
    return False


def runs_after(schedule: dict[str, Any], run_start: datetime) -> bool:
    """Whether a recurring schedule has a run after the one that started at `run_start` (the
    campaign is then PENDING_NEXT_RUN, else COMPLETED)."""
    return schedule.get("Frequency", "ONCE") in RECURRING and schedules.next_run(schedule, after=run_start) is not None


def trigger_key(endpoint_id: str, event_id: str) -> str:
    """An event-triggered send's own key (its step in the idempotency key, its row in
    `trigger_outcomes`, its targeting record): one per endpoint and event, so the same event
    handed over twice is one trigger."""
    return hashlib.sha256(f"{endpoint_id}/{event_id}".encode()).hexdigest()[:32]
