"""Defects found by replaying real Pinpoint payloads (issue 14, part 5), each replayed here in the
shape the Pinpoint developer guide and API reference document them:

- reads carry `"tags": {}` for a resource without tags, and a read fed back into its create (the
  copy pattern of AWS's journey-copy tool) works, the read-only members ignored as Pinpoint does;
- a DRAFT journey may be saved half-built; what it lacks blocks publishing, naming the activity;
- GetEndpoint shows the RequestId of the request that last updated the endpoint;
- NotFoundException says "Application not found" / "Resource not found", as Pinpoint does.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.test_templates import KINDS
from tests.api.test_templates import create as create_template
from tests.raw import Reply, send
from tests.stack import Stack

# The developer guide's segment example (audience-define-segments): iOS users of two app versions.
SEGMENT = {
    "Name": "ExampleSegment",
    "Dimensions": {
        "Demographic": {
            "AppVersion": {"DimensionType": "INCLUSIVE", "Values": ["1.0", "1.1"]},
            "Platform": {"DimensionType": "INCLUSIVE", "Values": ["ios"]},
        }
    },
}


def later(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def campaign_request(segment_id: str) -> dict[str, Any]:
    """The API reference's CreateCampaign shape: a scheduled email campaign to one segment."""
    return {
        "Name": "ExampleCampaign",
        "Description": "spring offer",
        "SegmentId": segment_id,
        "Schedule": {"StartTime": later(2), "Frequency": "ONCE", "Timezone": "UTC"},
        "MessageConfiguration": {"EmailMessage": {"Title": "Spring offer", "Body": "<p>10% off</p>"}},
    }


def journey_request(segment_id: str, template: str) -> dict[str, Any]:
    """A journey as the console saves it: email, wait a day, a yes/no split on the email's opens."""
    return {
        "Name": "Onboarding",
        "StartActivity": "a1welcome",
        "StartCondition": {"Description": "new users", "SegmentStartCondition": {"SegmentId": segment_id}},
        "Schedule": {"StartTime": later(1), "EndTime": later(30), "Timezone": "UTC"},
        "QuietTime": {"Start": "22:00", "End": "07:00"},
        "RefreshFrequency": "PT1H",
        "Activities": {
            "a1welcome": {"EMAIL": {"TemplateName": template, "NextActivity": "b2wait"}},
            "b2wait": {"Description": "a day", "Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "c3opened"}},
            "c3opened": {
                "ConditionalSplit": {
                    "Condition": {
                        "Conditions": [
                            {
                                "EventCondition": {
                                    "Dimensions": {
                                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}
                                    },
                                    "MessageActivity": "a1welcome",
                                }
                            }
                        ]
                    },
                    "FalseActivity": "d4again",
                }
            },
            "d4again": {"EMAIL": {"TemplateName": template}},
        },
    }


@pytest.fixture
def project(pinpoint: Any, app_id: str) -> tuple[str, str, str]:
    """(app, segment, email template) of a project whose EMAIL channel is enabled."""
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    segment_id = pinpoint.create_segment(ApplicationId=app_id, WriteSegmentRequest=SEGMENT)["SegmentResponse"]["Id"]
    template = f"welcome-{secrets.token_hex(4)}"
    pinpoint.create_email_template(TemplateName=template, EmailTemplateRequest={"Subject": "Hi", "TextPart": "Hello"})
    return app_id, segment_id, template


