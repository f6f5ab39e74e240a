"""Journey request checks, activity anatomy and publish review (rules/journeys.py,
journey_graph.py, journey_review.py), as plain functions."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.journey_activities import MAX_ACTIVITIES
from rules.journey_graph import ACTIVITY_TYPES, activity_type, metrics_type, successors
from rules.journey_review import Finding, ProjectFacts, review
from rules.journey_values import parse_duration
from rules.journeys import check_journey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPENED = {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}}

# A journey as a marketer would build it: welcome email, two days' wait, a yes/no split on the
# email's opens, then tiers by segment and platform, an A/B test with a holdout, push and webhook.
JOURNEY: dict[str, Any] = {
    "Name": "welcome-series_2026",
    "State": "ACTIVE",
    "StartActivity": "welcome",
    "StartCondition": {"Description": "new sign-ups", "SegmentStartCondition": {"SegmentId": "newusers"}},
    "Schedule": {
        "StartTime": "2026-07-01T09:00:00+09:00",
        "EndTime": "2026-12-31T09:00:00+09:00",
        "Timezone": "UTC+09",
    },
    "RefreshFrequency": "PT12H",
    "RefreshOnSegmentUpdate": True,
    "Limits": {
        "DailyCap": 2,
        "TotalCap": 10,
        "EndpointReentryCap": 1,
        "EndpointReentryInterval": "P7D",
        "MessagesPerSecond": 50,
        "TimeframeCap": {"Cap": 5, "Days": 7},
    },
    "QuietTime": {"Start": "22:00", "End": "07:00"},
    "WaitForQuietTime": True,
    "SendingSchedule": True,
    "OpenHours": {
        "EMAIL": {"MONDAY": [{"StartTime": "07:00", "EndTime": "12:00"}, {"StartTime": "13:00", "EndTime": "22:00"}]},
        "SMS": {"SATURDAY": [{"StartTime": "10:00", "EndTime": "16:00"}]},
    },
    "ClosedDays": {
        "EMAIL": [{"Name": "new year", "StartDateTime": "2026-12-31T00:00:00Z", "EndDateTime": "2027-01-02T00:00:00Z"}]
    },
    "TimezoneEstimationMethods": ["PHONE_NUMBER", "POSTAL_CODE"],
    "Activities": {
        "welcome": {
            "Description": "hello",
            "EMAIL": {
                "TemplateName": "welcome",
                "MessageConfig": {"FromAddress": "hi@example.com"},
                "NextActivity": "pause",
            },
        },
        "pause": {"Wait": {"WaitTime": {"WaitFor": "P2D"}, "NextActivity": "opened"}},
        "opened": {
            "ConditionalSplit": {
                "Condition": {
                    "Operator": "ANY",
                    "Conditions": [{"EventCondition": {"Dimensions": OPENED, "MessageActivity": "welcome"}}],
                },
                "TrueActivity": "tiers",
                "FalseActivity": "nudge",
            }
        },
        "nudge": {"SMS": {"TemplateName": "nudge", "MessageConfig": {"MessageType": "PROMOTIONAL"}}},
        "tiers": {
            "MultiCondition": {
                "Branches": [
                    {"Condition": {"SegmentCondition": {"SegmentId": "vips"}}, "NextActivity": "vipOffer"},
                    {
                        "Condition": {"SegmentDimensions": {"Demographic": {"Platform": {"Values": ["ios"]}}}},
                        "NextActivity": "abTest",
                    },
                ],
                "DefaultActivity": "hook",
                "EvaluationWaitTime": {"WaitFor": "PT1H"},
            }
        },
        "vipOffer": {
            "PUSH": {"TemplateName": "offer", "TemplateVersion": "2", "MessageConfig": {"TimeToLive": "3600"}}
        },
        "abTest": {
            "RandomSplit": {
                "Branches": [{"Percentage": 50, "NextActivity": "control"}, {"Percentage": 50, "NextActivity": "hook"}]
            }
        },
        "control": {"Holdout": {"Percentage": 10, "NextActivity": "vipOffer"}},
        "hook": {
            "CUSTOM": {
                "DeliveryUri": "https://hooks.example.com/journey",
                "EndpointTypes": ["CUSTOM"],
                "MessageConfig": {"Data": '{"offer": "spring"}'},
            }
        },
    },
}

FACTS = ProjectFacts(
    templates=frozenset({("EMAIL", "welcome"), ("SMS", "nudge"), ("PUSH", "offer")}),
    template_versions=frozenset({("PUSH", "offer", "1"), ("PUSH", "offer", "2")}),
    channels=frozenset({"EMAIL", "SMS", "APNS"}),
    segments=frozenset({"newusers", "vips"}),
    now=NOW,
)
CONNECT = {
    "ConnectCampaignArn": "arn:aws:connect-campaigns:us-east-1:123456789012:campaign/abc",
    "ConnectCampaignExecutionRoleArn": "arn:aws:iam::123456789012:role/Dialer",
}

Mutation = Callable[[dict[str, Any]], object]


def _parent(body: Any, path: str) -> tuple[Any, Any]:
    """The container holding the member at dotted `path` (digits index lists) and its key."""
    *keys, last = path.split(".")
    for key in keys:
        body = body[int(key)] if isinstance(body, list) else body[key]
    return body, int(last) if isinstance(body, list) else last


def put(path: str, value: Any) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        container, key = _parent(body, path)
        container[key] = value

    return mutate


def drop(path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        container, key = _parent(body, path)
        del container[key]

    return mutate


def steps(*mutations: Mutation) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        for step in mutations:
            step(body)

    return mutate


def journey(*mutations: Mutation) -> dict[str, Any]:
    body = copy.deepcopy(JOURNEY)
    for mutate in mutations:
        mutate(body)
    return body


def refused(body: dict[str, Any]) -> str:
    with pytest.raises(BadRequest) as e:
        check_journey(body, now=NOW)
    return e.value.message


def waits(n: int) -> Mutation:
    """n more Wait activities, so the journey has len(JOURNEY activities) + n."""

    def mutate(body: dict[str, Any]) -> None:
        for i in range(n):
            body["Activities"][f"extra{i}"] = {"Wait": {"WaitTime": {"WaitFor": "PT1H"}}}

    return mutate


def contact_centers(n: int) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        for i in range(n):
            body["Activities"][f"call{i}"] = {"ContactCenter": {}}

    return mutate


def codes(findings: list[Finding]) -> list[tuple[str | None, str]]:
    return [(f.activity, f.code) for f in findings]


class TestActivityAnatomy:
    @pytest.mark.parametrize(
        ("activity_id", "kind", "metrics"),
        [
            ("welcome", "EMAIL", "MESSAGE"),
            ("nudge", "SMS", "MESSAGE"),
            ("vipOffer", "PUSH", "MESSAGE"),
            ("hook", "CUSTOM", "MESSAGE"),
            ("pause", "Wait", "WAIT"),
            ("opened", "ConditionalSplit", "CONDITIONAL_SPLIT"),
            ("tiers", "MultiCondition", "MULTI_CONDITIONAL_SPLIT"),
            ("abTest", "RandomSplit", "RANDOM_SPLIT"),
            ("control", "Holdout", "HOLDOUT"),
        ],
    )
    def test_type_and_metrics_type(self, activity_id: str, kind: str, metrics: str) -> None:
        activity = JOURNEY["Activities"][activity_id]
        assert activity_type(activity) == kind
        assert metrics_type(activity) == metrics

    def test_contact_center(self) -> None:
        assert metrics_type({"ContactCenter": {}}) == "CONTACT_CENTER"

    def test_every_type_is_known(self) -> None:
        assert len(ACTIVITY_TYPES) == 10
        for kind in ACTIVITY_TYPES:
            assert activity_type({kind: {}, "Description": "d"}) == kind

    def test_no_type_is_not_an_activity(self) -> None:
        with pytest.raises(ValueError):
            activity_type({"Description": "d"})

    def test_successors_label_each_path(self) -> None:
        activities = JOURNEY["Activities"]
        assert successors(activities["welcome"]) == [("Next", "pause")]
        assert successors(activities["opened"]) == [("True", "tiers"), ("False", "nudge")]
        assert successors(activities["tiers"]) == [("Branch_1", "vipOffer"), ("Branch_2", "abTest"), ("Else", "hook")]
        assert successors(activities["abTest"]) == [("Branch_1", "control"), ("Branch_2", "hook")]
        assert successors(activities["control"]) == [("Next", "vipOffer")]
        assert successors({"ContactCenter": {"NextActivity": "x"}}) == [("Next", "x")]

    def test_paths_without_a_next_activity_are_left_out(self) -> None:
        assert successors(JOURNEY["Activities"]["nudge"]) == []
        assert successors({"ConditionalSplit": {"FalseActivity": "b"}}) == [("False", "b")]
        multi = {"MultiCondition": {"Branches": [{}, {"NextActivity": "b"}]}}
        assert successors(multi) == [("Branch_2", "b")]


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("P3D", timedelta(days=3)),
            ("PT1H", timedelta(hours=1)),
            ("PT30M", timedelta(minutes=30)),
            ("P1DT12H", timedelta(days=1, hours=12)),
            ("P2W", timedelta(weeks=2)),
            ("PT45S", timedelta(seconds=45)),
            ("PT1M30.5S", timedelta(minutes=1, seconds=30.5)),
            ("P365D", timedelta(days=365)),
        ],
    )
    def test_accepted(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text, "X.WaitFor") == expected

    @pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2D", "P2MT1H"])
    def test_months_and_years_have_no_fixed_length(self, text: str) -> None:
        with pytest.raises(BadRequest) as e:
            parse_duration(text, "X.WaitFor")
        assert "X.WaitFor" in e.value.message
        assert "months and years" in e.value.message

    @pytest.mark.parametrize("text", ["P0D", "PT0S", "PT0H0M"])
    def test_zero_is_refused(self, text: str) -> None:
        with pytest.raises(BadRequest, match="longer than zero"):
            parse_duration(text, "X.WaitFor")

    @pytest.mark.parametrize(
        "text", ["", "P", "PT", "P1DT", "-P1D", "1D", "P1H", "PT1.5H", "P1.5D", "PT1H ", "3 days", "P٣D", "P1D1W"]
    )
    def test_not_a_duration(self, text: str) -> None:
        with pytest.raises(BadRequest) as e:
            parse_duration(text, "X.WaitFor")
        assert e.value.message.startswith("Invalid value for X.WaitFor:")

    def test_too_long_is_refused_not_crashed(self) -> None:
        with pytest.raises(BadRequest, match="X.WaitFor"):
            parse_duration("P99999999999999W", "X.WaitFor")


class TestCheckJourneyAccepts:
    def test_a_realistic_multi_step_journey(self) -> None:
        check_journey(journey(), now=NOW)

    def test_a_bare_draft(self) -> None:
        check_journey({"Name": "draft"}, now=NOW)

    @pytest.mark.parametrize(
        "mutation",
        [
            pytest.param(put("Name", "a_b-c" + "x" * 145), id="name-150-with-symbols"),
            pytest.param(put("State", "DRAFT"), id="draft"),
            pytest.param(drop("State"), id="no-state"),
            pytest.param(put("StartActivity", "s" * 128), id="start-activity-128"),
            pytest.param(put("Activities.a" + "1" * 99, {"Wait": {"WaitTime": {"WaitFor": "PT1H"}}}), id="id-100"),
            pytest.param(waits(MAX_ACTIVITIES - len(JOURNEY["Activities"])), id="40-activities"),
            pytest.param(put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2026-08-01T00:00:00Z"}), id="wait-until"),
            pytest.param(
                put("Activities.abTest.RandomSplit.Branches", [{"Percentage": 20} for _ in range(5)]),
                id="random-5x20",
            ),
            pytest.param(
                put("Activities.abTest.RandomSplit.Branches", [{"Percentage": 99}, {"Percentage": 1}]),
                id="random-99-1",
            ),
            pytest.param(put("Activities.control.Holdout.Percentage", 0), id="holdout-0"),
            pytest.param(put("Activities.control.Holdout.Percentage", 100), id="holdout-100"),
            pytest.param(
                put(
                    "Activities.tiers.MultiCondition.Branches",
                    [{"Condition": {"SegmentCondition": {"SegmentId": f"s{i}"}}} for i in range(4)],
                ),
                id="multi-4",
            ),
            pytest.param(
                put("Activities.tiers.MultiCondition.EvaluationWaitTime", {"WaitUntil": "2026-08-01T00:00:00+02:00"}),
                id="evaluation-until",
            ),
            pytest.param(drop("Activities.tiers.MultiCondition.EvaluationWaitTime"), id="evaluate-on-arrival"),
            pytest.param(
                put("Activities.hook.CUSTOM.DeliveryUri", "arn:aws:lambda:us-east-1:123456789012:function:send:live"),
                id="lambda-arn",
            ),
            pytest.param(put("Activities.hook.CUSTOM.MessageConfig.Data", "x" * 5_000), id="data-5000"),
            pytest.param(put("Activities.vipOffer.PUSH.MessageConfig.TimeToLive", "0"), id="ttl-0"),
            pytest.param(
                put("Schedule", {"StartTime": datetime(2026, 7, 1, 9, tzinfo=timezone(timedelta(hours=9)))}),
                id="start-as-datetime",
            ),
            pytest.param(
                put("Schedule", {"StartTime": datetime(2026, 7, 1, 9, tzinfo=UTC), "Timezone": "UTC"}),
                id="utc-datetime",
            ),
            pytest.param(put("Schedule", {"StartTime": "2026-07-01T09:00:00Z", "Timezone": "UTC"}), id="utc-z"),
            pytest.param(
                put("Schedule", {"StartTime": "2026-07-01T09:00:00+05:45", "Timezone": "UTC+05:45"}), id="odd-offset"
            ),
            pytest.param(
                put("Schedule", {"StartTime": "2026-07-01T09:00:00-03:30", "Timezone": "UTC-03:30"}), id="negative"
            ),
            pytest.param(put("Schedule", {"StartTime": "2026-07-01T09:00:00+02:00"}), id="no-timezone"),
            pytest.param(
                put("Schedule", {"StartTime": "2026-07-01T00:00:00Z", "EndTime": "2027-12-23T00:00:00Z"}),
                id="540-days",
            ),
            pytest.param(put("Schedule", {"EndTime": "2027-11-20T00:00:00Z"}), id="end-without-start"),
            pytest.param(put("RefreshFrequency", "PT1H"), id="refresh-hourly"),
            pytest.param(
                put(
                    "Limits",
                    {
                        "DailyCap": 100,
                        "TotalCap": 0,
                        "EndpointReentryCap": 100,
                        "MessagesPerSecond": 20_000,
                        "TimeframeCap": {"Cap": 100, "Days": 30},
                    },
                ),
                id="limits-at-bounds",
            ),
            pytest.param(put("Limits.MessagesPerSecond", 1), id="one-per-second"),
            pytest.param(
                put("QuietTime", {"Start": "01:00", "End": "05:00"}), id="quiet-not-wrapping"
            ),  # open hours 07:00-22:00 are outside it
            pytest.param(steps(drop("QuietTime"), drop("SendingSchedule")), id="open-hours-unused"),
            pytest.param(
                put(
                    "StartCondition",
                    {
                        "EventStartCondition": {
                            "SegmentId": "newusers",
                            "EventFilter": {
                                "FilterType": "ENDPOINT",
                                "Dimensions": {
                                    "EventType": {"DimensionType": "INCLUSIVE", "Values": ["purchase"]},
                                    "Attributes": {
                                        "plan": {"AttributeType": "INCLUSIVE", "Values": ["gold", "silver"]}
                                    },
                                    "Metrics": {"price": {"ComparisonOperator": "GREATER_THAN", "Value": 10}},
                                },
                            },
                        }
                    },
                ),
                id="event-start",
            ),
        ],
    )
    def test_accepted(self, mutation: Mutation) -> None:
        check_journey(journey(mutation), now=NOW)


REFUSED = [
    # (id, mutations, the member path the error names)
    ("name-space", [put("Name", "welcome series")], "WriteJourneyRequest.Name"),
    ("name-151", [put("Name", "n" * 151)], "WriteJourneyRequest.Name"),
    ("name-empty", [put("Name", "")], "WriteJourneyRequest.Name"),
    ("state-paused", [put("State", "PAUSED")], "WriteJourneyRequest.State"),
    ("state-cancelled", [put("State", "CANCELLED")], "WriteJourneyRequest.State"),
    ("state-completed", [put("State", "COMPLETED")], "WriteJourneyRequest.State"),
    ("state-closed", [put("State", "CLOSED")], "WriteJourneyRequest.State"),
    ("start-activity-symbols", [put("StartActivity", "start-here")], "WriteJourneyRequest.StartActivity"),
    ("start-activity-129", [put("StartActivity", "s" * 129)], "WriteJourneyRequest.StartActivity"),
    ("activity-id-symbols", [put("Activities.wel_come", {"Wait": {}})], "WriteJourneyRequest.Activities.wel_come"),
    ("activity-id-101", [put("Activities." + "a" * 101, {"Wait": {}})], "WriteJourneyRequest.Activities.aaaa"),
    ("two-types", [put("Activities.welcome.SMS", {})], "WriteJourneyRequest.Activities.welcome"),
    ("no-type", [put("Activities.empty", {"Description": "todo"})], "WriteJourneyRequest.Activities.empty"),
    ("41-activities", [waits(MAX_ACTIVITIES + 1 - len(JOURNEY["Activities"]))], "WriteJourneyRequest.Activities"),
    (
        "contact-center-without-settings",
        [contact_centers(1)],
        "WriteJourneyRequest.JourneyChannelSettings.ConnectCampaignArn",
    ),
    (
        "4-contact-centers",
        [contact_centers(4), put("JourneyChannelSettings", CONNECT)],
        "WriteJourneyRequest.Activities",
    ),
    (
        "role-arn-with-path",
        [
            put(
                "JourneyChannelSettings",
                {
                    **CONNECT,
                    "ConnectCampaignExecutionRoleArn": CONNECT["ConnectCampaignExecutionRoleArn"].replace(
                        "role/", "role/team/"
                    ),
                },
            )
        ],
        "WriteJourneyRequest.JourneyChannelSettings.ConnectCampaignExecutionRoleArn",
    ),
    (
        "campaign-arn",
        [put("JourneyChannelSettings", {**CONNECT, "ConnectCampaignArn": "campaign-1"})],
        "WriteJourneyRequest.JourneyChannelSettings.ConnectCampaignArn",
    ),
    (
        "wait-both",
        [put("Activities.pause.Wait.WaitTime.WaitUntil", "2026-08-01T00:00:00Z")],
        "WriteJourneyRequest.Activities.pause.Wait.WaitTime",
    ),
    (
        "wait-for-months",
        [put("Activities.pause.Wait.WaitTime.WaitFor", "P1M")],
        "WriteJourneyRequest.Activities.pause.Wait.WaitTime.WaitFor",
    ),
    (
        "wait-until-text",
        [put("Activities.pause.Wait.WaitTime", {"WaitUntil": "next tuesday"})],
        "WriteJourneyRequest.Activities.pause.Wait.WaitTime.WaitUntil",
    ),
    (
        "random-six-branches",
        [put("Activities.abTest.RandomSplit.Branches", [{"Percentage": 10}] * 5 + [{"Percentage": 50}])],
        "WriteJourneyRequest.Activities.abTest.RandomSplit.Branches",
    ),
    (
        "random-fraction",
        [put("Activities.abTest.RandomSplit.Branches", [{"Percentage": 50.5}, {"Percentage": 49.5}])],
        "WriteJourneyRequest.Activities.abTest.RandomSplit.Branches[0].Percentage",
    ),
    ("holdout-101", [put("Activities.control.Holdout.Percentage", 101)], "Activities.control.Holdout.Percentage"),
    ("holdout-negative", [put("Activities.control.Holdout.Percentage", -1)], "Activities.control.Holdout.Percentage"),
    (
        "multi-5-branches",
        [
            put(
                "Activities.tiers.MultiCondition.Branches",
                [{"Condition": {"SegmentCondition": {"SegmentId": "v"}}}] * 5,
            )
        ],
        "WriteJourneyRequest.Activities.tiers.MultiCondition.Branches",
    ),
    (
        "condition-two-members",
        [put("Activities.tiers.MultiCondition.Branches.0.Condition.SegmentDimensions", {})],
        "WriteJourneyRequest.Activities.tiers.MultiCondition.Branches[0].Condition: set exactly one of",
    ),
    (
        "segment-dimensions-no-values",
        [put("Activities.tiers.MultiCondition.Branches.1.Condition.SegmentDimensions.Demographic.Platform.Values", [])],
        "Activities.tiers.MultiCondition.Branches[1].Condition.SegmentDimensions.Demographic.Platform.Values",
    ),
    (
        "event-condition-no-event-type-values",
        [
            put(
                "Activities.opened.ConditionalSplit.Condition.Conditions.0.EventCondition.Dimensions",
                {"EventType": {"Values": []}},
            )
        ],
        "Activities.opened.ConditionalSplit.Condition.Conditions[0].EventCondition.Dimensions.EventType.Values",
    ),
    (
        "event-condition-bad-instant",
        [
            put(
                "Activities.opened.ConditionalSplit.Condition.Conditions.0.EventCondition.Dimensions.Attributes",
                {"at": {"AttributeType": "BEFORE", "Values": ["soon"]}},
            )
        ],
        "EventCondition.Dimensions.Attributes.at.Values",
    ),
    (
        "evaluation-wait-bad",
        [put("Activities.tiers.MultiCondition.EvaluationWaitTime.WaitFor", "1 hour")],
        "WriteJourneyRequest.Activities.tiers.MultiCondition.EvaluationWaitTime.WaitFor",
    ),
    (
        "ttl-not-digits",
        [put("Activities.vipOffer.PUSH.MessageConfig.TimeToLive", "1h")],
        "WriteJourneyRequest.Activities.vipOffer.PUSH.MessageConfig.TimeToLive",
    ),
    (
        "ttl-negative",
        [put("Activities.vipOffer.PUSH.MessageConfig.TimeToLive", "-5")],
        "WriteJourneyRequest.Activities.vipOffer.PUSH.MessageConfig.TimeToLive",
    ),
    (
        "uri-http",
        [put("Activities.hook.CUSTOM.DeliveryUri", "http://hooks.example.com/in")],
        "WriteJourneyRequest.Activities.hook.CUSTOM.DeliveryUri",
    ),
    (
        "uri-lambda-name",
        [put("Activities.hook.CUSTOM.DeliveryUri", "arn:aws:lambda:us-east-1:12345:function:send")],
        "WriteJourneyRequest.Activities.hook.CUSTOM.DeliveryUri",
    ),
    (
        "data-5001",
        [put("Activities.hook.CUSTOM.MessageConfig.Data", "x" * 5_001)],
        "WriteJourneyRequest.Activities.hook.CUSTOM.MessageConfig.Data",
    ),
    (
        "version-without-name",
        [drop("Activities.vipOffer.PUSH.TemplateName")],
        "WriteJourneyRequest.Activities.vipOffer.PUSH.TemplateName",
    ),
    (
        "start-condition-both",
        [put("StartCondition.EventStartCondition", {"EventFilter": {}})],
        "WriteJourneyRequest.StartCondition: set exactly one of",
    ),
    ("start-time-text", [put("Schedule.StartTime", "soon")], "WriteJourneyRequest.Schedule.StartTime"),
    (
        "end-before-start",
        [put("Schedule.EndTime", "2026-07-01T08:00:00+09:00")],
        "WriteJourneyRequest.Schedule.EndTime",
    ),
    ("end-at-start", [put("Schedule.EndTime", "2026-07-01T09:00:00+09:00")], "WriteJourneyRequest.Schedule.EndTime"),
    (
        "541-days",
        [put("Schedule", {"StartTime": "2026-07-01T00:00:00Z", "EndTime": "2027-12-24T00:00:00Z"})],
        "WriteJourneyRequest.Schedule.EndTime: a journey runs at most 540 days",
    ),
    (
        "541-days-from-now",
        [put("Schedule", {"EndTime": "2027-11-25T00:00:00Z"})],
        "WriteJourneyRequest.Schedule.EndTime",
    ),
    ("end-passed", [put("Schedule", {"EndTime": "2026-05-01T00:00:00Z"})], "WriteJourneyRequest.Schedule.EndTime"),
    ("timezone-iana", [put("Schedule.Timezone", "Asia/Tokyo")], "WriteJourneyRequest.Schedule.Timezone"),
    ("timezone-unpadded", [put("Schedule.Timezone", "UTC+9")], "WriteJourneyRequest.Schedule.Timezone"),
    ("refresh-30-minutes", [put("RefreshFrequency", "PT30M")], "WriteJourneyRequest.RefreshFrequency"),
    ("refresh-monthly", [put("RefreshFrequency", "P1M")], "WriteJourneyRequest.RefreshFrequency"),
    ("refresh-on-update-alone", [drop("RefreshFrequency")], "WriteJourneyRequest.RefreshFrequency"),
    ("daily-cap-101", [put("Limits.DailyCap", 101)], "WriteJourneyRequest.Limits.DailyCap"),
    ("total-cap-negative", [put("Limits.TotalCap", -1)], "WriteJourneyRequest.Limits.TotalCap"),
    ("reentry-cap-101", [put("Limits.EndpointReentryCap", 101)], "WriteJourneyRequest.Limits.EndpointReentryCap"),
    ("mps-0", [put("Limits.MessagesPerSecond", 0)], "WriteJourneyRequest.Limits.MessagesPerSecond"),
    ("mps-20001", [put("Limits.MessagesPerSecond", 20_001)], "WriteJourneyRequest.Limits.MessagesPerSecond"),
    ("timeframe-cap-101", [put("Limits.TimeframeCap.Cap", 101)], "WriteJourneyRequest.Limits.TimeframeCap.Cap"),
    ("timeframe-days-31", [put("Limits.TimeframeCap.Days", 31)], "WriteJourneyRequest.Limits.TimeframeCap.Days"),
    (
        "reentry-interval-yearly",
        [put("Limits.EndpointReentryInterval", "P1Y")],
        "WriteJourneyRequest.Limits.EndpointReentryInterval",
    ),
    ("quiet-25h", [put("QuietTime.Start", "25:00")], "WriteJourneyRequest.QuietTime.Start"),
    ("sending-schedule-without-quiet", [drop("QuietTime")], "WriteJourneyRequest.QuietTime"),
    (
        "five-windows",
        [put("OpenHours.EMAIL.MONDAY", [{"StartTime": f"{h:02d}:00", "EndTime": f"{h:02d}:30"} for h in range(8, 13)])],
        "WriteJourneyRequest.OpenHours.EMAIL.MONDAY",
    ),
    ("window-not-hhmm", [put("OpenHours.SMS.SATURDAY.0.StartTime", "10am")], "OpenHours.SMS.SATURDAY[0].StartTime"),
    ("window-backwards", [put("OpenHours.SMS.SATURDAY.0.EndTime", "09:00")], "OpenHours.SMS.SATURDAY[0].EndTime"),
    ("window-empty", [put("OpenHours.SMS.SATURDAY.0.EndTime", "10:00")], "OpenHours.SMS.SATURDAY[0].EndTime"),
    (
        "window-in-quiet-time",
        [put("OpenHours.EMAIL.MONDAY.0.StartTime", "06:00")],
        "WriteJourneyRequest.OpenHours.EMAIL.MONDAY[0]: open hours must lie outside",
    ),
    (
        "window-over-quiet-start",
        [put("OpenHours.SMS.SATURDAY.0.EndTime", "23:00"), put("QuietTime", {"Start": "22:30", "End": "07:00"})],
        "WriteJourneyRequest.OpenHours.SMS.SATURDAY[0]",
    ),
    (
        "21-closed-days",
        [put("ClosedDays.SMS", [JOURNEY["ClosedDays"]["EMAIL"][0]] * 21)],
        "WriteJourneyRequest.ClosedDays.SMS",
    ),
    (
        "closed-day-backwards",
        [put("ClosedDays.EMAIL.0.EndDateTime", "2026-12-30T00:00:00Z")],
        "WriteJourneyRequest.ClosedDays.EMAIL[0].EndDateTime",
    ),
    (
        "closed-day-not-instant",
        [put("ClosedDays.EMAIL.0.StartDateTime", "new year's eve")],
        "WriteJourneyRequest.ClosedDays.EMAIL[0].StartDateTime",
    ),
    (
        "estimation-twice",
        [put("TimezoneEstimationMethods", ["PHONE_NUMBER", "PHONE_NUMBER"])],
        "WriteJourneyRequest.TimezoneEstimationMethods",
    ),
]


class TestCheckJourneyRefuses:
    @pytest.mark.parametrize(("mutations", "member"), [pytest.param(m, p, id=i) for i, m, p in REFUSED])
    def test_refused_naming_the_member(self, mutations: list[Mutation], member: str) -> None:
        message = refused(journey(*mutations))
        assert member in message

    def test_schedule_offset_mismatch_reads_like_pinpoint(self) -> None:
        message = refused(journey(put("Schedule.StartTime", "2026-07-01T00:00:00Z")))
        assert message.startswith(
            "Journey validation failed, Start time 2026-07-01T00:00:00Z doesn't have the same offset as the"
            " journey's schedule offset: UTC+09"
        )
        assert "WriteJourneyRequest.Schedule.StartTime" in message

    def test_schedule_offset_mismatch_from_a_datetime(self) -> None:
        # What botocore sends for any datetime: converted to UTC.
        message = refused(journey(put("Schedule.StartTime", datetime(2026, 7, 1, tzinfo=UTC))))
        assert "Start time 2026-07-01T00:00:00Z doesn't have the same offset" in message

    def test_the_same_instant_in_the_wrong_offset_is_refused(self) -> None:
        message = refused(journey(put("Schedule.StartTime", "2026-07-01T02:00:00+02:00")))
        assert "offset: UTC+09" in message


class TestEventStartCondition:
    @staticmethod
    def event_start(**dimensions: Any) -> Mutation:
        return put(
            "StartCondition",
            {
                "EventStartCondition": {
                    "EventFilter": {
                        "FilterType": "ENDPOINT",
                        "Dimensions": {
                            "EventType": {"DimensionType": "INCLUSIVE", "Values": ["purchase"]},
                            **dimensions,
                        },
                    }
                }
            },
        )

    def test_accepted(self) -> None:
        check_journey(journey(self.event_start()), now=NOW)

    @pytest.mark.parametrize(
        "event_type",
        [
            {"DimensionType": "INCLUSIVE", "Values": ["purchase", "signup"]},
            {"DimensionType": "EXCLUSIVE", "Values": ["purchase"]},
        ],
    )
    def test_starts_on_exactly_one_event_type(self, event_type: dict[str, Any]) -> None:
        message = refused(journey(self.event_start(EventType=event_type)))
        assert "WriteJourneyRequest.StartCondition.EventStartCondition.EventFilter.Dimensions.EventType" in message

    def test_an_event_type_is_required(self) -> None:
        mutation = put("StartCondition.EventStartCondition.EventFilter.Dimensions", {})
        message = refused(journey(self.event_start(), mutation))
        assert "EventFilter.Dimensions.EventType" in message

    def test_filter_rules_apply(self) -> None:
        message = refused(journey(self.event_start(Metrics={"price": {"ComparisonOperator": "ABOUT", "Value": 1}})))
        assert "EventStartCondition.EventFilter.Dimensions.Metrics.price.ComparisonOperator" in message

    def test_local_time_is_refused_for_event_journeys(self) -> None:
        message = refused(journey(self.event_start(), put("LocalTime", True)))
        assert "WriteJourneyRequest.LocalTime" in message

    def test_local_time_is_fine_for_segment_journeys(self) -> None:
        check_journey(journey(put("LocalTime", True)), now=NOW)


class TestReviewOfAValidJourney:
    def test_no_errors_and_no_warnings(self) -> None:
        assert review(journey(), FACTS) == ([], [])

    def test_a_datetime_schedule_reviews_the_same(self) -> None:
        tokyo = timezone(timedelta(hours=9))
        schedule = {
            "StartTime": datetime(2026, 7, 1, 9, tzinfo=tokyo),
            "EndTime": datetime(2026, 12, 31, 9, tzinfo=tokyo),
        }
        assert review(journey(put("Schedule", {**schedule, "Timezone": "UTC+09"})), FACTS) == ([], [])


def errors(*mutations: Mutation, facts: ProjectFacts = FACTS) -> list[tuple[str | None, str]]:
    return codes(review(journey(*mutations), facts)[0])


def warnings(*mutations: Mutation, facts: ProjectFacts = FACTS) -> list[tuple[str | None, str]]:
    return codes(review(journey(*mutations), facts)[1])


class TestReviewStart:
    def test_no_start_activity(self) -> None:
        assert errors(drop("StartActivity")) == [(None, "NO_START_ACTIVITY")]

    def test_start_activity_that_is_not_an_activity(self) -> None:
        found = review(journey(put("StartActivity", "hello")), FACTS)[0]
        assert codes(found) == [("hello", "NO_START_ACTIVITY")]
        assert "'hello'" in found[0].message

    def test_no_start_condition(self) -> None:
        assert errors(drop("StartCondition")) == [(None, "NO_START_CONDITION")]

    def test_start_segment_missing(self) -> None:
        found = review(journey(put("StartCondition.SegmentStartCondition.SegmentId", "gone")), FACTS)[0]
        assert codes(found) == [(None, "MISSING_SEGMENT")]
        assert "'gone'" in found[0].message

    def test_event_start_segment_missing(self) -> None:
        start = {
            "EventStartCondition": {"SegmentId": "gone", "EventFilter": {"FilterType": "ENDPOINT", "Dimensions": {}}}
        }
        assert errors(put("StartCondition", start)) == [(None, "MISSING_SEGMENT")]

    def test_event_start_without_segment_is_fine(self) -> None:
        start = {"EventStartCondition": {"EventFilter": {"FilterType": "ENDPOINT", "Dimensions": {}}}}
        assert errors(put("StartCondition", start)) == []

    def test_too_many_activities(self) -> None:
        found = errors(waits(MAX_ACTIVITIES + 1 - len(JOURNEY["Activities"])))
        assert (None, "TOO_MANY_ACTIVITIES") in found

    def test_schedule_offset_mismatch_in_a_stored_definition(self) -> None:
        found = review(journey(put("Schedule.StartTime", "2026-07-01T00:00:00Z")), FACTS)[0]
        assert codes(found) == [(None, "SCHEDULE_OFFSET_MISMATCH")]
        assert "doesn't have the same offset as the journey's schedule offset: UTC+09" in found[0].message


class TestReviewGraph:
    def test_dangling_next_activity(self) -> None:
        found = review(journey(put("Activities.nudge.SMS.NextActivity", "ghost")), FACTS)[0]
        assert codes(found) == [("nudge", "MISSING_NEXT_ACTIVITY")]
        assert "'ghost'" in found[0].message and "'nudge'" in found[0].message

    def test_dangling_split_path(self) -> None:
        found = review(journey(put("Activities.tiers.MultiCondition.DefaultActivity", "ghost")), FACTS)[0]
        assert codes(found) == [("tiers", "MISSING_NEXT_ACTIVITY")]
        assert "Else" in found[0].message

    def test_unreachable_activity(self) -> None:
        orphan = {"SMS": {"TemplateName": "nudge"}}
        assert errors(put("Activities.orphan", orphan)) == [("orphan", "UNREACHABLE_ACTIVITY")]

    def test_a_branch_cut_off_makes_its_activities_unreachable(self) -> None:
        assert errors(put("Activities.opened.ConditionalSplit.FalseActivity", "tiers")) == [
            ("nudge", "UNREACHABLE_ACTIVITY")
        ]

    def test_cycle_through_a_split(self) -> None:
        # No: back to the wait before the split, so participants would loop until they open.
        found = errors(put("Activities.opened.ConditionalSplit.FalseActivity", "pause"))
        assert ("pause", "CYCLE") in found
        assert ("nudge", "UNREACHABLE_ACTIVITY") in found

    def test_cycle_among_unreachable_activities(self) -> None:
        loop = [
            put("Activities.a", {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "b"}}),
            put("Activities.b", {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "a"}}),
        ]
        assert errors(*loop) == [("a", "CYCLE"), ("a", "UNREACHABLE_ACTIVITY"), ("b", "UNREACHABLE_ACTIVITY")]

    def test_paths_that_meet_again_are_no_cycle(self) -> None:
        # vipOffer is reached from the tiers split and again after the holdout.
        assert errors() == []

    def test_self_loop(self) -> None:
        assert ("pause", "CYCLE") in errors(put("Activities.pause.Wait.NextActivity", "pause"))


class TestReviewEventConditions:
    CONDITION = "Activities.opened.ConditionalSplit.Condition.Conditions.0.EventCondition.MessageActivity"

    def test_message_activity_after_the_split(self) -> None:
        found = review(journey(put(self.CONDITION, "nudge")), FACTS)[0]
        assert codes(found) == [("opened", "MESSAGE_ACTIVITY_NOT_BEFORE_SPLIT")]
        assert "'nudge'" in found[0].message

    def test_message_activity_on_only_one_path_before_the_split(self) -> None:
        final = {
            "ConditionalSplit": {
                "Condition": {
                    "Conditions": [{"EventCondition": {"Dimensions": OPENED, "MessageActivity": "vipOffer"}}]
                },
                "EvaluationWaitTime": {"WaitFor": "P1D"},
            }
        }
        mutations = [
            put("Activities.final", final),
            put("Activities.vipOffer.PUSH.NextActivity", "final"),
            put("Activities.hook.CUSTOM.NextActivity", "final"),
        ]
        assert errors(*mutations) == [("final", "MESSAGE_ACTIVITY_NOT_BEFORE_SPLIT")]
        # Through vipOffer only: every participant has had the push.
        assert errors(*mutations[:2]) == []

    @pytest.mark.parametrize("source", ["pause", "ghost", None])
    def test_not_a_message_activity(self, source: str | None) -> None:
        assert errors(put(self.CONDITION, source)) == [("opened", "UNKNOWN_MESSAGE_ACTIVITY")]

    def test_segment_condition_segment_missing(self) -> None:
        path = "Activities.tiers.MultiCondition.Branches.0.Condition.SegmentCondition.SegmentId"
        assert errors(put(path, "gone")) == [("tiers", "MISSING_SEGMENT")]


class TestReviewMessages:
    def test_missing_template(self) -> None:
        facts = ProjectFacts(
            FACTS.templates - {("SMS", "nudge")}, FACTS.template_versions, FACTS.channels, FACTS.segments, NOW
        )
        found = review(journey(), facts)[0]
        assert codes(found) == [("nudge", "MISSING_TEMPLATE")]
        assert "'nudge'" in found[0].message

    def test_template_of_another_type_does_not_count(self) -> None:
        assert errors(put("Activities.nudge.SMS.TemplateName", "welcome")) == [("nudge", "MISSING_TEMPLATE")]

    def test_missing_template_version(self) -> None:
        found = review(journey(put("Activities.vipOffer.PUSH.TemplateVersion", "3")), FACTS)[0]
        assert codes(found) == [("vipOffer", "MISSING_TEMPLATE")]
        assert "'3'" in found[0].message

    def test_custom_templates_are_push_templates(self) -> None:
        assert errors(put("Activities.hook.CUSTOM.TemplateName", "offer")) == []
        assert errors(put("Activities.hook.CUSTOM.TemplateName", "welcome")) == [("hook", "MISSING_TEMPLATE")]

    def test_nothing_to_send(self) -> None:
        assert errors(drop("Activities.nudge.SMS.TemplateName")) == [("nudge", "NO_CONTENT")]
        assert errors(drop("Activities.hook.CUSTOM.DeliveryUri")) == [("hook", "NO_CONTENT")]

    def test_channels_not_enabled(self) -> None:
        facts = ProjectFacts(FACTS.templates, FACTS.template_versions, frozenset(), FACTS.segments, NOW)
        # CUSTOM needs no channel of the project's.
        assert codes(review(journey(), facts)[0]) == [
            ("nudge", "CHANNEL_NOT_ENABLED"),
            ("vipOffer", "CHANNEL_NOT_ENABLED"),
            ("welcome", "CHANNEL_NOT_ENABLED"),
        ]

    @pytest.mark.parametrize(
        "channel", ["GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU", "ADM"]
    )
    def test_any_push_channel_serves_push(self, channel: str) -> None:
        facts = ProjectFacts(
            FACTS.templates, FACTS.template_versions, frozenset({"EMAIL", "SMS", channel}), FACTS.segments, NOW
        )
        assert review(journey(), facts)[0] == []

    def test_a_lambda_function_is_a_destination(self) -> None:
        arn = "arn:aws:lambda:us-east-1:123456789012:function:send"
        assert review(journey(put("Activities.hook.CUSTOM.DeliveryUri", arn)), FACTS)[0] == []

    def test_a_function_lambda_refused_blocks_publishing(self) -> None:
        arn = "arn:aws:lambda:us-east-1:123456789012:function:send"
        facts = dataclasses.replace(FACTS, functions={arn: "Lambda refused to invoke send: ResourceNotFoundException"})
        found = review(journey(put("Activities.hook.CUSTOM.DeliveryUri", arn)), facts)[0]
        assert codes(found) == [("hook", "FUNCTION_NOT_INVOCABLE")]
        assert "ResourceNotFoundException" in found[0].message

    def test_contact_center_is_not_supported(self) -> None:
        found = review(journey(contact_centers(1), put("Activities.nudge.SMS.NextActivity", "call0")), FACTS)[0]
        assert codes(found) == [("call0", "CONTACT_CENTER_UNSUPPORTED")]
        assert "Amazon Connect" in found[0].message


class TestReviewWaits:
    def test_wait_until_after_the_end(self) -> None:
        until = put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2027-01-01T00:00:00Z"})
        assert errors(until) == [("pause", "WAIT_PAST_END")]

    def test_wait_until_the_end_itself(self) -> None:
        until = put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2026-12-31T00:00:00Z"})
        assert errors(until) == [("pause", "WAIT_PAST_END")]

    def test_wait_until_before_the_end(self) -> None:
        assert errors(put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2026-12-30T23:59:00Z"})) == []

    def test_wait_until_passed(self) -> None:
        assert errors(put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2026-05-31T00:00:00Z"})) == [
            ("pause", "WAIT_IN_PAST")
        ]

    def test_evaluation_time_is_a_wait_too(self) -> None:
        until = put("Activities.tiers.MultiCondition.EvaluationWaitTime", {"WaitUntil": "2027-02-01T00:00:00Z"})
        assert errors(until) == [("tiers", "WAIT_PAST_END")]

    def test_no_end_time_bounds_no_wait(self) -> None:
        until = put("Activities.pause.Wait.WaitTime", {"WaitUntil": "2027-06-01T00:00:00Z"})
        assert errors(until, drop("Schedule.EndTime")) == []


class TestReviewWarnings:
    def test_no_end_time(self) -> None:
        assert warnings(drop("Schedule.EndTime")) == [(None, "NO_END_TIME")]

    def test_no_quiet_time(self) -> None:
        assert warnings(drop("QuietTime"), drop("SendingSchedule"), drop("OpenHours"), drop("ClosedDays")) == [
            (None, "NO_QUIET_TIME")
        ]

    def test_sending_schedule_off(self) -> None:
        assert warnings(put("SendingSchedule", False)) == [(None, "SENDING_SCHEDULE_OFF")]

    def test_empty_path(self) -> None:
        found = review(journey(drop("Activities.opened.ConditionalSplit.FalseActivity")), FACTS)
        assert codes(found[1]) == [("opened", "EMPTY_PATH")]
        assert "False" in found[1][0].message
        assert codes(found[0]) == [("nudge", "UNREACHABLE_ACTIVITY")]

    def test_empty_else_and_random_branch(self) -> None:
        found = warnings(
            drop("Activities.tiers.MultiCondition.DefaultActivity"),
            drop("Activities.abTest.RandomSplit.Branches.1.NextActivity"),
        )
        assert found == [("abTest", "EMPTY_PATH"), ("tiers", "EMPTY_PATH")]

    def test_split_right_after_the_message(self) -> None:
        found = review(journey(put("Activities.welcome.EMAIL.NextActivity", "opened")), FACTS)
        assert codes(found[1]) == [("opened", "SPLIT_WITHOUT_WAIT_AFTER_MESSAGE")]
        assert "'welcome'" in found[1][0].message
        assert codes(found[0]) == [("pause", "UNREACHABLE_ACTIVITY")]

    def test_split_with_an_evaluation_wait_is_fine(self) -> None:
        mutations = (
            put("Activities.welcome.EMAIL.NextActivity", "opened"),
            put("Activities.opened.ConditionalSplit.EvaluationWaitTime", {"WaitFor": "P1D"}),
        )
        assert warnings(*mutations) == []

    def test_a_holdout_between_is_no_wait(self) -> None:
        mutations = (
            put("Activities.welcome.EMAIL.NextActivity", "gate"),
            put("Activities.gate", {"Holdout": {"Percentage": 5, "NextActivity": "opened"}}),
        )
        assert warnings(*mutations) == [("opened", "SPLIT_WITHOUT_WAIT_AFTER_MESSAGE")]


class TestReviewOrder:
    def test_journey_first_then_by_activity_then_code(self) -> None:
        facts = ProjectFacts(frozenset(), frozenset(), frozenset(), frozenset(), NOW)
        found = review(journey(drop("StartCondition"), put("Activities.pause.Wait.NextActivity", "ghost")), facts)[0]
        assert codes(found) == [
            (None, "NO_START_CONDITION"),
            ("abTest", "UNREACHABLE_ACTIVITY"),
            ("control", "UNREACHABLE_ACTIVITY"),
            ("hook", "UNREACHABLE_ACTIVITY"),
            ("nudge", "CHANNEL_NOT_ENABLED"),
            ("nudge", "MISSING_TEMPLATE"),
            ("nudge", "UNREACHABLE_ACTIVITY"),
            ("opened", "UNREACHABLE_ACTIVITY"),
            ("pause", "MISSING_NEXT_ACTIVITY"),
            ("tiers", "MISSING_SEGMENT"),
            ("tiers", "UNREACHABLE_ACTIVITY"),
            ("vipOffer", "CHANNEL_NOT_ENABLED"),
            ("vipOffer", "MISSING_TEMPLATE"),
            ("vipOffer", "UNREACHABLE_ACTIVITY"),
            ("welcome", "CHANNEL_NOT_ENABLED"),
            ("welcome", "MISSING_TEMPLATE"),
        ]
        assert all(f"'{f.activity}'" in f.message for f in found if f.activity)
        assert review(journey(drop("StartCondition")), facts) == review(journey(drop("StartCondition")), facts)
