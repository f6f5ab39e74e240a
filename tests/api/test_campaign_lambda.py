"""Campaigns built around the user's AWS Lambda functions, unchanged from Pinpoint: a custom
channel whose DeliveryUri is a function, FILTER and DELIVERY campaign hooks (the campaign's own
and the project's default), and per-project credentials. boto3 → gateway → campaign workflow →
worker → boto3 `lambda.invoke` → a Lambda-API server on loopback (tests/fakes/lambda_api.py)."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from launch.cli import main as cli
from openpoint.settings import get_settings
from tests.api.test_campaign_runs import _mails_within, _put_event, _wait_state
from tests.fakes.lambda_api import FakeLambda, delay, function_error, garbage, role_access_key, throttle
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

ACCOUNT = "123456789012"
# The custom-channel event of the AWS developer guide ("Creating custom channels": the event data
# Amazon Pinpoint sends to the function), as documented.
DOCUMENTED_EVENT: dict[str, Any] = {
    "Message": {},
    "Data": "The payload that's provided in the CustomMessage object in MessageConfiguration",
    "ApplicationId": "3a9b1f4e6c764ba7b031e7183example",
    "CampaignId": "13978104ce5d6017c72552257example",
    "TreatmentId": "0",
    "ActivityId": "575cb1929d5ba43e87e2478eeexample",
    "ScheduledTime": "2020-04-19T00:33:24.609Z",
    "Endpoints": {
        "06fe3ea2d6e8ace9f8a3d8fba09f2a2f": {
            "ChannelType": "EMAIL",
            "Address": "mary.major@example.com",
            "EndpointStatus": "ACTIVE",
            "OptOut": "NONE",
            "Location": {"City": "Seattle", "Country": "USA"},
            "Demographic": {"Make": "OnePlus", "Platform": "android"},
            "EffectiveDate": "2020-04-15T18:47:45.741Z",
            "Attributes": {"FirstName": ["Mary"]},
            "User": {"UserId": "example_user_10", "UserAttributes": {"FirstName": ["Mary"]}},
            "CreationDate": "2020-04-15T18:47:45.741Z",
        }
    },
}


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def _campaign(pinpoint: Any, app_id: str, segment_id: str, **request: Any) -> str:
    body = {"Name": "lambda", "SegmentId": segment_id, "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"}}
    made = pinpoint.create_campaign(ApplicationId=app_id, WriteCampaignRequest={**body, **request})
    campaign_id: str = made["CampaignResponse"]["Id"]
    done = _wait_state(pinpoint, app_id, campaign_id, "COMPLETED")
    assert done["State"]["CampaignStatus"] == "COMPLETED"
    return campaign_id


def _activity(pinpoint: Any, app_id: str, campaign_id: str) -> dict[str, Any]:
    activities = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign_id)
    [activity] = activities["ActivitiesResponse"]["Item"]
    return dict(activity)


def _custom(name: str, data: str = '{"text": "Sale!"}') -> dict[str, Any]:
    return {
        "CustomDeliveryConfiguration": {"DeliveryUri": arn(name), "EndpointTypes": ["EMAIL"]},
        "MessageConfiguration": {"CustomMessage": {"Data": data}},
    }


def _deliveries(stack: Stack, app_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "SELECT endpoint_id, channel, status, status_message FROM deliveries WHERE app_id = $1 ORDER BY endpoint_id",
        app_id,
    )


class TestCustomChannel:
    def test_the_function_gets_pinpoints_event_fifty_endpoints_at_a_time(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"channel-{app_id[:8]}"
        fn = lambda_api.add_custom_channel(name)
        more = [
            {"Id": f"x{i:02d}", "Address": f"x{i}@shop.io", "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold"]}}
            for i in range(32)
        ]
        pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": more})
        campaign_id = _campaign(pinpoint, app_id, segment_id, **_custom(name))

        calls = lambda_api.to(name)
        # 28 of the audience (two opted out) and the 32 added: 60, in invocations of 50 and 10.
        assert sorted(len(c.event["Endpoints"]) for c in calls) == [10, 50]
        assert {c.invocation_type for c in calls} == {"RequestResponse"}
        assert {c.access_key for c in calls} == {"testing"}  # the environment's credentials
        event = calls[0].event
        assert set(event) == set(DOCUMENTED_EVENT) | {"IdempotencyKeys"}
        activity = _activity(pinpoint, app_id, campaign_id)
        assert (event["ApplicationId"], event["CampaignId"], event["TreatmentId"]) == (app_id, campaign_id, "0")
        assert event["ActivityId"] == activity["Id"] and event["Message"] == {}
        assert event["Data"] == '{"text": "Sale!"}'
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ScheduledTime"])
        endpoint = calls[0].event["Endpoints"]["e00"] if "e00" in calls[0].event["Endpoints"] else None
        endpoint = endpoint or calls[1].event["Endpoints"]["e00"]
        documented = DOCUMENTED_EVENT["Endpoints"]["06fe3ea2d6e8ace9f8a3d8fba09f2a2f"]
        assert {
            "ChannelType",
            "Address",
            "EndpointStatus",
            "OptOut",
            "EffectiveDate",
            "Attributes",
            "CreationDate",
        } <= set(endpoint)
        assert set(endpoint) <= set(documented) | {"Id", "Metrics", "CohortId", "ApplicationId", "RequestId"}
        assert (endpoint["ChannelType"], endpoint["Address"]) == ("EMAIL", addresses[0])
        assert endpoint["Attributes"]["Name"] == ["N0"]
        # Every endpoint once, under its idempotency key; no email went out.
        keys = {k for c in calls for k in c.event["IdempotencyKeys"].values()}
        assert sorted(fn.accepted) == sorted(keys) and len(keys) == 60 and fn.dropped == []
        assert all(smtp.sink.to(a) == [] for a in addresses)
        assert (activity["TotalEndpointCount"], activity["SuccessfulEndpointCount"]) == (60, 60)
        rows = _deliveries(stack, app_id)
        assert {(r["channel"], r["status"]) for r in rows} == {("CUSTOM", "SUCCESSFUL")} and len(rows) == 60

    def test_data_with_message_variables_is_rendered_per_endpoint(
        self, pinpoint: Any, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, _ = audience
        name = f"personal-{app_id[:8]}"
        lambda_api.add_custom_channel(name)
        _campaign(pinpoint, app_id, segment_id, **_custom(name, '{"text": "Hi {{Attributes.Name}}"}'))
        seen = {eid: c.event["Data"] for c in lambda_api.to(name) for eid in c.event["Endpoints"]}
        assert seen["e07"] == '{"text": "Hi N7"}' and len(seen) == 28

    def test_throttling_is_retried_and_each_endpoint_is_delivered_once(
        self, pinpoint: Any, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, _ = audience
        name = f"busy-{app_id[:8]}"
        fn = lambda_api.add_custom_channel(name)
        lambda_api.script(name, throttle(), throttle(), throttle(), delay(0.01))
        campaign_id = _campaign(pinpoint, app_id, segment_id, **_custom(name))
        assert len(fn.accepted) == 28 and fn.dropped == []
        assert [c.status for c in lambda_api.to(name)][:3] == [429, 429, 429]
        assert _activity(pinpoint, app_id, campaign_id)["SuccessfulEndpointCount"] == 28

    @pytest.mark.parametrize(
        ("answer", "said"),
        [
            (function_error("Task timed out after 15.00 seconds", "Sandbox.Timedout"), "Task timed out after 15.00"),
            (garbage(b"<html>oops</html>"), "not JSON"),
        ],
        ids=["function-error", "garbage"],
    )
    def test_a_failing_function_fails_its_endpoints_with_the_reason(
        self, pinpoint: Any, stack: Stack, lambda_api: FakeLambda, audience: Any, answer: Any, said: str
    ) -> None:
        app_id, segment_id, _ = audience
        name = f"failing-{app_id[:8]}"
        lambda_api.add_custom_channel(name)
        lambda_api.script(name, answer)  # the one invocation of the page's 28 endpoints
        campaign_id = _campaign(pinpoint, app_id, segment_id, **_custom(name))
        rows = _deliveries(stack, app_id)
        assert len(rows) == 28 and {r["status"] for r in rows} == {"PERMANENT_FAILURE"}
        assert all(said in r["status_message"] and name in r["status_message"] for r in rows)
        activity = _activity(pinpoint, app_id, campaign_id)
        assert activity["SuccessfulEndpointCount"] == 0 and activity["ExecutionMetrics"]["PERMANENT_FAILURE"] == "28"

    def test_a_missing_function_is_a_clear_failure(self, pinpoint: Any, stack: Stack, audience: Any) -> None:
        app_id, segment_id, _ = audience
        _campaign(pinpoint, app_id, segment_id, **_custom(f"nowhere-{app_id[:8]}"))
        rows = _deliveries(stack, app_id)
        assert {r["status"] for r in rows} == {"PERMANENT_FAILURE"}
        assert "ResourceNotFoundException" in rows[0]["status_message"]


class TestHooks:
    def test_a_filter_function_keeps_and_changes_endpoints(
        self, pinpoint: Any, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"filter-{app_id[:8]}"

        def keep_even(event: dict[str, Any]) -> dict[str, Any]:
            return {e: {"Attributes": {"Name": ["Hooked"]}} for e in event["Endpoints"] if int(e[1:]) % 2 == 0}

        lambda_api.add_function(name, keep_even)
        campaign_id = _campaign(
            pinpoint,
            app_id,
            segment_id,
            Hook={"LambdaFunctionName": name, "Mode": "FILTER"},
            MessageConfiguration={"EmailMessage": {"Title": "Hi", "Body": "Hello {{Attributes.Name}}"}},
        )
        [call] = lambda_api.to(name)
        event = call.event
        assert set(event) == {
            "MessageConfiguration",
            "ApplicationId",
            "CampaignId",
            "TreatmentId",
            "ActivityId",
            "ScheduledTime",
            "Endpoints",
        }
        assert event["MessageConfiguration"]["EmailMessage"]["Body"] == "Hello {{Attributes.Name}}"
        assert len(event["Endpoints"]) == 28
        for i in range(30):
            mails = smtp.sink.to(addresses[i])
            if i % 2 == 0 and i not in (3, 4):
                [mail] = mails
                assert "Hello Hooked" in mail.text
            else:
                assert mails == [], i
        activity = _activity(pinpoint, app_id, campaign_id)
        assert activity["SuccessfulEndpointCount"] == 14 and activity["ExecutionMetrics"]["FILTERED_BY_HOOK"] == "14"

    def test_a_filter_function_judges_event_triggered_sends_too(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"eventfilter-{app_id[:8]}"
        lambda_api.add_function(name, lambda event: {e: {} for e in event["Endpoints"] if e != "e06"})
        signup = {
            "FilterType": "ENDPOINT",
            "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["signup"]}},
        }
        campaign_id = pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "welcome",
                "SegmentId": segment_id,
                "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "EVENT", "EventFilter": signup},
                "Hook": {"LambdaFunctionName": name, "Mode": "FILTER"},
                "MessageConfiguration": {"EmailMessage": {"Title": "Welcome", "Body": "Hi"}},
            },
        )["CampaignResponse"]["Id"]
        for endpoint_id in ("e06", "e05"):  # one at a time: the second's mail says the first was judged
            _put_event(pinpoint, app_id, endpoint_id, "signup", f"ev-{endpoint_id}")
            stack.drain_outbox(app_id)
        assert _mails_within(smtp, addresses[5], 1) == 1 and smtp.sink.to(addresses[6]) == []
        judged = {e for c in lambda_api.to(name) for e in c.event["Endpoints"]}
        assert judged == {"e05", "e06"} and {c.event["CampaignId"] for c in lambda_api.to(name)} == {campaign_id}

    def test_the_projects_default_hook_filters_every_campaign(
        self, pinpoint: Any, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"default-{app_id[:8]}"
        lambda_api.add_function(name, lambda event: {"e00": {}})
        pinpoint.update_application_settings(
            ApplicationId=app_id,
            WriteApplicationSettingsRequest={"CampaignHook": {"LambdaFunctionName": arn(name), "Mode": "FILTER"}},
        )
        _campaign(pinpoint, app_id, segment_id, MessageConfiguration={"EmailMessage": {"Title": "Hi", "Body": "x"}})
        assert len(lambda_api.to(name)) == 1
        assert len(smtp.sink.to(addresses[0])) == 1 and smtp.sink.to(addresses[1]) == []

    def test_a_failing_filter_sends_nothing_and_says_so(
        self, pinpoint: Any, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"brokenfilter-{app_id[:8]}"
        lambda_api.add_function(name, lambda event: 42)  # not a map of endpoints
        campaign_id = _campaign(
            pinpoint,
            app_id,
            segment_id,
            Hook={"LambdaFunctionName": name, "Mode": "FILTER"},
            MessageConfiguration={"EmailMessage": {"Title": "Hi", "Body": "x"}},
        )
        assert all(smtp.sink.to(a) == [] for a in addresses)
        assert _activity(pinpoint, app_id, campaign_id)["ExecutionMetrics"]["HOOK_FAILURE"] == "28"

    def test_a_delivery_hook_delivers_instead_of_the_channel(
        self, pinpoint: Any, smtp: SmtpServer, lambda_api: FakeLambda, audience: Any
    ) -> None:
        app_id, segment_id, addresses = audience
        name = f"deliverer-{app_id[:8]}"
        fn = lambda_api.add_custom_channel(name)
        config = {"EmailMessage": {"Title": "Hi", "Body": "Hello"}}
        campaign_id = _campaign(
            pinpoint,
            app_id,
            segment_id,
            Hook={"LambdaFunctionName": arn(name), "Mode": "DELIVERY"},
            MessageConfiguration=config,
        )
        [call] = lambda_api.to(name)
        assert call.event["MessageConfiguration"] == config and "Data" not in call.event
        assert len(fn.accepted) == 28 and all(smtp.sink.to(a) == [] for a in addresses)
        assert _activity(pinpoint, app_id, campaign_id)["SuccessfulEndpointCount"] == 28


class TestCredentials:
    def test_a_project_invokes_with_its_own_role(
        self, pinpoint: Any, stack: Stack, lambda_api: FakeLambda, audience: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        app_id, segment_id, _ = audience
        role = f"arn:aws:iam::{ACCOUNT}:role/pinpoint-{app_id[:8]}"
        name = f"owned-{app_id[:8]}"
        fn = lambda_api.add_custom_channel(name, allow_keys={role_access_key(role)})
        # The operator's command, against the stack's database and master key.
        monkeypatch.setenv("DATABASE_URL", stack.settings.database_url)
        monkeypatch.setenv("OPENPOINT_MASTER_KEY", stack.settings.master_key)
        get_settings.cache_clear()
        project_keys = f"LambdaAccessKeyId=AKIA{secrets.token_hex(6).upper()}"
        argv = ["channels", "credentials", "--project", app_id, "--channel", "CUSTOM", project_keys]
        try:
            assert cli([*argv, "LambdaSecretAccessKey=s3cret", f"LambdaRoleArn={role}", "LambdaExternalId=ext"]) == 0
        finally:
            get_settings.cache_clear()
        _campaign(pinpoint, app_id, segment_id, **_custom(name))
        assert len(fn.accepted) == 28
        assumed = [a for a in lambda_api.assumed if a.role_arn == role]
        assert assumed and assumed[0].access_key == project_keys.split("=")[1] and assumed[0].external_id == "ext"
        # Not a Pinpoint channel: GetChannels does not list it.
        assert "CUSTOM" not in pinpoint.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"]

    def test_the_command_refuses_what_cannot_work(self, app_id: str) -> None:
        base = ["channels", "credentials", "--project", app_id, "--channel", "CUSTOM"]
        assert cli([*base, "LambdaAccessKeyId=AKIAEXAMPLE"]) == 2  # without its secret
        assert cli([*base, "LambdaRoleArn=arn:aws:iam::1:role/x"]) == 2
        assert cli([*base, "Password=x"]) == 2