def wire(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    return reply.body


# -- tags on reads, and the copy pattern ---------------------------------------------------------


class TestReadsWithoutTags:
    def test_every_read_of_an_untagged_resource_has_empty_tags(
        self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]
    ) -> None:
        app_id, segment_id, template = project
        campaign = pinpoint.create_campaign(ApplicationId=app_id, WriteCampaignRequest=campaign_request(segment_id))
        campaign_id = campaign["CampaignResponse"]["Id"]
        made = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=journey_request(segment_id, template))
        journey_id = made["JourneyResponse"]["Id"]
        ids = {"ApplicationId": app_id}
        reads = {
            "GetApp": pinpoint.get_app(**ids)["ApplicationResponse"],
            "GetSegment": pinpoint.get_segment(**ids, SegmentId=segment_id)["SegmentResponse"],
            "GetSegmentVersion": pinpoint.get_segment_version(**ids, SegmentId=segment_id, Version="1")[
                "SegmentResponse"
            ],
            "GetSegments": pinpoint.get_segments(**ids)["SegmentsResponse"]["Item"][0],
            "GetSegmentVersions": pinpoint.get_segment_versions(**ids, SegmentId=segment_id)["SegmentsResponse"][
                "Item"
            ][0],
            "GetCampaign": pinpoint.get_campaign(**ids, CampaignId=campaign_id)["CampaignResponse"],
            "GetCampaignVersion": pinpoint.get_campaign_version(**ids, CampaignId=campaign_id, Version="1")[
                "CampaignResponse"
            ],
            "GetCampaigns": pinpoint.get_campaigns(**ids)["CampaignsResponse"]["Item"][0],
            "GetCampaignVersions": pinpoint.get_campaign_versions(**ids, CampaignId=campaign_id)["CampaignsResponse"][
                "Item"
            ][0],
            "GetJourney": pinpoint.get_journey(**ids, JourneyId=journey_id)["JourneyResponse"],
            "ListJourneys": pinpoint.list_journeys(**ids)["JourneysResponse"]["Item"][0],
            "ListTemplates": pinpoint.list_templates(Prefix=template)["TemplatesResponse"]["Item"][0],
        }
        reads["GetApps"] = _listed_app(pinpoint, app_id)
        for kind in KINDS:
            name = f"{template}-{kind.type.lower()}"
            create_template(pinpoint, kind, name)
            getter = getattr(pinpoint, f"get_{kind.method}_template")
            reads[f"Get{kind.type}Template"] = getter(TemplateName=name)[kind.response]
        assert {op: read.get("tags") for op, read in reads.items()} == {op: {} for op in reads}
        # On the wire as Pinpoint sends it: the member is there, an empty object.
        assert wire(send(stack, "GET", f"/v1/apps/{app_id}/journeys/{journey_id}"))["tags"] == {}


