"""Campaigns through boto3: create, read, list, update with versions, delete, tags, the
workflow each time-based campaign gets, and bad input (named member, nothing written)."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError

from tests.stack import Stack

GOLD = {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}
SMS = {"SMSMessage": {"Body": "Hello {{Attributes.Name}}", "MessageType": "PROMOTIONAL"}}
SIGNUP = {"FilterType": "ENDPOINT", "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["signup"]}}}


def later(days: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def segment(pinpoint: Any, app_id: str) -> str:
    resp = pinpoint.create_segment(ApplicationId=app_id, WriteSegmentRequest={"Name": "gold", "Dimensions": GOLD})
    return str(resp["SegmentResponse"]["Id"])


def request(segment_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "SegmentId": segment_id,
        "Name": "spring sale",
        "Schedule": {"StartTime": later(), "Frequency": "ONCE"},
        "MessageConfiguration": SMS,
        **overrides,
    }


def create(pinpoint: Any, app_id: str, req: dict[str, Any]) -> dict[str, Any]:
    resp = pinpoint.create_campaign(ApplicationId=app_id, WriteCampaignRequest=req)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp["CampaignResponse"])


def get(pinpoint: Any, app_id: str, campaign_id: str) -> dict[str, Any]:
    return dict(pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"])


def update(pinpoint: Any, app_id: str, campaign_id: str, req: dict[str, Any]) -> dict[str, Any]:
    resp = pinpoint.update_campaign(ApplicationId=app_id, CampaignId=campaign_id, WriteCampaignRequest=req)
    return dict(resp["CampaignResponse"])


def stored(stack: Stack, app_id: str) -> tuple[int, int]:
    """(campaigns, campaign versions) of the project, as the database has them."""
    row = stack.sql(
        "SELECT (SELECT count(*) FROM campaigns WHERE app_id = $1) AS c,"
        " (SELECT count(*) FROM campaign_versions WHERE app_id = $1) AS v",
        app_id,
    )[0]
    return row["c"], row["v"]


def describe(stack: Stack, app_id: str, campaign_id: str) -> Any:
    """The campaign's workflow once the API's commands for the project have been carried out
    (they travel through the outbox, engine/commands.py); RPCError when there is none."""
    stack.drain_outbox(app_id)
    return stack.run(stack.temporal.get_workflow_handle(f"campaign-{app_id}-{campaign_id}").describe())


def stopped(stack: Stack, app_id: str, campaign_id: str) -> bool:
    """No run of the campaign can start any more: its workflow never started, ended, or was
    asked to stop."""
    try:
        description = describe(stack, app_id, campaign_id)
    except RPCError:
        return True
    return description.status.name != "RUNNING" or cancel_requested(stack, app_id, campaign_id)


def cancel_requested(stack: Stack, app_id: str, campaign_id: str) -> bool:
    """Whether the campaign's workflow was asked to stop (recorded at once, whatever it was doing)."""
    handle = stack.temporal.get_workflow_handle(f"campaign-{app_id}-{campaign_id}")
    history = stack.run(handle.fetch_history())
    return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED for e in history.events)


