"""A DRAFT journey saved half-built, as the Pinpoint console saves one while it is being drawn
(rules/journey_drafts.py): CreateJourney's checks take it, the review names each activity that
is not finished, and those errors block publishing. What is malformed is still refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.journey_review import ProjectFacts, review
from rules.journeys import check_journey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# A finished journey in the console's shape: welcome email, a day's wait, a yes/no split on the
# email's opens, a multivariate split on segments, an A/B test with a holdout.
FINISHED: dict[str, Any] = {
    "Name": "Onboarding",
    "StartActivity": "a1welcome",
    "StartCondition": {"Description": "sign-ups", "SegmentStartCondition": {"SegmentId": "signups"}},
    "Schedule": {"StartTime": "2026-07-01T09:00:00Z", "EndTime": "2026-12-31T09:00:00Z", "Timezone": "UTC"},
    "QuietTime": {"Start": "22:00", "End": "07:00"},
    "Activities": {
        "a1welcome": {"EMAIL": {"TemplateName": "welcome", "NextActivity": "b2wait"}},
        "b2wait": {"Description": "a day", "Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "c3opened"}},
        "c3opened": {
            "ConditionalSplit": {
                "Condition": {
                    "Conditions": [
                        {
                            "EventCondition": {
                                "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}},
                                "MessageActivity": "a1welcome",
                            }
                        }
                    ],
                    "Operator": "ALL",
                },
                "TrueActivity": "d4tiers",
                "FalseActivity": "e5ab",
            }
        },
        "d4tiers": {
            "MultiCondition": {
                "Branches": [{"Condition": {"SegmentCondition": {"SegmentId": "vips"}}, "NextActivity": "f6hold"}],
                "DefaultActivity": "e5ab",
            }
        },
        "e5ab": {
            "RandomSplit": {
                "Branches": [{"Percentage": 50, "NextActivity": "f6hold"}, {"Percentage": 50, "NextActivity": "g7sms"}]
            }
        },
        "f6hold": {"Holdout": {"Percentage": 10, "NextActivity": "g7sms"}},
        "g7sms": {"SMS": {"TemplateName": "nudge"}},
    },
}
FACTS = ProjectFacts(
    templates=frozenset({("EMAIL", "welcome"), ("SMS", "nudge")}),
    template_versions=frozenset(),
    channels=frozenset({"EMAIL", "SMS"}),
    segments=frozenset({"signups", "vips"}),
    now=NOW,
)


def draft(activity_id: str | None, member: str, value: Any) -> dict[str, Any]:
    """FINISHED with one member set (None: removed); dotted `member` inside the activity's type
    member (or the journey when `activity_id` is None), digits indexing lists."""
    body = copy.deepcopy(FINISHED)
    target: Any = (
        body
        if activity_id is None
        else next(v for k, v in body["Activities"][activity_id].items() if k != "Description")
    )
    *keys, last = member.split(".")
    for key in keys:
        target = target[int(key)] if isinstance(target, list) else target[key]
    index: Any = int(last) if isinstance(target, list) else last
    if value is None:
        del target[index]
    else:
        target[index] = value
    return body


def errors_of(body: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(f.activity, f.code, f.message) for f in review(body, FACTS)[0]]


def test_the_finished_journey_has_nothing_missing() -> None:
    check_journey(FINISHED, now=NOW)
    assert review(FINISHED, FACTS) == ([], [])


HALF_BUILT = [
    pytest.param("b2wait", "WaitTime", None, "NO_WAIT_TIME", id="wait-without-wait-time"),
    pytest.param("b2wait", "WaitTime", {}, "NO_WAIT_TIME", id="wait-time-empty"),
    pytest.param("c3opened", "Condition", None, "NO_CONDITION", id="yes-no-without-condition"),
    pytest.param("c3opened", "Condition.Conditions", [], "NO_CONDITION", id="yes-no-conditions-empty"),
    pytest.param("c3opened", "Condition.Conditions", [{}], "EMPTY_CONDITION", id="empty-condition"),
    pytest.param(
        "c3opened", "Condition.Conditions.0.EventCondition.Dimensions", None, "NO_EVENT_DIMENSIONS", id="event-no-dims"
    ),
    pytest.param("d4tiers", "Branches", [], "NO_BRANCHES", id="multi-without-branches"),
    pytest.param("d4tiers", "Branches.0.Condition", None, "BRANCH_WITHOUT_CONDITION", id="branch-without-condition"),
    pytest.param("d4tiers", "Branches.0.Condition", {}, "EMPTY_CONDITION", id="branch-condition-empty"),
    pytest.param(
        "d4tiers", "Branches.0.Condition.SegmentCondition", {}, "NO_CONDITION_SEGMENT", id="segment-condition-no-id"
    ),
    pytest.param("e5ab", "Branches", [{"NextActivity": "f6hold"}], "TOO_FEW_BRANCHES", id="random-one-branch"),
    pytest.param("e5ab", "Branches.1.Percentage", None, "NO_PERCENTAGE", id="random-branch-no-percentage"),
    pytest.param("e5ab", "Branches.1.Percentage", 40, "PERCENTAGES_NOT_100", id="random-shares-90"),
    pytest.param("f6hold", "Percentage", None, "NO_PERCENTAGE", id="holdout-without-percentage"),
]


@pytest.mark.parametrize(("activity_id", "member", "value", "code"), HALF_BUILT)
def test_a_half_built_activity_is_saved_and_named_by_the_review(
    activity_id: str, member: str, value: Any, code: str
) -> None:
    body = draft(activity_id, member, value)
    check_journey(body, now=NOW)  # no refusal: a DRAFT may be saved like this
    found = [e for e in errors_of(body) if e[1] == code]
    assert [(a, c) for a, c, _m in found] == [(activity_id, code)]
    assert f"'{activity_id}'" in found[0][2]


@pytest.mark.parametrize(
    ("member", "value", "code"),
    [
        pytest.param(
            "StartCondition", {"SegmentStartCondition": {"Description": "later"}}, "NO_START_SEGMENT", id="segment"
        ),
        pytest.param("StartCondition", {"EventStartCondition": {"SegmentId": "signups"}}, "NO_START_EVENT", id="event"),
        pytest.param("StartCondition", {"Description": "who enters?"}, "NO_START_CONDITION", id="neither"),
    ],
)
def test_an_unfinished_start_condition_is_saved_and_blocks_publishing(member: str, value: Any, code: str) -> None:
    body = draft(None, member, value)
    check_journey(body, now=NOW)
    assert [(a, c) for a, c, _m in errors_of(body)] == [(None, code)]


def test_every_gap_is_listed_with_its_activity() -> None:
    body = draft("b2wait", "WaitTime", None)
    body["Activities"]["c3opened"]["ConditionalSplit"]["Condition"] = {"Conditions": []}
    body["Activities"]["d4tiers"]["MultiCondition"]["Branches"] = [{"NextActivity": "f6hold"}]
    check_journey(body, now=NOW)
    assert [(a, c) for a, c, _m in errors_of(body)] == [
        ("b2wait", "NO_WAIT_TIME"),
        ("c3opened", "NO_CONDITION"),
        ("d4tiers", "BRANCH_WITHOUT_CONDITION"),
    ]


@pytest.mark.parametrize(
    ("activity_id", "member", "value", "named"),
    [
        pytest.param(
            "b2wait",
            "WaitTime",
            {"WaitFor": "P1D", "WaitUntil": "2026-08-01T00:00:00Z"},
            "Activities.b2wait.Wait.WaitTime: set exactly one of WaitFor, WaitUntil (2 set)",
            id="wait-for-and-until",
        ),
        pytest.param(
            "b2wait", "WaitTime", {"WaitFor": "a day"}, "Activities.b2wait.Wait.WaitTime.WaitFor", id="duration"
        ),
        pytest.param(
            "d4tiers",
            "Branches.0.Condition",
            {"SegmentCondition": {"SegmentId": "vips"}, "SegmentDimensions": {}},
            "Activities.d4tiers.MultiCondition.Branches[0].Condition: set exactly one of",
            id="condition-two-tests",
        ),
        pytest.param(
            "e5ab", "Branches.1.Percentage", 101, "Activities.e5ab.RandomSplit.Branches[1].Percentage", id="over-100"
        ),
        pytest.param(
            "e5ab", "Branches", [{"Percentage": 10}] * 6, "Activities.e5ab.RandomSplit.Branches", id="six-branches"
        ),
        pytest.param("f6hold", "Percentage", 2.5, "Activities.f6hold.Holdout.Percentage", id="fraction"),
    ],
)
def test_what_is_malformed_is_still_refused(activity_id: str, member: str, value: Any, named: str) -> None:
    with pytest.raises(BadRequest) as e:
        check_journey(draft(activity_id, member, value), now=NOW)
    assert named in e.value.message


def test_an_activity_of_no_known_type_is_still_refused() -> None:
    body = copy.deepcopy(FINISHED)
    body["Activities"]["b2wait"] = {"Description": "a pause"}
    with pytest.raises(BadRequest) as e:
        check_journey(body, now=NOW)
    assert "WriteJourneyRequest.Activities.b2wait: set exactly one of EMAIL" in e.value.message
