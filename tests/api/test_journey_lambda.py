"""Journeys whose CUSTOM activities deliver through the user's AWS Lambda function, as Pinpoint
journeys do: boto3 → gateway → participant workflows → worker → boto3 `lambda.invoke` → the
Lambda-API server on loopback (tests/fakes/lambda_api.py).

What a user notices: the function gets Pinpoint's custom-channel event for each participant; the
execution metrics count the sends; a function that raises, answers garbage or is gone fails the
participant's message with Lambda's reason and the participant goes on along the journey; the
review asks Lambda whether each function can be invoked (a DryRun, which runs nothing).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from tests.api.test_journey_runs import eventually
from tests.api.test_journeys import create, get, ok, path, set_state
from tests.fakes.lambda_api import Answer, FakeLambda, Invocation, function_error, garbage
from tests.raw import send
from tests.stack import Stack

ACCOUNT = "123456789012"
# The members of an endpoint in the custom-channel event of the AWS developer guide ("Creating
# custom channels"), besides the ones that are not always there.
ENDPOINT_MEMBERS = ("ChannelType", "Address", "EndpointStatus", "OptOut", "EffectiveDate", "CreationDate")
OPTIONAL_MEMBERS = ("Attributes", "User", "Demographic", "Location", "Metrics")
EVENT_MEMBERS = {
    "Message",
    "Data",
    "ApplicationId",
    "JourneyId",
    "JourneyActivityId",
    "ActivityId",
    "ScheduledTime",
    "Endpoints",
    "IdempotencyKeys",  # OpenPoint's: for the function to drop a message it was given before
}
PAUSE = {"Wait": {"WaitTime": {"WaitFor": "PT1S"}}}  # where a participant goes after the message
DATA = '{"text": "Hi {{Attributes.Name}}", "plan": "{{User.UserAttributes.Tier}}"}'


def invoked(lambda_api: FakeLambda, name: str) -> list[Invocation]:
    """The function's runs (publishing also asks Lambda whether it may invoke it: a DryRun)."""
    return [c for c in lambda_api.to(name) if c.invocation_type != "DryRun"]


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