class TestCopyingAReadBackIntoACreate:
    """AWS's journey-copy tool sends GetJourney's JourneyResponse, every member of it, as the
    CreateJourney body; Pinpoint ignores the members WriteJourneyRequest does not have (Id,
    ApplicationId, tags) and the read-only ones it has (CreationDate, LastModifiedDate)."""

    def test_a_journey_copied_whole(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, segment_id, template = project
        original = wire(send(stack, "POST", f"/v1/apps/{app_id}/journeys", journey_request(segment_id, template)), 201)
        read = wire(send(stack, "GET", f"/v1/apps/{app_id}/journeys/{original['Id']}"))
        assert {"Id", "ApplicationId", "CreationDate", "LastModifiedDate", "State", "tags"} <= set(read)
        copy = wire(send(stack, "POST", f"/v1/apps/{app_id}/journeys", read), 201)
        assert copy["Id"] != original["Id"] and copy["ApplicationId"] == app_id
        assert copy["State"] == "DRAFT" and copy["tags"] == {}
        assert copy["CreationDate"] >= original["CreationDate"]
        same = ("Name", "Activities", "StartActivity", "StartCondition", "Schedule", "QuietTime", "RefreshFrequency")
        assert {m: copy[m] for m in same} == {m: original[m] for m in same}
        listed = pinpoint.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"]
        assert sorted(j["Id"] for j in listed) == sorted([original["Id"], copy["Id"]])

    def test_the_tags_of_a_copied_journey_are_not_copied(
        self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]
    ) -> None:
        # WriteJourneyRequest has no tags member: a journey is tagged by TagResource only.
        app_id, segment_id, template = project
        made = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=journey_request(segment_id, template))
        journey_id = made["JourneyResponse"]["Id"]
        s = stack.settings
        arn = f"arn:aws:mobiletargeting:{s.region}:{s.account_id}:apps/{app_id}/journeys/{journey_id}"
        pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"team": "growth"}})
        read = wire(send(stack, "GET", f"/v1/apps/{app_id}/journeys/{journey_id}"))
        assert read["tags"] == {"team": "growth"}
        copy = wire(send(stack, "POST", f"/v1/apps/{app_id}/journeys", read), 201)
        assert copy["tags"] == {}

    def test_a_campaign_copied_whole_keeps_its_tags(
        self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]
    ) -> None:
        app_id, segment_id, _template = project
        request = {**campaign_request(segment_id), "tags": {"team": "growth"}}
        original = wire(send(stack, "POST", f"/v1/apps/{app_id}/campaigns", request), 201)
        read = wire(send(stack, "GET", f"/v1/apps/{app_id}/campaigns/{original['Id']}"))
        assert {"Id", "ApplicationId", "Arn", "CreationDate", "State", "DefaultState", "Version"} <= set(read)
        copy = wire(send(stack, "POST", f"/v1/apps/{app_id}/campaigns", read), 201)
        assert copy["Id"] != original["Id"] and copy["Version"] == 1
        assert copy["tags"] == {"team": "growth"}  # WriteCampaignRequest has tags
        same = ("Name", "Description", "SegmentId", "SegmentVersion", "Schedule", "MessageConfiguration")
        assert {m: copy[m] for m in same} == {m: original[m] for m in same}

    def test_a_segment_copied_whole(self, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, segment_id, _template = project
        read = wire(send(stack, "GET", f"/v1/apps/{app_id}/segments/{segment_id}"))
        assert read["tags"] == {} and read["SegmentType"] == "DIMENSIONAL"
        copy = wire(send(stack, "POST", f"/v1/apps/{app_id}/segments", read), 201)
        assert copy["Id"] != segment_id and copy["Version"] == 1
        assert (copy["Name"], copy["Dimensions"], copy["tags"]) == (read["Name"], read["Dimensions"], {})


# -- a DRAFT journey saved half-built ------------------------------------------------------------


def half_built(segment_id: str, template: str) -> dict[str, Any]:
    """The journey above as the console saves it mid-way: the Wait's time not chosen yet, the
    split's condition not filled in, a multivariate split whose branch has no condition."""
    request = journey_request(segment_id, template)
    activities = request["Activities"]
    activities["b2wait"]["Wait"] = {"NextActivity": "c3opened"}
    activities["c3opened"]["ConditionalSplit"]["Condition"] = {"Conditions": [{}]}
    activities["c3opened"]["ConditionalSplit"]["TrueActivity"] = "e5tiers"
    activities["e5tiers"] = {"MultiCondition": {"Branches": [{"NextActivity": "d4again"}]}}
    return request


HALF_BUILT_ERRORS = [
    ("b2wait", "NO_WAIT_TIME"),
    ("c3opened", "EMPTY_CONDITION"),
    ("e5tiers", "BRANCH_WITHOUT_CONDITION"),
]


def refusal(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


class TestHalfBuiltDraft:
    def test_saved_read_back_and_reviewed(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, segment_id, template = project
        request = half_built(segment_id, template)
        made = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=request)["JourneyResponse"]
        assert made["State"] == "DRAFT" and made["Activities"] == request["Activities"]
        read = pinpoint.get_journey(ApplicationId=app_id, JourneyId=made["Id"])["JourneyResponse"]
        assert read["Activities"] == request["Activities"]
        review = wire(send(stack, "POST", f"/v1/apps/{app_id}/journeys/{made['Id']}/review", {}))
        assert review["Publishable"] is False
        assert [(f["ActivityId"], f["Code"]) for f in review["Errors"]] == HALF_BUILT_ERRORS
        # An UpdateJourney of the DRAFT that is still half-built is saved as well.
        request["Name"] = "Onboarding-v2"
        updated = pinpoint.update_journey(ApplicationId=app_id, JourneyId=made["Id"], WriteJourneyRequest=request)
        assert updated["JourneyResponse"]["Name"] == "Onboarding-v2"

    def test_publishing_it_is_refused_naming_each_activity(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, segment_id, template = project
        made = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=half_built(segment_id, template))
        journey_id = made["JourneyResponse"]["Id"]
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            pinpoint.update_journey_state(
                ApplicationId=app_id, JourneyId=journey_id, JourneyStateRequest={"State": "ACTIVE"}
            )
        message = refusal(e)[1]
        assert message.startswith("Journey validation failed")
        assert all(f"activity {activity}:" in message for activity, _code in HALF_BUILT_ERRORS)
        got = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
        assert got["State"] == "DRAFT"

    def test_created_active_it_is_refused_and_nothing_is_written(
        self, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, segment_id, template = project
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            pinpoint.create_journey(
                ApplicationId=app_id, WriteJourneyRequest={**half_built(segment_id, template), "State": "ACTIVE"}
            )
        assert "activity b2wait: Wait activity 'b2wait' has no WaitTime" in refusal(e)[1]
        assert pinpoint.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"] == []

    def test_finished_it_publishes(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, segment_id, template = project
        made = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=half_built(segment_id, template))
        finished = journey_request(segment_id, template)
        published = pinpoint.update_journey(
            ApplicationId=app_id,
            JourneyId=made["JourneyResponse"]["Id"],
            WriteJourneyRequest={**finished, "State": "ACTIVE"},
        )
        assert published["JourneyResponse"]["State"] == "ACTIVE"

    def test_what_is_malformed_is_still_refused(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, segment_id, template = project
        request = journey_request(segment_id, template)
        request["Activities"]["b2wait"]["Wait"]["WaitTime"] = {"WaitFor": "P1D", "WaitUntil": later(3)}
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=request)
        assert "WriteJourneyRequest.Activities.b2wait.Wait.WaitTime" in refusal(e)[1]
        assert pinpoint.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"] == []


# -- GetEndpoint's RequestId -----------------------------------------------------------------------

# The developer guide's endpoint (audience-define-endpoints): an iPhone in Seattle on APNs.
EXAMPLE_ENDPOINT = {
    "ChannelType": "APNS",
    "Address": "1a2b3c4d5e6f7g8h9i0j1k2l3m4n5o6p7q8r9s0t1u2v3w4x5y6z7a8b9c0d1e2f",
    "Attributes": {"interests": ["technology", "music", "travel"]},
    "Metrics": {"technology_interest_level": 9.0, "music_interest_level": 6.0, "travel_interest_level": 4.0},
    "Demographic": {
        "AppVersion": "1.0",
        "Make": "apple",
        "Model": "iPhone",
        "ModelVersion": "8",
        "Platform": "ios",
        "PlatformVersion": "11.3.1",
        "Timezone": "America/Los_Angeles",
    },
    "Location": {"Country": "US", "City": "Seattle", "PostalCode": "98121", "Latitude": 47.61, "Longitude": -122.33},
}


def request_id_of(pinpoint: Any, app_id: str, endpoint_id: str) -> Any:
    found = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId=endpoint_id)["EndpointResponse"]
    return found.get("RequestId")


class TestEndpointRequestId:
    def test_the_request_that_last_updated_the_endpoint(self, pinpoint: Any, app_id: str) -> None:
        first = pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="example_endpoint", EndpointRequest=EXAMPLE_ENDPOINT
        )
        assert first["MessageBody"]["RequestID"] == first["ResponseMetadata"]["RequestId"]
        assert request_id_of(pinpoint, app_id, "example_endpoint") == first["MessageBody"]["RequestID"]
        second = pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="example_endpoint", EndpointRequest={"OptOut": "ALL"}
        )
        assert second["MessageBody"]["RequestID"] != first["MessageBody"]["RequestID"]
        assert request_id_of(pinpoint, app_id, "example_endpoint") == second["MessageBody"]["RequestID"]

    def test_a_request_id_the_client_sends_is_kept(self, pinpoint: Any, app_id: str) -> None:
        # The Amplify libraries send a RequestId of their own with each endpoint update.
        mine = "7f546cac-6858-11e8-adcd-2b5a07aab338"
        pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="example_endpoint", EndpointRequest={**EXAMPLE_ENDPOINT, "RequestId": mine}
        )
        assert request_id_of(pinpoint, app_id, "example_endpoint") == mine

    def test_batch_and_events_writes_are_requests_too(self, pinpoint: Any, app_id: str) -> None:
        batch = pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [{**EXAMPLE_ENDPOINT, "Id": "a"}, {**EXAMPLE_ENDPOINT, "Id": "b", "Address": "b"}]
            },
        )
        assert {request_id_of(pinpoint, app_id, e) for e in "ab"} == {batch["MessageBody"]["RequestID"]}
        events = pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "a": {
                        "Endpoint": {"Demographic": {"AppVersion": "1.1"}},
                        "Events": {"e1": {"EventType": "app.open", "Timestamp": later(0)}},
                    }
                }
            },
        )
        assert request_id_of(pinpoint, app_id, "a") == events["ResponseMetadata"]["RequestId"]
        assert request_id_of(pinpoint, app_id, "b") == batch["MessageBody"]["RequestID"]


