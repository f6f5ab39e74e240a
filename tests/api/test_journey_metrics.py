"""Journey execution metrics and journey KPIs through boto3.

The journey engine is not what these tests are about: the rows it writes (the journey, its entry
runs, one row per participant entry, one per step taken) and the events of journey messages are
written here the way the engine and the delivery layer write them, then read back through the
gateway as a user would.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules import kpis
from rules.engagement import delivery_events
from tests.api.test_analytics import add_event, error_of, values
from tests.stack import Stack

DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _yes_if_opened(activity: str) -> dict[str, Any]:
    event = {"Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}}}
    return {"Conditions": [{"EventCondition": {**event, "MessageActivity": activity}}], "Operator": "ANY"}


def _in_segment(segment_id: str) -> dict[str, Any]:
    return {"SegmentCondition": {"SegmentId": segment_id}}


# A WriteJourneyRequest as CreateJourney accepts it: welcome mail, a day's wait, a yes/no split on
# the welcome mail's opens, then a two-branch multivariate split, a three-way random split and a
# holdout before the last mails.
DEFINITION: dict[str, Any] = {
    "Name": "onboarding",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "a" * 32}},
    "StartActivity": "welcome",
    "Activities": {
        "welcome": {"EMAIL": {"TemplateName": "welcome", "NextActivity": "pause"}},
        "pause": {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "engaged"}},
        "engaged": {
            "ConditionalSplit": {
                "Condition": _yes_if_opened("welcome"),
                "EvaluationWaitTime": {"WaitFor": "PT1H"},
                "TrueActivity": "plan",
                "FalseActivity": "lottery",
            }
        },
        "plan": {
            "MultiCondition": {
                "Branches": [
                    {"Condition": _in_segment("b" * 32), "NextActivity": "gold"},
                    {"Condition": _in_segment("c" * 32), "NextActivity": "silver"},
                ],
                "DefaultActivity": "silver",
            }
        },
        "lottery": {
            "RandomSplit": {
                "Branches": [
                    {"Percentage": 50, "NextActivity": "control"},
                    {"Percentage": 30, "NextActivity": "silver"},
                    {"Percentage": 20},
                ]
            }
        },
        "control": {"Holdout": {"Percentage": 10, "NextActivity": "silver"}},
        "gold": {"EMAIL": {"TemplateName": "gold"}},
        "silver": {"EMAIL": {"TemplateName": "silver"}},
    },
}


@dataclass(frozen=True)
class Entry:
    participant: str
    entry_key: str
    run_id: str | None
    test_run_id: str | None


class Journey:
    """One journey and the rows the engine writes for it."""

    def __init__(self, stack: Stack, app_id: str) -> None:
        self.stack, self.app_id, self.id = stack, app_id, uuid.uuid4().hex
        self.entries = 0
        stack.sql(
            "INSERT INTO journeys (app_id, id, state, definition, published_at)"
            " VALUES ($1, $2, 'ACTIVE', $3::jsonb, now())",
            app_id,
            self.id,
            json.dumps(DEFINITION),
        )

    def run(self, number: int, **metrics: int) -> str:
        run_id = uuid.uuid4().hex
        self.stack.sql(
            "INSERT INTO journey_runs (app_id, journey_id, run_id, run_number, status, metrics)"
            " VALUES ($1, $2, $3, $4, 'COMPLETED', $5::jsonb)",
            self.app_id,
            self.id,
            run_id,
            number,
            json.dumps(metrics),
        )
        return run_id

    def test_run(self) -> str:
        test_run_id = uuid.uuid4().hex
        self.stack.sql(
            "INSERT INTO journey_test_runs (app_id, journey_id, id) VALUES ($1, $2, $3)",
            self.app_id,
            self.id,
            test_run_id,
        )
        return test_run_id

    def enter(self, participant: str, run_id: str | None, status: str = "ACTIVE", test_run: str | None = None) -> Entry:
        self.entries += 1
        key = f"test-{test_run}" if test_run else f"run-{self.entries}"
        self.stack.sql(
            "INSERT INTO journey_participants (app_id, journey_id, participant, entry_key, entry_number, run_id,"
            " test_run_id, workflow_id, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            self.app_id,
            self.id,
            participant,
            key,
            0 if test_run else self.entries,
            run_id,
            test_run,
            f"journey-{self.id}-{participant}-{key}",
            status,
        )
        return Entry(participant, key, run_id, test_run)

    def step(self, entry: Entry, activity: str, outcome: str) -> None:
        self.stack.sql(
            "INSERT INTO journey_steps (app_id, journey_id, participant, entry_key, activity_id, run_id, test_run_id,"
            " outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            self.app_id,
            self.id,
            entry.participant,
            entry.entry_key,
            activity,
            entry.run_id,
            entry.test_run_id,
            outcome,
        )

    def mail(self, entry: Entry, activity: str, status: str = "SUCCESSFUL") -> str:
        """The events of one email the activity sent; its message id."""
        message_id = uuid.uuid4().hex if status == "SUCCESSFUL" else ""
        for event_type in delivery_events("EMAIL", status):
            self._event(event_type, entry, activity, message_id, DAY, delivery_status=status, channel_type="EMAIL")
        return message_id

    def engage(self, event_type: str, entry: Entry, activity: str, message_id: str, minutes: int) -> None:
        """An open, click, bounce or unsubscribe `minutes` after the mail went out."""
        self._event(event_type, entry, activity, message_id, DAY + timedelta(minutes=minutes))

    def _event(self, event_type: str, entry: Entry, activity: str, message_id: str, at: datetime, **extra: str) -> None:
        ids = {"journey_id": self.id, "journey_activity_id": activity, "source": "journey", "source_id": self.id}
        if entry.run_id:
            ids["journey_run_id"] = entry.run_id
        if entry.test_run_id:
            ids["journey_test_run_id"] = entry.test_run_id
        if message_id:
            ids["message_id"] = message_id
        add_event(self.stack, self.app_id, event_type, entry.participant, at, **ids, **extra)


@pytest.fixture
def journey(stack: Stack, app_id: str) -> Journey:
    return Journey(stack, app_id)


def execution(pinpoint: Any, j: Journey, **extra: Any) -> dict[str, Any]:
    resp = pinpoint.get_journey_execution_metrics(ApplicationId=j.app_id, JourneyId=j.id, **extra)
    return resp["JourneyExecutionMetricsResponse"]  # type: ignore[no-any-return]


def activity(pinpoint: Any, j: Journey, activity_id: str, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    ids = {"ApplicationId": j.app_id, "JourneyId": j.id, "JourneyActivityId": activity_id, **extra}
    if run_id is None:
        return pinpoint.get_journey_execution_activity_metrics(**ids)[  # type: ignore[no-any-return]
            "JourneyExecutionActivityMetricsResponse"
        ]
    return pinpoint.get_journey_run_execution_activity_metrics(RunId=run_id, **ids)[  # type: ignore[no-any-return]
        "JourneyRunExecutionActivityMetricsResponse"
    ]


def kpi(pinpoint: Any, j: Journey, name: str, **extra: Any) -> list[tuple[str | None, str]]:
    resp = pinpoint.get_journey_date_range_kpi(ApplicationId=j.app_id, JourneyId=j.id, KpiName=name, **extra)
    return values(resp, "JourneyDateRangeKpiResponse")


# -- GetJourneyExecutionMetrics ---------------------------------------------------------------


class TestJourneyExecutionMetrics:
    def test_participants_by_what_became_of_them(self, pinpoint: Any, journey: Journey) -> None:
        run1 = journey.run(1, ENDPOINT_PRODUCED=6, REENTRY_CAP_EXCEEDED=2)
        run2 = journey.run(2, ENDPOINT_PRODUCED=3, REENTRY_CAP_EXCEEDED=1, ACTIVE_ENDPOINT_REJECTED=1)
        for participant, run, status in [
            ("e1", run1, "ACTIVE"),
            ("e2", run1, "LEFT"),
            ("e3", run1, "LEFT"),
            ("e4", run1, "CANCELLED"),
            ("e5", run2, "REMOVED"),
            ("e2", run2, "ACTIVE"),  # entered again
        ]:
            journey.enter(participant, run, status)
        # A test participant goes through the live journey without being counted.
        journey.enter("e9", run2, "ACTIVE", test_run=journey.test_run())

        before = datetime.now(UTC).replace(microsecond=0)
        resp = execution(pinpoint, journey)
        assert resp["Metrics"] == {
            "ENDPOINT_ENTERED": "6",
            "ENDPOINT_ACTIVE": "2",
            "ENDPOINT_LEFT": "2",
            "CANCELLED": "1",
            "REENTRY_CAP_EXCEEDED": "3",
            "ACTIVE_ENDPOINT_REJECTED": "1",
        }
        assert (resp["ApplicationId"], resp["JourneyId"]) == (journey.app_id, journey.id)
        assert ISO_MS.fullmatch(resp["LastEvaluatedTime"])
        assert datetime.fromisoformat(resp["LastEvaluatedTime"]) >= before  # evaluated when asked

    def test_a_journey_nobody_entered_shows_every_count_at_zero(self, pinpoint: Any, journey: Journey) -> None:
        metrics = execution(pinpoint, journey)["Metrics"]
        assert metrics == dict.fromkeys(
            [
                "ENDPOINT_ENTERED",
                "ENDPOINT_ACTIVE",
                "ENDPOINT_LEFT",
                "CANCELLED",
                "REENTRY_CAP_EXCEEDED",
                "ACTIVE_ENDPOINT_REJECTED",
            ],
            "0",
        )

    def test_paging_parameters_are_accepted_and_the_answer_is_one_page(self, pinpoint: Any, journey: Journey) -> None:
        journey.enter("e1", journey.run(1))
        resp = execution(pinpoint, journey, PageSize="1", NextToken="anything")
        assert resp["Metrics"]["ENDPOINT_ENTERED"] == "1"
        assert "NextToken" not in resp

    def test_an_unknown_journey_is_not_found(self, pinpoint: Any, app_id: str) -> None:
        code, message = error_of(pinpoint.get_journey_execution_metrics, ApplicationId=app_id, JourneyId="f" * 32)
        assert (code, message) == ("NotFoundException", "Resource not found")


# -- GetJourneyRunExecutionMetrics ------------------------------------------------------------


class TestJourneyRunExecutionMetrics:
    def test_the_runs_filter_counts_and_entries(self, pinpoint: Any, journey: Journey) -> None:
        run1 = journey.run(1, ENDPOINT_PRODUCED=5, ENDPOINT_OPT_OUT=1, REENTRY_CAP_EXCEEDED=2)
        run2 = journey.run(2, ENDPOINT_PRODUCED=1)
        journey.enter("e1", run1, "LEFT")
        journey.enter("e2", run1)
        journey.enter("e3", run2)
        journey.enter("e9", run1, test_run=journey.test_run())

        resp = pinpoint.get_journey_run_execution_metrics(
            ApplicationId=journey.app_id, JourneyId=journey.id, RunId=run1
        )
        resp = resp["JourneyRunExecutionMetricsResponse"]
        assert resp["Metrics"] == {
            "ENDPOINT_PRODUCED": "5",
            "ENDPOINT_OPT_OUT": "1",
            "REENTRY_CAP_EXCEEDED": "2",
            "ENDPOINT_ENTERED": "2",
        }
        assert (resp["ApplicationId"], resp["JourneyId"], resp["RunId"]) == (journey.app_id, journey.id, run1)
        assert ISO_MS.fullmatch(resp["LastEvaluatedTime"])

    def test_a_run_nobody_entered(self, pinpoint: Any, journey: Journey) -> None:
        run = journey.run(1)
        resp = pinpoint.get_journey_run_execution_metrics(
            ApplicationId=journey.app_id, JourneyId=journey.id, RunId=run, PageSize="5"
        )
        assert resp["JourneyRunExecutionMetricsResponse"]["Metrics"] == {"ENDPOINT_ENTERED": "0"}

    def test_an_unknown_run_is_not_found(self, pinpoint: Any, journey: Journey) -> None:
        code, message = error_of(
            pinpoint.get_journey_run_execution_metrics, ApplicationId=journey.app_id, JourneyId=journey.id, RunId="r0"
        )
        assert (code, message) == ("NotFoundException", "Resource not found")


# -- GetJourneyExecutionActivityMetrics and GetJourneyRunExecutionActivityMetrics ---------------


@pytest.fixture
def walked(journey: Journey) -> tuple[Journey, str, str]:
    """Three participants over two runs, and a test participant, through the first activities
    (journey, run 1, run 2)."""
    run1, run2 = journey.run(1), journey.run(2)
    e1, e2, e3 = journey.enter("e1", run1), journey.enter("e2", run1), journey.enter("e3", run2)
    tester = journey.enter("e1", None, test_run=journey.test_run())
    for entry in (e1, e2, tester):
        journey.step(entry, "welcome", "SUCCESSFUL")
        journey.step(entry, "pause", "ARRIVED")
    journey.step(e3, "welcome", "QUIET_TIME")
    journey.step(e3, "pause", "ARRIVED")
    journey.step(e1, "engaged", "True")
    journey.step(e2, "engaged", "False")
    journey.step(tester, "engaged", "False")
    journey.step(e2, "lottery", "Branch_3")
    return journey, run1, run2


class TestActivityMetrics:
    def test_a_message_activity_counts_outcomes(self, pinpoint: Any, walked: tuple[Journey, str, str]) -> None:
        journey = walked[0]
        resp = activity(pinpoint, journey, "welcome")
        assert resp["ActivityType"] == "MESSAGE"
        assert resp["Metrics"] == {"SUCCESSFUL": "2", "QUIET_TIME": "1"}  # the test participant's mail not counted
        assert (resp["ApplicationId"], resp["JourneyId"], resp["JourneyActivityId"]) == (
            journey.app_id,
            journey.id,
            "welcome",
        )
        assert ISO_MS.fullmatch(resp["LastEvaluatedTime"])
        assert "RunId" not in resp

    def test_a_wait_counts_arrivals(self, pinpoint: Any, walked: tuple[Journey, str, str]) -> None:
        resp = activity(pinpoint, walked[0], "pause")
        assert (resp["ActivityType"], resp["Metrics"]) == ("WAIT", {"ARRIVED": "3"})

    @pytest.mark.parametrize(
        ("activity_id", "kind", "metrics"),
        [
            ("engaged", "CONDITIONAL_SPLIT", {"True": "1", "False": "1"}),
            ("plan", "MULTI_CONDITIONAL_SPLIT", {"Branch_1": "0", "Branch_2": "0", "Else": "0"}),
            ("lottery", "RANDOM_SPLIT", {"Branch_1": "0", "Branch_2": "0", "Branch_3": "1"}),
            ("control", "HOLDOUT", {"HOLDOUT": "0", "PASSED": "0"}),
        ],
    )
    def test_every_path_of_a_split_shows_even_untaken(
        self,
        pinpoint: Any,
        walked: tuple[Journey, str, str],
        activity_id: str,
        kind: str,
        metrics: dict[str, str],
    ) -> None:
        resp = activity(pinpoint, walked[0], activity_id)
        assert (resp["ActivityType"], resp["Metrics"]) == (kind, metrics)

    def test_a_run_counts_only_its_own_entries(self, pinpoint: Any, walked: tuple[Journey, str, str]) -> None:
        journey, run1, run2 = walked
        first = activity(pinpoint, journey, "welcome", run1, PageSize="1", NextToken="x")
        assert (first["RunId"], first["ActivityType"], first["Metrics"]) == (run1, "MESSAGE", {"SUCCESSFUL": "2"})
        assert "NextToken" not in first
        assert activity(pinpoint, journey, "welcome", run2)["Metrics"] == {"QUIET_TIME": "1"}
        assert activity(pinpoint, journey, "engaged", run2)["Metrics"] == {"True": "0", "False": "0"}

    def test_an_activity_the_journey_does_not_have_is_not_found(self, pinpoint: Any, journey: Journey) -> None:
        ids = {"ApplicationId": journey.app_id, "JourneyId": journey.id, "JourneyActivityId": "farewell"}
        for call, extra in (
            (pinpoint.get_journey_execution_activity_metrics, {}),
            (pinpoint.get_journey_run_execution_activity_metrics, {"RunId": journey.run(1)}),
        ):
            code, message = error_of(call, **ids, **extra)
            assert (code, message) == ("NotFoundException", "Resource not found")

    def test_an_unknown_run_is_not_found(self, pinpoint: Any, journey: Journey) -> None:
        code, message = error_of(
            pinpoint.get_journey_run_execution_activity_metrics,
            ApplicationId=journey.app_id,
            JourneyId=journey.id,
            JourneyActivityId="welcome",
            RunId="r0",
        )
        assert (code, message) == ("NotFoundException", "Resource not found")


# -- GetJourneyDateRangeKpi -------------------------------------------------------------------


@pytest.fixture
def mailed(stack: Stack, app_id: str, journey: Journey) -> Journey:
    """The welcome activity mails e1 and e2 and is refused for e3; e1 opens twice in one hour and
    once in the next, and unsubscribes twice; e2 clicks. The gold activity mails e1, which then
    hard-bounces. A test participant's mail and another journey's mail add noise."""
    run = journey.run(1)
    e1, e2, e3 = (journey.enter(p, run) for p in ("e1", "e2", "e3"))
    first, second = journey.mail(e1, "welcome"), journey.mail(e2, "welcome")
    journey.mail(e3, "welcome", status="PERMANENT_FAILURE")
    for minutes in (5, 40, 70):
        journey.engage("_email.open", e1, "welcome", first, minutes)
    for minutes in (80, 81):
        journey.engage("_email.unsubscribe", e1, "welcome", first, minutes)
    journey.engage("_email.click", e2, "welcome", second, 6)
    gold = journey.mail(e1, "gold")
    journey.engage("_email.hardbounce", e1, "gold", gold, 1)

    tester = journey.enter("e4", None, test_run=journey.test_run())
    journey.engage("_email.open", tester, "welcome", journey.mail(tester, "welcome"), 3)
    other = Journey(stack, app_id)
    other.mail(other.enter("e1", other.run(1)), "welcome")
    return journey


class TestJourneyKpis:
    def test_every_journey_name_pinpoint_defines_is_served_or_refused_with_a_reason(self) -> None:
        x = "sent delivered opened clicked hardbounced softbounced complained rejected unsubscribed".split()
        names = {f"journey-emails-{m}" for m in x} | {f"emails-{m}-grouped-by-journey-activity" for m in x}
        assert set(kpis.JOURNEY_KPIS) | set(kpis.JOURNEY_UNAVAILABLE) == names
        assert not set(kpis.JOURNEY_KPIS) & set(kpis.JOURNEY_UNAVAILABLE)

    @pytest.mark.parametrize(
        ("x", "whole", "by_activity"),
        [
            ("sent", "4.0", {"welcome": "3.0", "gold": "1.0"}),
            ("delivered", "2.0", {"welcome": "2.0", "gold": "0.0"}),
            ("opened", "2.0", {"welcome": "2.0", "gold": "0.0"}),
            ("clicked", "1.0", {"welcome": "1.0", "gold": "0.0"}),
            ("hardbounced", "1.0", {"welcome": "0.0", "gold": "1.0"}),
            ("rejected", "1.0", {"welcome": "1.0", "gold": "0.0"}),
            ("unsubscribed", "1.0", {"welcome": "1.0", "gold": "0.0"}),
        ],
    )
    def test_whole_journey_and_per_activity(
        self, pinpoint: Any, mailed: Journey, x: str, whole: str, by_activity: dict[str, str]
    ) -> None:
        assert kpi(pinpoint, mailed, f"journey-emails-{x}") == [(None, whole)]
        assert dict(kpi(pinpoint, mailed, f"emails-{x}-grouped-by-journey-activity")) == by_activity

    def test_rows_name_the_metric_and_the_activity(self, pinpoint: Any, mailed: Journey) -> None:
        resp = pinpoint.get_journey_date_range_kpi(
            ApplicationId=mailed.app_id, JourneyId=mailed.id, KpiName="emails-opened-grouped-by-journey-activity"
        )["JourneyDateRangeKpiResponse"]
        assert (resp["ApplicationId"], resp["JourneyId"], resp["KpiName"]) == (
            mailed.app_id,
            mailed.id,
            "emails-opened-grouped-by-journey-activity",
        )
        assert resp["EndTime"] - resp["StartTime"] == timedelta(days=31)
        assert resp["KpiResult"]["Rows"][0] == {
            "GroupedBys": [{"Key": "JourneyActivityId", "Type": "String", "Value": "gold"}],
            "Values": [{"Key": "EmailsOpened", "Type": "Double", "Value": "0.0"}],
        }
        whole = pinpoint.get_journey_date_range_kpi(
            ApplicationId=mailed.app_id, JourneyId=mailed.id, KpiName="journey-emails-opened"
        )["JourneyDateRangeKpiResponse"]
        assert whole["KpiResult"]["Rows"] == [
            {"Values": [{"Key": "JourneyEmailsOpened", "Type": "Double", "Value": "2.0"}]}
        ]
        assert "NextToken" not in whole

    def test_a_journey_that_sent_nothing_has_no_rows(self, pinpoint: Any, journey: Journey) -> None:
        assert kpi(pinpoint, journey, "journey-emails-sent") == []
        assert kpi(pinpoint, journey, "emails-opened-grouped-by-journey-activity") == []

    def test_the_range_bounds_what_counts(self, pinpoint: Any, mailed: Journey) -> None:
        later = DAY + timedelta(days=1)
        assert kpi(pinpoint, mailed, "journey-emails-sent", StartTime=later, EndTime=later + timedelta(hours=1)) == []

    @pytest.mark.parametrize(
        ("name", "says"),
        [
            ("journey-emails-complained", "journey-emails-complained is not available: .*complaint"),
            ("emails-softbounced-grouped-by-journey-activity", "not available: .*soft-bounce"),
            ("email-open-rate", "'email-open-rate' is not a journey metric .* It is an application metric"),
            ("journey-emails-bought", "'journey-emails-bought' is not a journey metric"),
        ],
    )
    def test_names_it_cannot_serve_are_refused(self, pinpoint: Any, journey: Journey, name: str, says: str) -> None:
        code, message = error_of(
            pinpoint.get_journey_date_range_kpi, ApplicationId=journey.app_id, JourneyId=journey.id, KpiName=name
        )
        assert code == "BadRequestException"
        assert "kpi-name" in message and re.search(says, message)

    def test_a_range_past_retention_is_refused(self, pinpoint: Any, journey: Journey) -> None:
        start = datetime.now(UTC) - timedelta(days=100)
        code, message = error_of(
            pinpoint.get_journey_date_range_kpi,
            ApplicationId=journey.app_id,
            JourneyId=journey.id,
            KpiName="journey-emails-sent",
            StartTime=start,
            EndTime=start + timedelta(days=1),
        )
        assert code == "BadRequestException" and "start-time" in message

    def test_an_unknown_journey_is_not_found(self, pinpoint: Any, app_id: str) -> None:
        code, _ = error_of(
            pinpoint.get_journey_date_range_kpi, ApplicationId=app_id, JourneyId="f" * 32, KpiName="journey-emails-sent"
        )
        assert code == "NotFoundException"
