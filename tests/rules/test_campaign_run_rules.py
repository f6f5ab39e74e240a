"""A campaign's runs: schedule groups, run Ids, the next run, and whether any is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.campaign_runs import (
    activity_id,
    allocation_of,
    group_schedule,
    group_treatments,
    groups_ahead,
    messages_per_second,
    next_run_time,
    runs_after,
    treatment_ids,
    trigger_key,
)

CREATED = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
FIRST = "2026-06-01T09:00:00+00:00"  # the first run of the daily schedules below


def campaign(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Schedule": {"StartTime": "2026-06-01T09:00:00Z", "Frequency": "DAILY", "EndTime": "2026-06-05T09:00:00Z"},
        "AdditionalTreatments": [
            {"Id": "1", "SizePercent": 30},
            {"Id": "2", "SizePercent": 20, "Schedule": {"StartTime": "2026-06-02T12:00:00Z", "Frequency": "ONCE"}},
        ],
        "HoldoutPercent": 10,
    }
    return {**base, **overrides}


def test_a_run_id_is_stable_and_distinct_per_run_and_treatment() -> None:
    assert activity_id("c", 0, "0") == activity_id("c", 0, "0")
    assert len({activity_id("c", 0, "0"), activity_id("c", 1, "0"), activity_id("c", 0, "1")}) == 3
    assert len(activity_id("c", 0, "0")) == 32


def test_trigger_keys_are_per_endpoint_and_event() -> None:
    assert trigger_key("e1", "ev1") == trigger_key("e1", "ev1")
    assert trigger_key("e1", "ev1") != trigger_key("e1", "ev2") != trigger_key("e2", "ev1")


class TestScheduleGroups:
    def test_the_default_group_leaves_out_treatments_with_their_own_schedule(self) -> None:
        definition = campaign()
        assert treatment_ids(definition) == ["0", "1", "2"]
        assert group_treatments(definition, None) == ["0", "1"]
        assert group_treatments(definition, "2") == ["2"]
        assert group_treatments(definition, "1") == []

    def test_a_treatment_schedule_overlays_the_campaign_schedule(self) -> None:
        definition = campaign()
        assert group_schedule(definition, None) == definition["Schedule"]
        own = {"StartTime": "2026-06-02T12:00:00Z", "Frequency": "ONCE"}
        assert group_schedule(definition, "2") == {**definition["Schedule"], **own}
        assert group_schedule(definition, "1") is None

    def test_other_groups_with_runs_ahead_keep_the_campaign_going(self) -> None:
        definition = campaign()
        assert groups_ahead(definition, None, datetime(2026, 6, 2, 0, 0, tzinfo=UTC))
        assert not groups_ahead(definition, None, datetime(2026, 6, 3, 0, 0, tzinfo=UTC))
        assert groups_ahead(definition, "2", datetime(2026, 6, 3, 0, 0, tzinfo=UTC))


def test_the_allocation_gives_cohorts_to_holdout_and_treatments() -> None:
    assert allocation_of(campaign()) == [
        (None, range(0, 10)),
        ("0", range(10, 50)),
        ("1", range(50, 80)),
        ("2", range(80, 100)),
    ]


@pytest.mark.parametrize(
    ("own", "project", "rate"),
    [({}, {}, None), ({"MessagesPerSecond": 50}, {"MessagesPerSecond": 5}, 50), ({}, {"MessagesPerSecond": 5}, 5)],
)
def test_messages_per_second_is_the_campaigns_else_the_projects(
    own: dict[str, Any], project: dict[str, Any], rate: int | None
) -> None:
    assert messages_per_second({"Limits": own}, {"Limits": project}) == rate


class TestNextRunTime:
    schedule = {"StartTime": "2026-06-01T09:00:00Z", "Frequency": "DAILY", "EndTime": "2026-06-05T09:00:00Z"}

    def test_the_first_run_is_the_start_time(self) -> None:
        at = next_run_time(self.schedule, created=CREATED, last_run_at=None, now=None, run_number=0)
        assert at == datetime(2026, 6, 1, 9, tzinfo=UTC)

    def test_the_next_run_follows_the_last(self) -> None:
        at = next_run_time(self.schedule, created=CREATED, last_run_at=FIRST, now=None, run_number=1)
        assert at == datetime(2026, 6, 2, 9, tzinfo=UTC)

    def test_runs_already_past_when_planning_are_skipped(self) -> None:
        now = "2026-06-03T12:00:00+00:00"
        at = next_run_time(self.schedule, created=CREATED, last_run_at=FIRST, now=now, run_number=1)
        assert at == datetime(2026, 6, 4, 9, tzinfo=UTC)

    def test_a_run_within_the_grace_is_not_skipped(self) -> None:
        now = (datetime(2026, 6, 2, 9, tzinfo=UTC) + timedelta(seconds=30)).isoformat()
        at = next_run_time(self.schedule, created=CREATED, last_run_at=FIRST, now=now, run_number=1)
        assert at == datetime(2026, 6, 2, 9, tzinfo=UTC)

    def test_the_first_run_is_never_skipped(self) -> None:
        at = next_run_time(self.schedule, created=CREATED, last_run_at=None, now="2026-06-03T12:00:00Z", run_number=0)
        assert at == datetime(2026, 6, 1, 9, tzinfo=UTC)

    def test_immediate_starts_at_creation(self) -> None:
        schedule = {"StartTime": "IMMEDIATE", "Frequency": "ONCE"}
        at = next_run_time(schedule, created=CREATED, last_run_at=None, now=None, run_number=0)
        assert at == CREATED

    def test_no_run_after_the_end(self) -> None:
        last = "2026-06-05T09:00:00+00:00"
        assert next_run_time(self.schedule, created=CREATED, last_run_at=last, now=None, run_number=4) is None


def test_only_a_recurring_schedule_with_a_later_occurrence_has_runs_after() -> None:
    daily = TestNextRunTime.schedule
    assert runs_after(daily, datetime(2026, 6, 1, 9, tzinfo=UTC))
    assert not runs_after(daily, datetime(2026, 6, 5, 9, tzinfo=UTC))
    assert not runs_after({**daily, "Frequency": "ONCE"}, datetime(2026, 5, 1, tzinfo=UTC))