# -- NotFound wording ------------------------------------------------------------------------------


def not_found(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as e:
        call(**params)
    code, message = refusal(e)
    assert code == "NotFoundException"
    return message


class TestNotFoundWording:
    def test_a_missing_project_is_application_not_found(self, pinpoint: Any) -> None:
        gone = {"ApplicationId": "f" * 32}
        for call, extra in (
            (pinpoint.get_app, {}),
            (pinpoint.delete_app, {}),
            (pinpoint.get_segments, {}),
            (pinpoint.get_campaigns, {}),
            (pinpoint.list_journeys, {}),
            (pinpoint.get_import_jobs, {}),
            (pinpoint.get_endpoint, {"EndpointId": "example_endpoint"}),
            (pinpoint.get_email_channel, {}),
        ):
            assert not_found(call, **gone, **extra) == "Application not found", call

    def test_anything_missing_in_a_project_is_resource_not_found(
        self, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, segment_id, _template = project
        ids, missing = {"ApplicationId": app_id}, "0" * 32
        for call, extra in (
            (pinpoint.get_endpoint, {"EndpointId": "example_endpoint"}),
            (pinpoint.delete_endpoint, {"EndpointId": "example_endpoint"}),
            (pinpoint.get_user_endpoints, {"UserId": "nobody"}),
            (pinpoint.get_segment, {"SegmentId": missing}),
            (pinpoint.get_segment_version, {"SegmentId": segment_id, "Version": "9"}),
            (pinpoint.get_campaign, {"CampaignId": missing}),
            (pinpoint.get_campaign_activities, {"CampaignId": missing}),
            (pinpoint.get_journey, {"JourneyId": missing}),
            (pinpoint.get_import_job, {"JobId": missing}),
            (pinpoint.get_sms_channel, {}),
        ):
            assert not_found(call, **ids, **extra) == "Resource not found", call
        for kind in KINDS:
            getter = getattr(pinpoint, f"get_{kind.method}_template")
            assert not_found(getter, TemplateName=f"missing-{secrets.token_hex(4)}") == "Resource not found"

    def test_a_missing_reference_in_a_body_still_names_the_member(
        self, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, _segment_id, _template = project
        message = not_found(
            pinpoint.create_campaign, ApplicationId=app_id, WriteCampaignRequest=campaign_request("0" * 32)
        )
        assert message == f"WriteCampaignRequest.SegmentId: segment {'0' * 32} was not found."


def _listed_app(pinpoint: Any, app_id: str) -> dict[str, Any]:
    """The project as GetApps lists it, paging on (other tests' projects come first in a full run)."""
    token: str | None = None
    while True:
        page = pinpoint.get_apps(PageSize="100", **({"Token": token} if token else {}))["ApplicationsResponse"]
        for app in page["Item"]:
            if app["Id"] == app_id:
                return dict(app)
        token = page.get("NextToken")
        assert token, f"GetApps never listed {app_id}"
