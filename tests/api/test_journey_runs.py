"""Journeys running end to end on the dev server, driven as a user would: boto3 for the Pinpoint
API and PutEvents, signed requests for OpenPoint's extension routes, mail read at the SMTP sink.

Covers what only the whole platform shows: event-started entry from PutEvents, engagement
reaching a waiting participant as a signal, API entry (by endpoint and by user, idempotent per
EntryKey), test runs (recorded or delivered, waits shortened) kept out of live metrics, pause and
cancel through UpdateJourneyState, execution metrics computed from what participants did, and the
participant's view in Temporal (queries, search attributes)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.raw import send
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

SIGNUP = {"FilterType": "ENDPOINT", "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["signup"]}}}


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Project:
    """A project with an EMAIL channel, endpoints e0..e3 (e0, e1 gold; e2, e3 free; e2, e3 of one
    user) and a few templates whose subjects name them."""

    def __init__(self, pinpoint: Any, app_id: str, smtp: SmtpServer) -> None:
        self.pinpoint, self.app_id, self.smtp = pinpoint, app_id, smtp
        pinpoint.update_email_channel(
            ApplicationId=app_id, EmailChannelRequest={"FromAddress": "j@example.com", "Identity": "example.com"}
        )
        tag = secrets.token_hex(3)
        self.addresses = {f"e{i}": f"e{i}-{tag}@example.com" for i in range(4)}
        self.user = f"user-{tag}"
        items = [
            {
                "Id": e,
                "Address": a,
                "ChannelType": "EMAIL",
                "Attributes": {"Plan": ["gold" if e in ("e0", "e1") else "free"]},
                **({"User": {"UserId": self.user}} if e in ("e2", "e3") else {}),
            }
            for e, a in self.addresses.items()
        ]
        pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
        self.segment = pinpoint.create_segment(
            ApplicationId=app_id,
            WriteSegmentRequest={
                "Name": "gold",
                "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
            },
        )["SegmentResponse"]["Id"]

    def template(self, subject: str, html: bool = False) -> str:
        name = f"t{secrets.token_hex(5)}"
        part = {"HtmlPart": f"<p>{subject}</p>"} if html else {"TextPart": subject}
        self.pinpoint.create_email_template(TemplateName=name, EmailTemplateRequest={"Subject": subject, **part})
        return name

    def journey(self, activities: dict[str, Any], start: str, **members: Any) -> str:
        request = {
            "Name": f"j-{secrets.token_hex(3)}",
            "StartActivity": start,
            "StartCondition": {"SegmentStartCondition": {"SegmentId": self.segment}},
            "Activities": activities,
            "State": "ACTIVE",
            **members,
        }
        created = self.pinpoint.create_journey(ApplicationId=self.app_id, WriteJourneyRequest=request)
        return str(created["JourneyResponse"]["Id"])

    def mails(self, endpoint: str) -> list[str]:
        return [str(m.message["Subject"]) for m in self.smtp.sink.to(self.addresses[endpoint])]

    def metrics(self, journey_id: str) -> dict[str, str]:
        found = self.pinpoint.get_journey_execution_metrics(ApplicationId=self.app_id, JourneyId=journey_id)
        return dict(found["JourneyExecutionMetricsResponse"]["Metrics"])

    def activity_metrics(self, journey_id: str, activity_id: str) -> dict[str, str]:
        found = self.pinpoint.get_journey_execution_activity_metrics(
            ApplicationId=self.app_id, JourneyId=journey_id, JourneyActivityId=activity_id
        )
        return dict(found["JourneyExecutionActivityMetricsResponse"]["Metrics"])

    def put_event(self, endpoint: str, event_type: str, event_id: str | None = None) -> None:
        self.pinpoint.put_events(
            ApplicationId=self.app_id,
            EventsRequest={
                "BatchItem": {
                    endpoint: {
                        "Endpoint": {},
                        "Events": {
                            event_id or secrets.token_hex(6): {
                                "EventType": event_type,
                                "Timestamp": iso(datetime.now(UTC)),
                            }
                        },
                    }
                }
            },
        )


@pytest.fixture
def project(pinpoint: Any, app_id: str, smtp: SmtpServer) -> Project:
    return Project(pinpoint, app_id, smtp)


def _participants(stack: Stack, app_id: str, journey_id: str) -> list[Any]:
    return stack.sql(
        "SELECT participant, entry_key, status, workflow_id FROM journey_participants"
        " WHERE app_id = $1 AND journey_id = $2 ORDER BY participant, entry_key",
        app_id,
        journey_id,
    )


def _temporal(stack: Stack) -> Client:
    return stack.run(Client.connect(stack.settings.temporal_address, namespace="default"))


def test_put_events_starts_an_event_journey_once_per_event(project: Project, stack: Stack) -> None:
    hello = project.template("Welcome aboard")
    journey_id = project.journey(
        {"hello": {"EMAIL": {"TemplateName": hello}}},
        "hello",
        StartCondition={"EventStartCondition": {"EventFilter": SIGNUP, "SegmentId": project.segment}},
    )
    project.put_event("e0", "signup", "signup-1")
    project.put_event("e0", "signup", "signup-1")  # the client retried the same event
    project.put_event("e2", "signup")  # not in the start condition's segment (free plan)
    project.put_event("e1", "browse")  # another event type
    eventually(lambda: project.mails("e0") == ["Welcome aboard"], "the welcome mail")
    eventually(lambda: project.metrics(journey_id)["ENDPOINT_LEFT"] == "1", "the participant to leave")
    project.put_event("e0", "signup", "signup-2")  # a new entry after leaving: no re-entry cap
    eventually(lambda: project.mails("e0") == ["Welcome aboard", "Welcome aboard"], "the second entry")
    time.sleep(1)
    assert project.mails("e1") == project.mails("e2") == []
    metrics = eventually(
        lambda: (m := project.metrics(journey_id))["ENDPOINT_LEFT"] == "2" and m, "both entries to finish"
    )
    assert metrics["ENDPOINT_ENTERED"] == "2" and metrics["ENDPOINT_ACTIVE"] == "0"
    assert project.activity_metrics(journey_id, "hello")["SUCCESSFUL"] == "2"
    runs = project.pinpoint.get_journey_runs(ApplicationId=project.app_id, JourneyId=journey_id)["JourneyRunsResponse"]
    [run] = runs["Item"]
    run_metrics = project.pinpoint.get_journey_run_execution_metrics(
        ApplicationId=project.app_id, JourneyId=journey_id, RunId=run["RunId"]
    )["JourneyRunExecutionMetricsResponse"]["Metrics"]
    assert run_metrics["FILTERED_OUT_BY_SEGMENT"] == "1"


def test_an_open_reaches_the_waiting_participant_as_a_signal(project: Project, stack: Stack) -> None:
    import re

    import httpx

    look, thanks, nudge = project.template("Look", html=True), project.template("Thanks"), project.template("Nudge")
    journey_id = project.journey(
        {
            "look": {"EMAIL": {"TemplateName": look, "NextActivity": "check"}},
            "check": {
                "ConditionalSplit": {
                    "Condition": {
                        "Conditions": [
                            {
                                "EventCondition": {
                                    "Dimensions": {
                                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}
                                    },
                                    "MessageActivity": "look",
                                }
                            }
                        ]
                    },
                    "EvaluationWaitTime": {"WaitFor": "PT8S"},
                    "TrueActivity": "thanks",
                    "FalseActivity": "nudge",
                }
            },
            "thanks": {"EMAIL": {"TemplateName": thanks}},
            "nudge": {"EMAIL": {"TemplateName": nudge}},
        },
        "look",
    )
    eventually(lambda: project.mails("e0") and project.mails("e1"), "the first mails")
    [mail] = project.smtp.sink.to(project.addresses["e0"])
    [pixel] = re.findall(r'<img src="([^"]+)"', mail.html)
    assert httpx.get(pixel).status_code == 200
    eventually(lambda: project.mails("e0") == ["Look", "Thanks"], "the opened path")
    eventually(lambda: project.mails("e1") == ["Look", "Nudge"], "the unopened path")
    assert project.activity_metrics(journey_id, "check") == {"True": "1", "False": "1"}
    [row] = [p for p in _participants(stack, project.app_id, journey_id) if p["participant"] == "e0"]
    client = _temporal(stack)
    history = stack.run(client.get_workflow_handle(row["workflow_id"]).fetch_history())
    signals = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert [s.signal_name for s in signals] == ["engagement"]


def _ext(stack: Stack, app_id: str, journey_id: str, tail: str, body: Any = None, method: str = "POST") -> Any:
    reply = send(stack, method, f"/v1/apps/{app_id}/journeys/{journey_id}/{tail}", body)
    assert reply.status in (200, 201), reply.body
    return reply.body


def test_api_entry_by_endpoint_and_by_user_is_idempotent_per_entry_key(project: Project, stack: Stack) -> None:
    hello = project.template("Entered by API")
    # A segment nobody is in: only the API puts participants in.
    nobody = project.pinpoint.create_segment(
        ApplicationId=project.app_id,
        WriteSegmentRequest={
            "Name": "nobody",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["none"]}}},
        },
    )["SegmentResponse"]["Id"]
    journey_id = project.journey(
        {"hello": {"EMAIL": {"TemplateName": hello}}},
        "hello",
        StartCondition={"SegmentStartCondition": {"SegmentId": nobody}},
    )
    first = _ext(stack, project.app_id, journey_id, "participants", {"EndpointId": "e1", "EntryKey": "order-77"})
    again = _ext(stack, project.app_id, journey_id, "participants", {"EndpointId": "e1", "EntryKey": "order-77"})
    assert first["Entered"] is True and again["WorkflowId"] == first["WorkflowId"]
    by_user = _ext(stack, project.app_id, journey_id, "participants", {"UserId": project.user})
    assert by_user["Entered"] is True
    eventually(lambda: project.mails("e1") == ["Entered by API"], "the endpoint's mail")
    eventually(lambda: project.mails("e2") == project.mails("e3") == ["Entered by API"], "the user's mails")
    time.sleep(1)
    assert project.mails("e1") == ["Entered by API"]  # the repeated EntryKey sent nothing more
    client = _temporal(stack)
    described = stack.run(client.get_workflow_handle(first["WorkflowId"]).describe())
    assert described.workflow_type == "JourneyParticipantWorkflow"
    attributes = {p.key.name: p.value for p in described.typed_search_attributes if p.key.name.startswith("OpenPoint")}
    assert attributes == {"OpenPointApp": project.app_id, "OpenPointJourney": journey_id, "OpenPointEndpoint": "e1"}


@pytest.mark.parametrize("delivery", ["RECORD", "SEND"])
def test_a_test_run_traces_each_path_and_leaves_live_metrics_alone(
    project: Project, stack: Stack, delivery: str
) -> None:
    gold, free, later = project.template("Gold"), project.template("Free"), project.template("Later")
    journey_id = project.journey(
        {
            "check": {
                "ConditionalSplit": {
                    "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": project.segment}}]},
                    "TrueActivity": "gold",
                    "FalseActivity": "free",
                }
            },
            "gold": {"EMAIL": {"TemplateName": gold, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "P30D"}, "NextActivity": "later"}},
            "later": {"EMAIL": {"TemplateName": later}},
            "free": {"EMAIL": {"TemplateName": free}},
        },
        "check",
        State="DRAFT",
    )
    waits = {"Waits": "SHORTEN", "WaitSeconds": 1} if delivery == "SEND" else {"Waits": "SKIP"}
    run = _ext(
        stack,
        project.app_id,
        journey_id,
        "test-runs",
        {"EndpointIds": ["e0", "e2"], "Delivery": delivery, **waits},
    )

    def finished() -> Any:
        found = _ext(stack, project.app_id, journey_id, f"test-runs/{run['Id']}", method="GET")
        return found if all(p["Status"] == "LEFT" for p in found["Participants"]) else None

    trace = eventually(finished, "the test participants to finish")
    paths = {p["EndpointId"]: [(s["ActivityId"], s["Outcome"]) for s in p["Steps"]] for p in trace["Participants"]}
    sent = "SUCCESSFUL" if delivery == "SEND" else "RECORDED"
    assert paths == {
        "e0": [("check", "True"), ("gold", sent), ("pause", "ARRIVED"), ("later", sent)],
        "e2": [("check", "False"), ("free", sent)],
    }
    if delivery == "SEND":
        eventually(lambda: project.mails("e0") == ["Gold", "Later"], "the test mails")
        assert project.mails("e2") == ["Free"]
    else:
        assert project.mails("e0") == project.mails("e2") == []
    assert project.metrics(journey_id)["ENDPOINT_ENTERED"] == "0"
    assert project.activity_metrics(journey_id, "gold") == {}


def test_pause_resume_and_cancel_through_the_api(project: Project, stack: Stack) -> None:
    hello, again = project.template("Hello"), project.template("Again")
    journey_id = project.journey(
        {
            "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "PT6S"}, "NextActivity": "again"}},
            "again": {"EMAIL": {"TemplateName": again}},
        },
        "hello",
        RefreshFrequency="P1D",
    )
    eventually(lambda: project.mails("e0") == ["Hello"], "the first mail")
    project.pinpoint.update_journey_state(
        ApplicationId=project.app_id, JourneyId=journey_id, JourneyStateRequest={"State": "PAUSED"}
    )
    time.sleep(9)  # longer than the wait: frozen while paused
    assert project.mails("e0") == ["Hello"]
    stack.sql(
        "UPDATE journeys SET paused_at = now() - interval '6 minutes' WHERE app_id = $1 AND id = $2",
        project.app_id,
        journey_id,
    )
    project.pinpoint.update_journey_state(
        ApplicationId=project.app_id, JourneyId=journey_id, JourneyStateRequest={"State": "ACTIVE"}
    )
    eventually(lambda: project.mails("e0") == ["Hello", "Again"], "the mail after resuming")
    eventually(lambda: project.metrics(journey_id)["ENDPOINT_LEFT"] == "2", "both participants to leave")

    # A second journey cancelled while its participants wait: they stop there, for good.
    second = project.journey(
        {
            "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "PT5S"}, "NextActivity": "again"}},
            "again": {"EMAIL": {"TemplateName": again}},
        },
        "hello",
    )
    eventually(lambda: project.mails("e1") == ["Hello", "Again", "Hello"], "the second journey's first mail")
    project.pinpoint.update_journey_state(
        ApplicationId=project.app_id, JourneyId=second, JourneyStateRequest={"State": "CANCELLED"}
    )
    eventually(lambda: project.metrics(second)["CANCELLED"] == "2", "the participants to stop")
    time.sleep(6)
    assert project.mails("e1") == ["Hello", "Again", "Hello"]
    state = project.pinpoint.get_journey(ApplicationId=project.app_id, JourneyId=second)["JourneyResponse"]["State"]
    assert state == "CANCELLED"


def test_a_journey_past_its_end_time_admits_no_one(project: Project, stack: Stack) -> None:
    hello = project.template("Too late")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    journey_id = project.journey(
        {"hello": {"EMAIL": {"TemplateName": hello}}},
        "hello",
        StartCondition={"EventStartCondition": {"EventFilter": SIGNUP}},
        Schedule={"StartTime": start, "EndTime": start + timedelta(seconds=4), "Timezone": "UTC"},
    )
    time.sleep(7)
    project.put_event("e0", "signup")
    state = eventually(
        lambda: (
            (
                s := project.pinpoint.get_journey(ApplicationId=project.app_id, JourneyId=journey_id)[
                    "JourneyResponse"
                ]["State"]
            )
            in ("CLOSED", "COMPLETED")
            and s
        ),
        "the journey to close",
    )
    assert state in ("CLOSED", "COMPLETED")
    time.sleep(1)
    assert project.mails("e0") == []
    assert project.metrics(journey_id)["ENDPOINT_ENTERED"] == "0"


def test_deleting_a_journey_stops_its_participants_and_drops_its_data(project: Project, stack: Stack) -> None:
    hello, again = project.template("Hello"), project.template("Never")
    journey_id = project.journey(
        {
            "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "PT5S"}, "NextActivity": "again"}},
            "again": {"EMAIL": {"TemplateName": again}},
        },
        "hello",
    )
    eventually(lambda: project.mails("e0") == project.mails("e1") == ["Hello"], "the first mails")
    workflows = [p["workflow_id"] for p in _participants(stack, project.app_id, journey_id)]
    project.pinpoint.delete_journey(ApplicationId=project.app_id, JourneyId=journey_id)
    with pytest.raises(project.pinpoint.exceptions.NotFoundException):
        project.pinpoint.get_journey(ApplicationId=project.app_id, JourneyId=journey_id)
    client = _temporal(stack)
    for workflow_id in workflows:
        assert stack.run(client.get_workflow_handle(workflow_id).result()) == "CANCELLED"
    eventually(lambda: not stack.sql("SELECT 1 FROM journeys WHERE id = $1", journey_id), "the rows to go")
    assert not _participants(stack, project.app_id, journey_id)
    time.sleep(6)
    assert project.mails("e0") == ["Hello"]