class Audience:
    """A project whose segment `lambda` holds w0 (a CUSTOM endpoint with a user, demographic and
    location), w1 (a bare CUSTOM endpoint) and m2 (an EMAIL endpoint, which a CUSTOM activity
    for CUSTOM endpoints leaves out); `nobody` is a segment no one is in (API entry only)."""

    ENDPOINTS: dict[str, dict[str, Any]] = {
        "w0": {
            "ChannelType": "CUSTOM",
            "Address": "whatsapp:+15550100",
            "Attributes": {"Name": ["Ada"], "Plan": ["lambda"]},
            "User": {"UserId": "u-ada", "UserAttributes": {"Tier": ["gold"]}},
            "Demographic": {"Make": "OnePlus", "Platform": "android", "Timezone": "Europe/Paris"},
            "Location": {"City": "Seattle", "Country": "USA"},
        },
        "w1": {
            "ChannelType": "CUSTOM",
            "Address": "whatsapp:+15550101",
            "Attributes": {"Name": ["Bo"], "Plan": ["lambda"]},
        },
        "m2": {"ChannelType": "EMAIL", "Address": "m2@example.com", "Attributes": {"Name": ["Cy"], "Plan": ["lambda"]}},
    }

    def __init__(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        self.pinpoint, self.stack, self.app_id = pinpoint, stack, app_id
        items = [{"Id": eid, **e} for eid, e in self.ENDPOINTS.items()]
        pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
        self.segment = self._segment("lambda")
        self.nobody = self._segment("none")

    def _segment(self, plan: str) -> str:
        dimensions = {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": [plan]}}}
        made = self.pinpoint.create_segment(
            ApplicationId=self.app_id, WriteSegmentRequest={"Name": plan, "Dimensions": dimensions}
        )
        return str(made["SegmentResponse"]["Id"])

    def request(self, activities: dict[str, Any], start: str, **members: Any) -> dict[str, Any]:
        return {
            "Name": f"lambda-{secrets.token_hex(3)}",
            "StartActivity": start,
            "StartCondition": {"SegmentStartCondition": {"SegmentId": self.segment}},
            "Activities": activities,
            "State": "ACTIVE",
            **members,
        }

    def journey(self, activities: dict[str, Any], start: str, **members: Any) -> str:
        return str(create(self.pinpoint, self.app_id, self.request(activities, start, **members))["Id"])

    def metrics(self, journey_id: str) -> dict[str, str]:
        found = self.pinpoint.get_journey_execution_metrics(ApplicationId=self.app_id, JourneyId=journey_id)
        return dict(found["JourneyExecutionMetricsResponse"]["Metrics"])

    def activity_metrics(self, journey_id: str, activity_id: str) -> dict[str, str]:
        found = self.pinpoint.get_journey_execution_activity_metrics(
            ApplicationId=self.app_id, JourneyId=journey_id, JourneyActivityId=activity_id
        )
        return dict(found["JourneyExecutionActivityMetricsResponse"]["Metrics"])

    def left(self, journey_id: str, count: int) -> dict[str, str]:
        """The journey's metrics once `count` participants have left it."""
        found: dict[str, str] = eventually(
            lambda: (m := self.metrics(journey_id))["ENDPOINT_LEFT"] == str(count) and m,
            f"{count} participants to leave the journey",
        )
        return found

    def deliveries(self, activity_id: str) -> dict[str, Any]:
        """The delivery log of one activity: endpoint id -> its row."""
        rows = self.stack.sql(
            "SELECT idempotency_key, endpoint_id, channel, status, status_code, status_message FROM deliveries"
            " WHERE app_id = $1 AND context->>'journey_activity_id' = $2",
            self.app_id,
            activity_id,
        )
        return {r["endpoint_id"]: r for r in rows}


@pytest.fixture
def audience(pinpoint: Any, stack: Stack, app_id: str) -> Audience:
    return Audience(pinpoint, stack, app_id)


def custom(uri: str, data: str = DATA, **members: Any) -> dict[str, Any]:
    return {"CUSTOM": {"DeliveryUri": uri, "EndpointTypes": ["CUSTOM"], "MessageConfig": {"Data": data}, **members}}


def review(stack: Stack, app_id: str, journey_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(send(stack, "POST", path(app_id, journey_id, "review"), {}))
    return found


def _same_endpoint(audience: Audience, endpoint_id: str, sent: dict[str, Any]) -> None:
    """The endpoint in the event is the endpoint as GetEndpoint shows it, in the documented
    members (one it does not have is absent or, today, null: see test_absent_members_...)."""
    found = audience.pinpoint.get_endpoint(ApplicationId=audience.app_id, EndpointId=endpoint_id)["EndpointResponse"]
    for member in ENDPOINT_MEMBERS:
        assert sent[member] == found[member], (member, sent, found)
    for member in OPTIONAL_MEMBERS:
        assert sent.get(member) == found.get(member), (member, sent, found)
    written = audience.ENDPOINTS[endpoint_id]
    assert (sent["ChannelType"], sent["Address"]) == (written["ChannelType"], written["Address"])
    assert (sent["EndpointStatus"], sent["OptOut"]) == ("ACTIVE", "NONE")
    for member in ("Attributes", "User", "Demographic", "Location"):
        assert sent.get(member) == written.get(member), (member, sent)


class TestDelivery:
    @pytest.mark.parametrize("named_by", ["arn", "name"])
    def test_the_function_gets_pinpoints_event_for_each_participant(
        self, audience: Audience, lambda_api: FakeLambda, named_by: str
    ) -> None:
        name = f"wa-{audience.app_id[:8]}"
        fn = lambda_api.add_custom_channel(name)
        uri = arn(name) if named_by == "arn" else name
        journey_id = audience.journey({"send": custom(uri, NextActivity="pause"), "pause": PAUSE}, "send")
        audience.left(journey_id, 3)

        calls = invoked(lambda_api, name)
        assert {c.sent_as for c in calls} == {uri} and {c.invocation_type for c in calls} == {"RequestResponse"}
        assert {c.access_key for c in calls} == {"testing"}  # the environment's credentials
        by_endpoint = {eid: c.event for c in calls for eid in c.event["Endpoints"]}
        assert sorted(by_endpoint) == ["w0", "w1"]  # m2 is an EMAIL endpoint: not for this activity
        assert len(calls) == 2  # one message each, none repeated
        for eid, event in by_endpoint.items():
            assert set(event) == EVENT_MEMBERS, event
            assert event["Message"] == {}
            assert (event["ApplicationId"], event["JourneyId"]) == (audience.app_id, journey_id)
            assert event["JourneyActivityId"] == event["ActivityId"] == "send"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ScheduledTime"]), event
            assert list(event["Endpoints"]) == [eid]
            _same_endpoint(audience, eid, event["Endpoints"][eid])
        assert by_endpoint["w0"]["Data"] == '{"text": "Hi Ada", "plan": "gold"}'
        assert by_endpoint["w1"]["Data"] == '{"text": "Hi Bo", "plan": ""}'

        # Each message under its own idempotency key, the one the delivery log holds; accepted once.
        log = audience.deliveries("send")
        keys = {eid: by_endpoint[eid]["IdempotencyKeys"] for eid in by_endpoint}
        assert keys == {eid: {eid: log[eid]["idempotency_key"]} for eid in ("w0", "w1")}
        assert sorted(fn.accepted) == sorted(log[eid]["idempotency_key"] for eid in ("w0", "w1"))
        assert fn.dropped == []
        assert {(r["channel"], r["status"]) for r in log.values()} == {("CUSTOM", "SUCCESSFUL")}

        assert audience.activity_metrics(journey_id, "send") == {"SUCCESSFUL": "2", "UNSUPPORTED_CHANNEL": "1"}
        assert audience.activity_metrics(journey_id, "pause") == {"ARRIVED": "3"}
        assert audience.metrics(journey_id)["ENDPOINT_ENTERED"] == "3"

    def test_absent_members_are_left_out_not_null(
        self, audience: Audience, stack: Stack, lambda_api: FakeLambda
    ) -> None:
        """A function written for Pinpoint reads `endpoint.get("Location", {})`: null breaks it."""
        name = f"bare-{audience.app_id[:8]}"
        lambda_api.add_custom_channel(name)
        start = {"SegmentStartCondition": {"SegmentId": audience.nobody}}
        journey_id = audience.journey({"send": custom(name)}, "send", StartCondition=start)
        ok(send(stack, "POST", path(audience.app_id, journey_id, "participants"), {"EndpointId": "w1"}))
        audience.left(journey_id, 1)
        [call] = invoked(lambda_api, name)
        sent = call.event["Endpoints"]["w1"]
        assert {k for k, v in sent.items() if v is None} == set(), sent
        assert not {"User", "Demographic", "Location"} & set(sent), sent


class TestFailures:
    @pytest.mark.parametrize(
        ("answer", "reason"),
        [
            pytest.param(
                function_error("card service said no", "DeliveryError"),
                "DeliveryError: card service said no",
                id="raises",
            ),
            pytest.param(garbage(b"<html>oops</html>"), "not JSON", id="garbage"),
        ],
    )
    def test_a_failing_function_fails_the_message_and_the_participant_goes_on(
        self, audience: Audience, lambda_api: FakeLambda, answer: Answer, reason: str
    ) -> None:
        failing, after = f"fails-{audience.app_id[:8]}", f"after-{audience.app_id[:8]}"
        lambda_api.add_custom_channel(failing)
        lambda_api.script(failing, answer, answer)  # both participants' invocations
        fn_after = lambda_api.add_custom_channel(after)
        journey_id = audience.journey(
            {"send": custom(arn(failing), NextActivity="next"), "next": custom(after)}, "send"
        )
        audience.left(journey_id, 3)

        assert audience.activity_metrics(journey_id, "send") == {"PERMANENT_FAILURE": "2", "UNSUPPORTED_CHANNEL": "1"}
        log = audience.deliveries("send")
        assert sorted(log) == ["w0", "w1"]
        for row in log.values():
            assert row["status"] == "PERMANENT_FAILURE"
            assert failing in row["status_message"] and reason in row["status_message"], row
        assert len(invoked(lambda_api, failing)) == 2  # a function's failure is not retried
        # Both went on to the next activity, whose function got them.
        assert audience.activity_metrics(journey_id, "next") == {"SUCCESSFUL": "2", "UNSUPPORTED_CHANNEL": "1"}
        assert len(fn_after.accepted) == 2

    def test_a_function_deleted_after_publishing_is_a_failure_with_lambdas_reason(
        self, audience: Audience, stack: Stack, lambda_api: FakeLambda
    ) -> None:
        gone, after = f"gone-{audience.app_id[:8]}", f"after-{audience.app_id[:8]}"
        lambda_api.add_custom_channel(gone)
        fn_after = lambda_api.add_custom_channel(after)
        journey_id = audience.journey(
            {"send": custom(arn(gone), NextActivity="next"), "next": custom(arn(after))},
            "send",
            StartCondition={"SegmentStartCondition": {"SegmentId": audience.nobody}},
        )
        del lambda_api.functions[gone]  # the user deleted the function after publishing
        entered = ok(send(stack, "POST", path(audience.app_id, journey_id, "participants"), {"EndpointId": "w0"}))
        assert entered["Entered"] is True
        audience.left(journey_id, 1)

        assert audience.activity_metrics(journey_id, "send") == {"PERMANENT_FAILURE": "1"}
        [row] = audience.deliveries("send").values()
        assert row["status"] == "PERMANENT_FAILURE" and row["status_code"] == 404
        assert "ResourceNotFoundException" in row["status_message"] and gone in row["status_message"], row
        assert audience.activity_metrics(journey_id, "next") == {"SUCCESSFUL": "1"}
        assert len(fn_after.accepted) == 1
        assert get(audience.pinpoint, audience.app_id, journey_id)["State"] == "ACTIVE"


class TestReviewAndPublish:
    def test_a_missing_function_is_a_review_error_and_an_existing_one_passes(
        self, audience: Audience, stack: Stack, lambda_api: FakeLambda
    ) -> None:
        name = f"later-{audience.app_id[:8]}"
        draft = audience.request({"send": custom(arn(name))}, "send", State="DRAFT")
        made = create(audience.pinpoint, audience.app_id, draft)  # written before the function exists
        found = review(stack, audience.app_id, made["Id"])
        assert found["Publishable"] is False
        [finding] = found["Errors"]
        assert (finding["ActivityId"], finding["Code"]) == ("send", "FUNCTION_NOT_INVOCABLE")
        assert name in finding["Message"] and "ResourceNotFoundException" in finding["Message"], finding
        # Publishing asks Lambda as the review did: refused, naming the activity.
        with pytest.raises(audience.pinpoint.exceptions.BadRequestException) as refused:
            set_state(audience.pinpoint, audience.app_id, made["Id"], "ACTIVE")
        assert "activity send" in str(refused.value) and "ResourceNotFoundException" in str(refused.value)
        with pytest.raises(audience.pinpoint.exceptions.BadRequestException):
            create(audience.pinpoint, audience.app_id, {**draft, "State": "ACTIVE"})

        fn = lambda_api.add_custom_channel(name)
        found = review(stack, audience.app_id, made["Id"])
        assert found["Publishable"] is True and found["Errors"] == [], found
        # The review asked Lambda without running the function (DryRun).
        assert {c.invocation_type for c in lambda_api.to(name)} == {"DryRun"} and fn.accepted == []
        assert set_state(audience.pinpoint, audience.app_id, made["Id"], "ACTIVE")["State"] == "ACTIVE"
        audience.left(made["Id"], 3)
        assert len(fn.accepted) == 2

    def test_a_journey_naming_a_function_is_created_published(self, audience: Audience, lambda_api: FakeLambda) -> None:
        name = f"direct-{audience.app_id[:8]}"
        fn = lambda_api.add_custom_channel(name)
        made = create(audience.pinpoint, audience.app_id, audience.request({"send": custom(name)}, "send"))
        assert made["State"] == "ACTIVE"
        assert made["Activities"]["send"]["CUSTOM"]["DeliveryUri"] == name
        audience.left(made["Id"], 3)
        assert len(fn.accepted) == 2
