"""A/B treatments and holdout as contiguous cohort ranges."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rules.endpoints import cohort_of
from rules.treatments import DEFAULT_TREATMENT, Allocation, allocate, treatment_for


def test_holdout_then_default_then_additional_in_order() -> None:
    assert allocate(10, [("1", 30), ("2", 20)]) == [
        (None, range(0, 10)),
        ("0", range(10, 50)),
        ("1", range(50, 80)),
        ("2", range(80, 100)),
    ]


def test_a_plain_campaign_sends_everyone_the_default() -> None:
    allocation = allocate(0, [])
    assert {treatment_for(c, allocation) for c in range(100)} == {DEFAULT_TREATMENT}


def test_a_full_holdout_sends_nothing() -> None:
    allocation = allocate(100, [])
    assert {treatment_for(c, allocation) for c in range(100)} == {None}


def test_the_default_may_get_nothing() -> None:
    allocation = allocate(50, [("1", 50)])
    assert allocation[1] == (DEFAULT_TREATMENT, range(50, 50))
    assert treatment_for(49, allocation) is None and treatment_for(50, allocation) == "1"


def test_an_endpoint_lands_by_its_cohort() -> None:
    allocation = allocate(20, [("1", 40)])
    cohort = cohort_of("endpoint-42")
    assert treatment_for(cohort, allocation) == (None if cohort < 20 else "0" if cohort < 60 else "1")


@pytest.mark.parametrize(
    ("holdout", "treatments"),
    [(101, []), (-1, []), (50, [("1", 51)]), (0, [("1", -5)]), (0, [("0", 10)]), (0, [("1", 10), ("1", 10)])],
)
def test_impossible_allocations_are_refused(holdout: int, treatments: list[tuple[str, int]]) -> None:
    with pytest.raises(ValueError):
        allocate(holdout, treatments)


@pytest.mark.parametrize("cohort", [-1, 100])
def test_cohorts_outside_0_to_99_are_refused(cohort: int) -> None:
    with pytest.raises(ValueError):
        treatment_for(cohort, allocate(10, []))


@st.composite
def shares(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    holdout = draw(st.integers(0, 100))
    sizes: list[int] = []
    for _ in range(draw(st.integers(0, 4))):
        sizes.append(draw(st.integers(0, 100 - holdout - sum(sizes))))
    return holdout, [(str(i + 1), size) for i, size in enumerate(sizes)]


@settings(max_examples=100)
@given(shares())
def test_ranges_partition_the_cohorts_with_the_requested_sizes(share: tuple[int, list[tuple[str, int]]]) -> None:
    holdout, treatments = share
    allocation: Allocation = allocate(holdout, treatments)
    assert [c for _, r in allocation for c in r] == list(range(100))
    assert [len(r) for _, r in allocation] == [holdout, 100 - holdout - sum(s for _, s in treatments)] + [
        s for _, s in treatments
    ]
    assert [tid for tid, _ in allocation] == [None, DEFAULT_TREATMENT] + [t for t, _ in treatments]
    counts = {tid: sum(1 for c in range(100) if treatment_for(c, allocation) == tid) for tid, _ in allocation}
    assert counts == {tid: len(r) for tid, r in allocation}
    assert allocate(holdout, treatments) == allocation  # stable


@settings(max_examples=100)
@given(share=shares(), other_holdout=st.integers(0, 100))
def test_changing_the_holdout_only_moves_endpoints_between_holdout_and_default(
    share: tuple[int, list[tuple[str, int]]], other_holdout: int
) -> None:
    holdout, treatments = share
    assume(other_holdout + sum(size for _, size in treatments) <= 100)
    before, after = allocate(holdout, treatments), allocate(other_holdout, treatments)
    for cohort in range(100):
        moved = treatment_for(cohort, before), treatment_for(cohort, after)
        assert moved[0] == moved[1] or set(moved) == {None, DEFAULT_TREATMENT}
