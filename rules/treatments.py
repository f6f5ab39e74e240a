"""A/B treatments and holdout over cohorts (PINPOINT.md §4.4 "A/B treatments and holdout").

Every endpoint carries a stable CohortId 0-99 (rules.endpoints.cohort_of). A campaign's holdout
and each treatment get contiguous cohort ranges whose sizes are their percentages, so an endpoint
lands in the same bucket on every run.

Rules where Pinpoint is silent [impl] (§9: the default treatment's Id and the cohort mapping are
undocumented):
- The order along 0..99 is: the holdout, then the default treatment (Id "0", given
  100 - HoldoutPercent - sum(SizePercent) of the additional ones), then the additional
  treatments in request order. With HoldoutPercent 10 and one 30 % treatment "1": cohorts 0-9
  hold out, 10-69 get "0", 70-99 get "1".
- Every bucket appears in the allocation, an empty range when its share is 0.
- Requests are checked by rules.campaigns (percentages, at most 4 additional treatments);
  `allocate` only insists on shares that fit in 100 cohorts and distinct ids.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_TREATMENT = "0"
COHORTS = 100

# (treatment id, or None for the holdout; its cohorts)
Allocation = list[tuple[str | None, range]]


def allocate(holdout_percent: int, treatments: Sequence[tuple[str, int]]) -> Allocation:
    """The cohort ranges of the holdout (None) and each treatment; `treatments` are the
    additional ones as (Id, SizePercent) in request order."""
    sizes = [holdout_percent, *(size for _, size in treatments)]
    if any(size < 0 for size in sizes) or sum(sizes) > COHORTS:
        raise ValueError(f"shares {sizes} must be non-negative and fit in {COHORTS} cohorts.")
    ids = [tid for tid, _ in treatments]
    if DEFAULT_TREATMENT in ids or len(set(ids)) != len(ids):
        raise ValueError(f"treatment ids must be unique and not '{DEFAULT_TREATMENT}': {ids}.")
    default = COHORTS - holdout_percent - sum(size for _, size in treatments)
    buckets: list[tuple[str | None, int]] = [(None, holdout_percent), (DEFAULT_TREATMENT, default), *treatments]
    allocation: Allocation = []
    first = 0
    for tid, size in buckets:
        allocation.append((tid, range(first, first + size)))
        first += size
    return allocation


def treatment_for(cohort: int, allocation: Allocation) -> str | None:
    """The treatment an endpoint of this cohort gets; None for the holdout (TREATMENT_HOLDOUT)."""
    for tid, cohorts in allocation:
        if cohort in cohorts:
            return tid
    raise ValueError(f"cohort {cohort} is outside 0-{COHORTS - 1}.")