def refused(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


class TestCreate:
    def test_every_field_round_trips(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        pinpoint.create_email_template(
            TemplateName=f"welcome-{app_id[:6]}", EmailTemplateRequest={"Subject": "Hi", "TextPart": "Hello"}
        )
        treatment_b = {
            "SizePercent": 30,
            "TreatmentName": "B",
            "TreatmentDescription": "shorter copy",
            "MessageConfiguration": {"SMSMessage": {"Body": "Hi"}},
            "Schedule": {"StartTime": later(2), "Frequency": "ONCE"},
        }
        treatment_c = {"SizePercent": 20, "TemplateConfiguration": {"EmailTemplate": {"Name": f"welcome-{app_id[:6]}"}}}
        req = request(
            seg,
            Description="a test",
            HoldoutPercent=10,
            Hook={"WebUrl": "https://hooks.example.com/filter", "Mode": "FILTER"},
            IsPaused=False,
            Limits={"Daily": 2, "Total": 5, "MessagesPerSecond": 50, "MaximumDuration": 600, "Session": 1},
            MessageConfiguration={
                **SMS,
                "EmailMessage": {
                    "Title": "Sale {{User.UserId}}",
                    "HtmlBody": "<p>Hi</p>",
                    "Body": "Hi",
                    "FromAddress": "shop@example.com",
                    "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
                },
                "GCMMessage": {
                    "Title": "Sale",
                    "Body": "Now on",
                    "Action": "URL",
                    "Url": "https://e.com",
                    "TimeToLive": 60,
                },
                "DefaultMessage": {"Body": "Sale now on"},
                "CustomMessage": {"Data": '{"sale": "{{Id}}"}'},
            },
            CustomDeliveryConfiguration={"DeliveryUri": "https://hooks.example.com/in", "EndpointTypes": ["CUSTOM"]},
            Schedule={
                "StartTime": later(),
                "EndTime": later(30),
                "Frequency": "WEEKLY",
                "IsLocalTime": True,
                "QuietTime": {"Start": "22:00", "End": "07:00"},
                "Timezone": "UTC+05:30",
            },
            SegmentVersion=1,
            TemplateConfiguration={"EmailTemplate": {"Name": f"welcome-{app_id[:6]}", "Version": "1"}},
            TreatmentName="A",
            TreatmentDescription="default copy",
            Priority=3,
            AdditionalTreatments=[treatment_b, treatment_c],
            tags={"team": "growth"},
        )
        made = create(pinpoint, app_id, req)
        for member, value in req.items():
            if member != "AdditionalTreatments":
                assert made[member] == value, member
        scheduled = {"CampaignStatus": "SCHEDULED"}
        assert made["AdditionalTreatments"] == [
            {**treatment_b, "Id": "1", "State": scheduled},
            {**treatment_c, "Id": "2", "State": scheduled},
        ]
        assert re.fullmatch(r"[0-9a-f]{32}", made["Id"]) and made["ApplicationId"] == app_id
        assert made["Arn"].endswith(f":apps/{app_id}/campaigns/{made['Id']}") and made["Version"] == 1
        assert made["State"] == made["DefaultState"] == scheduled
        assert made["CreationDate"].endswith("Z") and made["LastModifiedDate"] == made["CreationDate"]
        assert get(pinpoint, app_id, made["Id"]) == made
        definition = stack.sql("SELECT definition FROM campaign_versions WHERE campaign_id = $1", made["Id"])
        assert '"tags"' not in definition[0]["definition"] and '"Id": "2"' in definition[0]["definition"]

    def test_segment_version_is_the_latest_when_written(self, pinpoint: Any, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        pinpoint.update_segment(ApplicationId=app_id, SegmentId=seg, WriteSegmentRequest={"Name": "v2"})
        made = create(pinpoint, app_id, request(seg))
        assert made["SegmentVersion"] == 2
        pinpoint.update_segment(ApplicationId=app_id, SegmentId=seg, WriteSegmentRequest={"Name": "v3"})
        assert get(pinpoint, app_id, made["Id"])["SegmentVersion"] == 2

    def test_a_time_based_campaign_gets_its_workflow(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        made = create(pinpoint, app_id, request(segment(pinpoint, app_id)))
        assert describe(stack, app_id, made["Id"]).id == f"campaign-{app_id}-{made['Id']}"

    def test_an_event_campaign_has_no_workflow(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        schedule = {"StartTime": "IMMEDIATE", "Frequency": "EVENT", "EventFilter": SIGNUP}
        made = create(pinpoint, app_id, request(segment(pinpoint, app_id), Schedule=schedule))
        assert made["Schedule"]["EventFilter"] == SIGNUP
        with pytest.raises(RPCError):
            describe(stack, app_id, made["Id"])


class TestVersions:
    def test_every_update_is_a_new_version(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        made = create(pinpoint, app_id, request(seg, Description="first", tags={"team": "growth"}))
        # The request replaces the definition: Description is gone; tags stay as they were.
        second = update(pinpoint, app_id, made["Id"], request(seg, Name="renamed", tags={"team": "ignored"}))
        assert second["Version"] == 2 and second["Name"] == "renamed" and "Description" not in second
        assert second["tags"] == {"team": "growth"} and second["CreationDate"] == made["CreationDate"]
        update(pinpoint, app_id, made["Id"], request(seg, Name="third"))
        assert get(pinpoint, app_id, made["Id"])["Name"] == "third"
        first = pinpoint.get_campaign_version(ApplicationId=app_id, CampaignId=made["Id"], Version="1")
        assert first["CampaignResponse"]["Description"] == "first" and first["CampaignResponse"]["Version"] == 1
        assert stored(stack, app_id) == (1, 3)

    def test_versions_are_listed_newest_first_in_pages(self, pinpoint: Any, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        made = create(pinpoint, app_id, request(seg))
        for i in range(2):
            update(pinpoint, app_id, made["Id"], request(seg, Name=f"v{i + 2}"))
        page = pinpoint.get_campaign_versions(ApplicationId=app_id, CampaignId=made["Id"], PageSize="2")
        first = page["CampaignsResponse"]
        assert [c["Version"] for c in first["Item"]] == [3, 2] and first["NextToken"]
        rest = pinpoint.get_campaign_versions(ApplicationId=app_id, CampaignId=made["Id"], Token=first["NextToken"])
        assert [c["Version"] for c in rest["CampaignsResponse"]["Item"]] == [1]
        assert "NextToken" not in rest["CampaignsResponse"]

    def test_missing_version(self, pinpoint: Any, app_id: str) -> None:
        made = create(pinpoint, app_id, request(segment(pinpoint, app_id)))
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_campaign_version(ApplicationId=app_id, CampaignId=made["Id"], Version="2")
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.get_campaign_version(ApplicationId=app_id, CampaignId=made["Id"], Version="latest")

    def test_pausing_shows_paused(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        made = create(pinpoint, app_id, request(seg))
        paused = update(pinpoint, app_id, made["Id"], request(seg, IsPaused=True))
        assert paused["State"] == {"CampaignStatus": "PAUSED"} and paused["IsPaused"] is True
        resumed = update(pinpoint, app_id, made["Id"], request(seg, IsPaused=False))
        assert resumed["State"] == {"CampaignStatus": "SCHEDULED"}
        assert describe(stack, app_id, made["Id"]).id  # the same workflow, told to re-read

    def test_turning_into_an_event_campaign_stops_the_workflow(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        made = create(pinpoint, app_id, request(seg))
        event = {"StartTime": "IMMEDIATE", "Frequency": "EVENT", "EventFilter": SIGNUP}
        update(pinpoint, app_id, made["Id"], request(seg, Schedule=event))
        # Either the cancellation reached it, or it read the EVENT definition first and ended.
        assert stopped(stack, app_id, made["Id"])

    def test_update_of_a_missing_campaign(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            update(pinpoint, app_id, "0" * 32, request(segment(pinpoint, app_id)))


class TestListTagsDelete:
    def test_list_pages(self, pinpoint: Any, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        ids = [create(pinpoint, app_id, request(seg, Name=f"c{i}"))["Id"] for i in range(3)]
        first = pinpoint.get_campaigns(ApplicationId=app_id, PageSize="2")["CampaignsResponse"]
        second = pinpoint.get_campaigns(ApplicationId=app_id, Token=first["NextToken"])["CampaignsResponse"]
        assert [c["Id"] for c in first["Item"] + second["Item"]] == ids and "NextToken" not in second

    def test_tags(self, pinpoint: Any, app_id: str) -> None:
        made = create(pinpoint, app_id, request(segment(pinpoint, app_id)))
        pinpoint.tag_resource(ResourceArn=made["Arn"], TagsModel={"tags": {"k": "v", "x": "y"}})
        pinpoint.untag_resource(ResourceArn=made["Arn"], TagKeys=["x"])
        assert pinpoint.list_tags_for_resource(ResourceArn=made["Arn"])["TagsModel"]["tags"] == {"k": "v"}
        assert get(pinpoint, app_id, made["Id"])["tags"] == {"k": "v"}
        missing = made["Arn"].rsplit("/", 1)[0] + "/" + "0" * 32
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.tag_resource(ResourceArn=missing, TagsModel={"tags": {"k": "v"}})

    def test_delete(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        made = create(pinpoint, app_id, request(segment(pinpoint, app_id), tags={"a": "b"}))
        gone = pinpoint.delete_campaign(ApplicationId=app_id, CampaignId=made["Id"])["CampaignResponse"]
        assert gone == made
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, app_id, made["Id"])
        assert stored(stack, app_id) == (0, 0)
        assert stack.sql("SELECT count(*) AS n FROM resource_tags WHERE arn = $1", made["Arn"])[0]["n"] == 0
        assert stopped(stack, app_id, made["Id"])
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.delete_campaign(ApplicationId=app_id, CampaignId=made["Id"])


def _bad_cases() -> list[Any]:
    past = "2020-01-01T00:00:00Z"
    return [
        pytest.param({"SegmentId": None}, "WriteCampaignRequest.SegmentId", id="no-segment"),
        pytest.param({"Name": None}, "WriteCampaignRequest.Name", id="no-name"),
        pytest.param({"Schedule": None}, "WriteCampaignRequest.Schedule", id="no-schedule"),
        pytest.param({"MessageConfiguration": None}, "WriteCampaignRequest.MessageConfiguration", id="no-content"),
        pytest.param({"Schedule": {"StartTime": past}}, "StartTime must be at least current time.", id="past"),
        pytest.param({"Schedule": {"StartTime": "tomorrow"}}, "Schedule.StartTime", id="not-iso"),
        pytest.param({"Schedule": {"StartTime": later(2), "EndTime": later(1)}}, "Schedule.EndTime", id="end"),
        pytest.param({"Schedule": {"StartTime": later(), "Frequency": "IN_APP_EVENT"}}, "not supported", id="in-app"),
        pytest.param({"Schedule": {"StartTime": later(), "Frequency": "EVENT"}}, "Schedule.EventFilter", id="event"),
        pytest.param({"Schedule": {"StartTime": later(), "Timezone": "UTC+14"}}, "Schedule.Timezone", id="zone"),
        pytest.param(
            {"Schedule": {"StartTime": later(), "QuietTime": {"Start": "9pm", "End": "07:00"}}},
            "Schedule.QuietTime.Start",
            id="quiet",
        ),
        pytest.param({"HoldoutPercent": 101}, "WriteCampaignRequest.HoldoutPercent", id="holdout"),
        pytest.param(
            {"HoldoutPercent": 50, "AdditionalTreatments": [{"SizePercent": 51}]},
            "WriteCampaignRequest.AdditionalTreatments",
            id="over-100",
        ),
        pytest.param(
            {"AdditionalTreatments": [{"SizePercent": 1}] * 5}, "WriteCampaignRequest.AdditionalTreatments", id="five"
        ),
        pytest.param({"Limits": {"Daily": 101}}, "Limits.Daily", id="daily"),
        pytest.param({"Limits": {"MessagesPerSecond": 0}}, "Limits.MessagesPerSecond", id="mps"),
        pytest.param({"Limits": {"MaximumDuration": 30}}, "Limits.MaximumDuration", id="duration"),
        pytest.param(
            {"MessageConfiguration": {"APNSMessage": {"Body": "x" * 201}}}, "APNSMessage.Body", id="push-body"
        ),
        pytest.param(
            {"MessageConfiguration": {"CustomMessage": {"Data": "x" * 6000}}}, "CustomMessage.Data", id="data"
        ),
        pytest.param(
            {"MessageConfiguration": {"EmailMessage": {"Body": "x", "Headers": [{"Name": "A", "Value": "b"}] * 16}}},
            "EmailMessage.Headers",
            id="headers",
        ),
        pytest.param(
            {"MessageConfiguration": {"SMSMessage": {"Body": "Hi {{ Attributes.Name"}}},
            "MessageConfiguration.SMSMessage.Body",
            id="syntax",
        ),
        pytest.param(
            {"TemplateConfiguration": {"VoiceTemplate": {"Name": "call"}}}, "VoiceTemplate", id="voice-template"
        ),
        pytest.param(
            {"CustomDeliveryConfiguration": {"DeliveryUri": "arn:aws:lambda:us-east-1:12345:function:f"}},
            "WriteCampaignRequest.CustomDeliveryConfiguration.DeliveryUri",
            id="lambda-arn-malformed",
        ),
        pytest.param(
            {"CustomDeliveryConfiguration": {"DeliveryUri": "arn:aws-cn:lambda:cn-north-1:123456789012:function:f"}},
            "the function is in the aws-cn partition",
            id="lambda-other-partition",
        ),
        pytest.param(
            {"Hook": {"LambdaFunctionName": "arn:aws:lambda:nowhere:1:function:f", "Mode": "FILTER"}},
            "WriteCampaignRequest.Hook.LambdaFunctionName",
            id="hook-malformed",
        ),
        pytest.param(
            {"IsPaused": True, "Schedule": {"StartTime": "IMMEDIATE"}}, "WriteCampaignRequest.IsPaused", id="pause-now"
        ),
    ]


class TestRefused:
    @pytest.mark.parametrize(("overrides", "named"), _bad_cases())
    def test_bad_create_names_the_member_and_writes_nothing(
        self, pinpoint: Any, stack: Stack, app_id: str, overrides: dict[str, Any], named: str
    ) -> None:
        req = {k: v for k, v in request(segment(pinpoint, app_id), **overrides).items() if v is not None}
        with pytest.raises(ClientError) as e:
            pinpoint.create_campaign(ApplicationId=app_id, WriteCampaignRequest=req)
        code, message = refused(e)
        assert code == "BadRequestException" and named in message
        assert stored(stack, app_id) == (0, 0)

    def test_bad_update_writes_no_version(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        made = create(pinpoint, app_id, request(seg))
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            update(pinpoint, app_id, made["Id"], request(seg, HoldoutPercent=120))
        assert "HoldoutPercent" in refused(e)[1]
        assert stored(stack, app_id) == (1, 1) and get(pinpoint, app_id, made["Id"])["Version"] == 1

    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            pytest.param({"SegmentId": "0" * 32}, "WriteCampaignRequest.SegmentId", id="segment"),
            pytest.param({"SegmentVersion": 2}, "WriteCampaignRequest.SegmentVersion", id="segment-version"),
            pytest.param({"TemplateConfiguration": {"SMSTemplate": {"Name": "nope"}}}, "SMSTemplate", id="template"),
        ],
    )
    def test_what_is_missing_is_not_found(
        self, pinpoint: Any, stack: Stack, app_id: str, overrides: dict[str, Any], named: str
    ) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException) as e:
            pinpoint.create_campaign(
                ApplicationId=app_id, WriteCampaignRequest=request(segment(pinpoint, app_id), **overrides)
            )
        assert named in refused(e)[1]
        assert stored(stack, app_id) == (0, 0)

    def test_a_missing_template_version_is_not_found(self, pinpoint: Any, app_id: str) -> None:
        name = f"t-{secrets.token_hex(4)}"
        pinpoint.create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "Hi"})
        seg = segment(pinpoint, app_id)
        config = {"SMSTemplate": {"Name": name, "Version": "2"}}
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            create(pinpoint, app_id, request(seg, TemplateConfiguration=config))
        create(pinpoint, app_id, request(seg, TemplateConfiguration={"SMSTemplate": {"Name": name, "Version": "1"}}))

    def test_at_most_25_event_campaigns(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = segment(pinpoint, app_id)
        event = request(seg, Schedule={"StartTime": "IMMEDIATE", "Frequency": "EVENT", "EventFilter": SIGNUP})
        for _ in range(25):
            create(pinpoint, app_id, event)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            create(pinpoint, app_id, event)
        assert "Schedule.Frequency" in refused(e)[1]
        assert create(pinpoint, app_id, request(seg))["Version"] == 1  # time-based ones are not counted
        assert stored(stack, app_id) == (26, 26)

    def test_an_event_campaign_needs_a_dynamic_segment(
        self, pinpoint: Any, stack: Stack, app_id: str, file_root: Path
    ) -> None:
        folder = file_root / secrets.token_hex(4)
        folder.mkdir()
        (folder / "people.csv").write_text("Id,ChannelType,Address\nep-1,EMAIL,a@example.com\n")
        job = pinpoint.create_import_job(
            ApplicationId=app_id,
            ImportJobRequest={
                "Format": "CSV",
                "S3Url": folder.as_uri(),
                "RoleArn": "arn:aws:iam::123456789012:role/import",
                "DefineSegment": True,
                "SegmentName": "imported",
            },
        )["ImportJobResponse"]
        imported = _finished_import(pinpoint, app_id, job["Id"])["Definition"]["SegmentId"]
        event = {"StartTime": "IMMEDIATE", "Frequency": "EVENT", "EventFilter": SIGNUP}
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            create(pinpoint, app_id, request(imported, Schedule=event))
        assert "WriteCampaignRequest.SegmentId" in refused(e)[1]
        assert stored(stack, app_id) == (0, 0)
        assert create(pinpoint, app_id, request(imported))["SegmentId"] == imported


def _finished_import(pinpoint: Any, app_id: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    while True:
        job = pinpoint.get_import_job(ApplicationId=app_id, JobId=job_id)["ImportJobResponse"]
        if job["JobStatus"] in ("COMPLETED", "FAILED"):
            assert job["JobStatus"] == "COMPLETED", job
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
