"""Campaign limits: per-endpoint caps with project defaults, pacing, the delivery deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.limits import (
    UNLIMITED,
    batch_interval,
    delivery_deadline,
    effective_limits,
    may_target,
    remaining,
    within_maximum_duration,
)

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class TestEffectiveLimits:
    def test_campaign_values_win_member_by_member(self) -> None:
        campaign = {"Daily": 2, "MessagesPerSecond": None}
        project = {"Daily": 5, "Total": 10, "MessagesPerSecond": 50}
        assert effective_limits(campaign, project) == {"Daily": 2, "Total": 10, "MessagesPerSecond": 50}

    def test_an_explicit_zero_in_the_campaign_lifts_the_project_cap(self) -> None:
        assert remaining({"Daily": 0}, {"Daily": 1}, sent_today=7, total_targeted=7) == UNLIMITED

    def test_nothing_set_means_no_limits(self) -> None:
        assert effective_limits(None, None) == {}


class TestRemaining:
    def test_daily_cap(self) -> None:
        assert remaining({"Daily": 3}, None, sent_today=1, total_targeted=40) == 2
        assert not may_target({"Daily": 3}, None, sent_today=3, total_targeted=3)

    def test_total_counts_targeting_across_runs(self) -> None:
        # Targeted twice already (one of them held back by quiet time): one message left.
        assert remaining({"Total": 3}, None, sent_today=0, total_targeted=2) == 1
        assert not may_target({"Total": 3}, None, sent_today=0, total_targeted=3)

    def test_the_tighter_cap_wins(self) -> None:
        assert remaining({"Total": 5}, {"Daily": 2}, sent_today=1, total_targeted=4) == 1

    def test_the_project_default_applies_when_the_campaign_is_silent(self) -> None:
        assert not may_target({}, {"Daily": 1}, sent_today=1, total_targeted=1)

    def test_no_caps(self) -> None:
        assert remaining(None, None, sent_today=1000, total_targeted=1000) == UNLIMITED

    def test_over_the_cap_is_zero_not_negative(self) -> None:
        assert remaining({"Daily": 1}, None, sent_today=4, total_targeted=4) == 0


class TestPacing:
    @pytest.mark.parametrize(
        ("rate", "batch", "seconds"), [(None, 100, 0.0), (50, 100, 2.0), (20_000, 100, 0.005), (1, 0, 0.0)]
    )
    def test_batch_interval(self, rate: int | None, batch: int, seconds: float) -> None:
        assert batch_interval(rate, batch) == pytest.approx(seconds)

    @pytest.mark.parametrize(("rate", "batch"), [(-1, 10), (10, -1)])
    def test_nonsense_is_refused(self, rate: int, batch: int) -> None:
        with pytest.raises(ValueError):
            batch_interval(rate, batch)


class TestMaximumDuration:
    def test_delivery_may_start_until_the_deadline_inclusive(self) -> None:
        limits = {"MaximumDuration": 600}
        assert delivery_deadline(limits, START) == START + timedelta(minutes=10)
        assert within_maximum_duration(limits, START, START + timedelta(minutes=10))
        assert not within_maximum_duration(limits, START, START + timedelta(minutes=10, seconds=1))

    def test_no_maximum_duration_means_no_deadline(self) -> None:
        assert delivery_deadline(None, START) is None
        assert within_maximum_duration({}, START, START + timedelta(days=365))

    def test_with_project_defaults(self) -> None:
        limits = effective_limits({}, {"MaximumDuration": 60})
        assert not within_maximum_duration(limits, START, START + timedelta(minutes=2))
