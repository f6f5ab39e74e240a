"""Journeys through boto3: create, read, list, update, delete, state changes, runs, tags, and bad
input (named member, nothing written); OpenPoint's signed extension routes through raw requests."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from temporalio.api.enums.v1 import EventType

from tests.raw import Reply, send
from tests.stack import Stack

GOLD = {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}
SIGNUP = {"FilterType": "ENDPOINT", "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["signup"]}}}


def later(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def segment(pinpoint: Any, app_id: str, **request: Any) -> str:
    body = request or {"Name": "gold", "Dimensions": GOLD}
    return str(pinpoint.create_segment(ApplicationId=app_id, WriteSegmentRequest=body)["SegmentResponse"]["Id"])


def email_template(pinpoint: Any) -> str:
    name = f"welcome-{secrets.token_hex(4)}"
    pinpoint.create_email_template(TemplateName=name, EmailTemplateRequest={"Subject": "Hi", "TextPart": "Hello"})
    return name


@pytest.fixture
def project(pinpoint: Any, app_id: str) -> tuple[str, str, str]:
    """(app, segment, email template) of a project whose EMAIL channel is enabled."""
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    return app_id, segment(pinpoint, app_id), email_template(pinpoint)


def journey(segment_id: str, template: str, **overrides: Any) -> dict[str, Any]:
    """A publishable journey: email, wait a day, email; entry from a segment refreshed hourly.
    An override of None leaves the member out."""
    req = {
        "Name": "welcome-series",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
        "StartActivity": "welcome",
        "Activities": {
            "welcome": {"EMAIL": {"TemplateName": template, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "followup"}},
            "followup": {"EMAIL": {"TemplateName": template}},
        },
        "Schedule": {"StartTime": later(1), "EndTime": later(30), "Timezone": "UTC"},
        "QuietTime": {"Start": "22:00", "End": "07:00"},
        "RefreshFrequency": "PT1H",
        **overrides,
    }
    return {k: v for k, v in req.items() if v is not None}


def create(pinpoint: Any, app_id: str, req: dict[str, Any]) -> dict[str, Any]:
    resp = pinpoint.create_journey(ApplicationId=app_id, WriteJourneyRequest=req)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp["JourneyResponse"])


def get(pinpoint: Any, app_id: str, journey_id: str) -> dict[str, Any]:
    return dict(pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"])


def update(pinpoint: Any, app_id: str, journey_id: str, req: dict[str, Any]) -> dict[str, Any]:
    resp = pinpoint.update_journey(ApplicationId=app_id, JourneyId=journey_id, WriteJourneyRequest=req)
    return dict(resp["JourneyResponse"])


def set_state(pinpoint: Any, app_id: str, journey_id: str, state: str) -> dict[str, Any]:
    resp = pinpoint.update_journey_state(
        ApplicationId=app_id, JourneyId=journey_id, JourneyStateRequest={"State": state}
    )
    return dict(resp["JourneyResponse"])


def listed(pinpoint: Any, app_id: str) -> list[dict[str, Any]]:
    return list(pinpoint.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"])


def refused(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def journey_arn(stack: Stack, app_id: str, journey_id: str) -> str:
    s = stack.settings
    return f"arn:aws:mobiletargeting:{s.region}:{s.account_id}:apps/{app_id}/journeys/{journey_id}"


def path(app_id: str, journey_id: str, tail: str) -> str:
    return f"/v1/apps/{app_id}/journeys/{journey_id}/{tail}"


class TestCreateGetList:
    def test_a_draft_round_trips_with_its_schedule_datetimes(
        self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        req = journey(seg, template, Limits={"DailyCap": 2, "EndpointReentryCap": 1})
        made = create(pinpoint, app_id, req)
        assert made["State"] == "DRAFT" and made["ApplicationId"] == app_id and len(made["Id"]) == 32
        assert made["Schedule"] == req["Schedule"]  # botocore parsed them back into the same datetimes
        assert isinstance(made["Schedule"]["StartTime"], datetime)
        assert made["Activities"] == req["Activities"] and made["Limits"] == req["Limits"]
        assert made["tags"] == {}
        assert made["CreationDate"].endswith("Z") and made["LastModifiedDate"].endswith("Z")
        assert get(pinpoint, app_id, made["Id"]) == made
        row = stack.sql("SELECT state, published_at FROM journeys WHERE app_id = $1 AND id = $2", app_id, made["Id"])
        assert row[0]["state"] == "DRAFT" and row[0]["published_at"] is None

    def test_created_active_is_published(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        assert made["State"] == "ACTIVE"
        row = stack.sql("SELECT published_at FROM journeys WHERE app_id = $1 AND id = $2", app_id, made["Id"])
        assert row[0]["published_at"] is not None
        stack.drain_outbox(app_id)  # the API's command to the journey's workflow
        handle = stack.temporal.get_workflow_handle(f"journey-{app_id}-{made['Id']}")
        assert stack.run(handle.describe()).id == handle.id  # the journey's workflow was started

    def test_list_pages(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        ids = [create(pinpoint, app_id, journey(seg, template, Name=f"j{i}"))["Id"] for i in range(3)]
        first = pinpoint.list_journeys(ApplicationId=app_id, PageSize="2")["JourneysResponse"]
        second = pinpoint.list_journeys(ApplicationId=app_id, Token=first["NextToken"])["JourneysResponse"]
        assert [j["Id"] for j in first["Item"] + second["Item"]] == ids and "NextToken" not in second

    def test_missing_journey(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, app_id, "0" * 32)


class TestRefused:
    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            pytest.param({"Name": "welcome series"}, "WriteJourneyRequest.Name", id="name"),
            pytest.param({"State": "PAUSED"}, "WriteJourneyRequest.State", id="state"),
            pytest.param({"RefreshFrequency": "P1M"}, "WriteJourneyRequest.RefreshFrequency", id="refresh"),
            pytest.param({"Limits": {"DailyCap": 101}}, "WriteJourneyRequest.Limits.DailyCap", id="cap"),
            pytest.param(
                {"Activities": {"welcome": {"Wait": {"WaitTime": {}}, "Holdout": {"Percentage": 5}}}},
                "WriteJourneyRequest.Activities.welcome",
                id="two-types",
            ),
        ],
    )
    def test_bad_create_names_the_member_and_writes_nothing(
        self, pinpoint: Any, project: tuple[str, str, str], overrides: dict[str, Any], named: str
    ) -> None:
        app_id, seg, template = project
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            create(pinpoint, app_id, journey(seg, template, **overrides))
        assert named in refused(e)[1]
        assert listed(pinpoint, app_id) == []

    @pytest.mark.parametrize(
        ("change", "named"),
        [
            pytest.param(
                lambda r: r["StartCondition"]["SegmentStartCondition"].update(SegmentId="0" * 32),
                "WriteJourneyRequest.StartCondition.SegmentStartCondition.SegmentId",
                id="entry-segment",
            ),
            pytest.param(
                lambda r: r["Activities"]["welcome"]["EMAIL"].update(TemplateName="nope"),
                "WriteJourneyRequest.Activities.welcome.EMAIL.TemplateName",
                id="template",
            ),
            pytest.param(
                lambda r: r["Activities"]["followup"]["EMAIL"].update(TemplateVersion="7"),
                "WriteJourneyRequest.Activities.followup.EMAIL.TemplateName",
                id="template-version",
            ),
            pytest.param(
                lambda r: r["Activities"].update(
                    split={
                        "ConditionalSplit": {
                            "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": "f" * 32}}]},
                            "TrueActivity": "followup",
                        }
                    }
                ),
                "WriteJourneyRequest.Activities.split.ConditionalSplit",
                id="split-segment",
            ),
        ],
    )
    def test_what_is_missing_is_not_found(
        self, pinpoint: Any, project: tuple[str, str, str], change: Any, named: str
    ) -> None:
        app_id, seg, template = project
        req = journey(seg, template)
        change(req)
        with pytest.raises(pinpoint.exceptions.NotFoundException) as e:
            create(pinpoint, app_id, req)
        assert named in refused(e)[1]
        assert listed(pinpoint, app_id) == []

    def test_publishing_a_dangling_next_activity_is_refused(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        req = journey(seg, template, State="ACTIVE")
        req["Activities"]["followup"]["EMAIL"]["NextActivity"] = "goodbye"
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            create(pinpoint, app_id, req)
        assert "activity followup:" in refused(e)[1] and "goodbye" in refused(e)[1]
        assert listed(pinpoint, app_id) == []
        assert create(pinpoint, app_id, {**req, "State": "DRAFT"})["State"] == "DRAFT"  # a draft may be half-built

    def test_a_template_deleted_after_writing_blocks_publishing(
        self, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, _ = project
        template = email_template(pinpoint)
        made = create(pinpoint, app_id, journey(seg, template))
        pinpoint.delete_email_template(TemplateName=template)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            set_state(pinpoint, app_id, made["Id"], "ACTIVE")
        assert "activity welcome:" in refused(e)[1] and "activity followup:" in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"])["State"] == "DRAFT"

    def test_an_event_journey_needs_a_dynamic_segment(
        self, pinpoint: Any, project: tuple[str, str, str], file_root: Path
    ) -> None:
        app_id, _, template = project
        imported = _imported_segment(pinpoint, app_id, file_root)
        built_on = segment(
            pinpoint,
            app_id,
            Name="built-on-import",
            SegmentGroups={"Groups": [{"SourceSegments": [{"Id": imported}]}], "Include": "ALL"},
        )
        for seg in (imported, built_on):
            start = {"EventStartCondition": {"EventFilter": SIGNUP, "SegmentId": seg}}
            with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
                create(pinpoint, app_id, journey(seg, template, StartCondition=start, RefreshFrequency=None))
            assert "StartCondition.EventStartCondition.SegmentId" in refused(e)[1]
        assert listed(pinpoint, app_id) == []

    def test_at_most_20_active_event_journeys(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        start = {"EventStartCondition": {"EventFilter": SIGNUP}}
        req = journey(seg, template, StartCondition=start, State="ACTIVE", RefreshFrequency=None)
        for _ in range(20):
            create(pinpoint, app_id, req)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            create(pinpoint, app_id, req)
        assert "WriteJourneyRequest.State" in refused(e)[1] and "20" in refused(e)[1]
        drafted = create(pinpoint, app_id, {**req, "State": "DRAFT"})  # drafts are not counted
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            set_state(pinpoint, app_id, drafted["Id"], "ACTIVE")
        assert create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))["State"] == "ACTIVE"
        assert len(listed(pinpoint, app_id)) == 22


def _imported_segment(pinpoint: Any, app_id: str, file_root: Path) -> str:
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
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    while True:
        found = pinpoint.get_import_job(ApplicationId=app_id, JobId=job["Id"])["ImportJobResponse"]
        if found["JobStatus"] in ("COMPLETED", "FAILED"):
            assert found["JobStatus"] == "COMPLETED", found
            return str(found["Definition"]["SegmentId"])
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


class TestUpdate:
    def test_a_draft_takes_any_change(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        activities = {"only": {"EMAIL": {"TemplateName": template}}}
        changed = update(
            pinpoint, app_id, made["Id"], journey(seg, template, Activities=activities, StartActivity="only")
        )
        assert changed["Activities"] == activities and changed["State"] == "DRAFT"
        assert changed["CreationDate"] == made["CreationDate"] and get(pinpoint, app_id, made["Id"]) == changed
        published = update(pinpoint, app_id, made["Id"], journey(seg, template, State="ACTIVE"))
        assert published["State"] == "ACTIVE" and published["Activities"]["pause"]

    def test_an_active_journey_changes_only_its_settings(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        req = journey(seg, template, State="ACTIVE")
        made = create(pinpoint, app_id, req)
        sooner = {**req["Schedule"], "EndTime": later(10)}
        changed = update(pinpoint, app_id, made["Id"], {**req, "Name": "renamed", "Schedule": sooner})
        assert changed["Name"] == "renamed" and changed["Schedule"]["EndTime"] == sooner["EndTime"]
        assert changed["State"] == "ACTIVE"

    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            pytest.param({"StartActivity": "pause"}, "WriteJourneyRequest.StartActivity", id="start-activity"),
            pytest.param({"LocalTime": True}, "WriteJourneyRequest.LocalTime", id="local-time"),
            pytest.param({"State": "DRAFT"}, "DRAFT", id="back-to-draft"),
        ],
    )
    def test_an_active_journey_refuses_structural_edits(
        self, pinpoint: Any, project: tuple[str, str, str], overrides: dict[str, Any], named: str
    ) -> None:
        app_id, seg, template = project
        req = journey(seg, template, State="ACTIVE")
        made = create(pinpoint, app_id, req)
        with pytest.raises(pinpoint.exceptions.ConflictException) as e:
            update(pinpoint, app_id, made["Id"], {**req, **overrides})
        assert named in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"]) == made

    def test_an_active_journeys_activities_are_fixed(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        req = journey(seg, template, State="ACTIVE")
        made = create(pinpoint, app_id, req)
        edited = {**req, "Activities": {**req["Activities"], "pause": {"Wait": {"WaitTime": {"WaitFor": "P2D"}}}}}
        with pytest.raises(pinpoint.exceptions.ConflictException) as e:
            update(pinpoint, app_id, made["Id"], edited)
        assert "WriteJourneyRequest.Activities" in refused(e)[1]
        other = {"SegmentStartCondition": {"SegmentId": segment(pinpoint, app_id)}}
        with pytest.raises(pinpoint.exceptions.ConflictException):
            update(pinpoint, app_id, made["Id"], {**req, "StartCondition": other})
        assert get(pinpoint, app_id, made["Id"]) == made

    def test_an_active_journey_cannot_end_in_the_past(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        start = later(-2)
        req = journey(seg, template, State="ACTIVE", Schedule={"StartTime": start, "EndTime": later(5)})
        made = create(pinpoint, app_id, req)
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            update(pinpoint, app_id, made["Id"], {**req, "Schedule": {"StartTime": start, "EndTime": later(-1)}})
        assert "WriteJourneyRequest.Schedule.EndTime" in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"]) == made

    @pytest.mark.parametrize("state", ["PAUSED", "CANCELLED"])
    def test_paused_and_ended_journeys_cannot_be_edited(
        self, pinpoint: Any, project: tuple[str, str, str], state: str
    ) -> None:
        app_id, seg, template = project
        req = journey(seg, template, State="ACTIVE")
        made = create(pinpoint, app_id, req)
        set_state(pinpoint, app_id, made["Id"], state)
        with pytest.raises(pinpoint.exceptions.ConflictException) as e:
            update(pinpoint, app_id, made["Id"], {**req, "Name": "renamed"})
        assert state in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"])["Name"] == req["Name"]

    def test_update_of_a_missing_journey(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            update(pinpoint, app_id, "0" * 32, journey(seg, template))


class TestState:
    def test_draft_publishes(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        assert set_state(pinpoint, app_id, made["Id"], "ACTIVE")["State"] == "ACTIVE"
        row = stack.sql("SELECT published_at FROM journeys WHERE app_id = $1 AND id = $2", app_id, made["Id"])
        assert row[0]["published_at"] is not None

    def test_pausing_needs_a_refresh_frequency(self, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        once = create(pinpoint, app_id, journey(seg, template, State="ACTIVE", RefreshFrequency=None))
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            set_state(pinpoint, app_id, once["Id"], "PAUSED")
        assert "RefreshFrequency" in refused(e)[1]
        assert get(pinpoint, app_id, once["Id"])["State"] == "ACTIVE"
        refreshed = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        assert set_state(pinpoint, app_id, refreshed["Id"], "PAUSED")["State"] == "PAUSED"

    def test_resuming_waits_five_minutes(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        set_state(pinpoint, app_id, made["Id"], "PAUSED")
        with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
            set_state(pinpoint, app_id, made["Id"], "ACTIVE")
        assert "5 minutes" in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"])["State"] == "PAUSED"
        stack.sql(
            "UPDATE journeys SET paused_at = paused_at - interval '5 minutes' WHERE app_id = $1 AND id = $2",
            app_id,
            made["Id"],
        )
        assert set_state(pinpoint, app_id, made["Id"], "ACTIVE")["State"] == "ACTIVE"

    @pytest.mark.parametrize("before", ["DRAFT", "ACTIVE", "PAUSED"])
    def test_cancelling_is_for_good(self, pinpoint: Any, project: tuple[str, str, str], before: str) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="DRAFT" if before == "DRAFT" else "ACTIVE"))
        if before == "PAUSED":
            set_state(pinpoint, app_id, made["Id"], "PAUSED")
        assert set_state(pinpoint, app_id, made["Id"], "CANCELLED")["State"] == "CANCELLED"
        for again in ("ACTIVE", "PAUSED", "CANCELLED"):
            with pytest.raises(pinpoint.exceptions.BadRequestException) as e:
                set_state(pinpoint, app_id, made["Id"], again)
            assert "JourneyStateRequest.State" in refused(e)[1]
        assert get(pinpoint, app_id, made["Id"])["State"] == "CANCELLED"

    @pytest.mark.parametrize("state", ["DRAFT", "COMPLETED", "CLOSED"])
    def test_only_active_paused_and_cancelled_are_requested(
        self, pinpoint: Any, project: tuple[str, str, str], state: str
    ) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            set_state(pinpoint, app_id, made["Id"], state)
        assert get(pinpoint, app_id, made["Id"])["State"] == "ACTIVE"


class TestSegmentUpdates:
    def test_a_journey_refreshing_on_segment_updates_hears_of_them(
        self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE", RefreshOnSegmentUpdate=True))
        pinpoint.update_segment(ApplicationId=app_id, SegmentId=seg, WriteSegmentRequest={"Dimensions": GOLD})
        stack.drain_outbox(app_id)  # the API's command to the journey's workflow
        handle = stack.temporal.get_workflow_handle(f"journey-{app_id}-{made['Id']}")
        signals: list[str] = []
        for _ in range(50):  # the history is read back while the server may still be writing it
            history = stack.run(handle.fetch_history())
            signals = [
                e.workflow_execution_signaled_event_attributes.signal_name
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            ]
            if "segment_changed" in signals:
                break
            time.sleep(0.1)
        assert "segment_changed" in signals


class TestRunsTagsDelete:
    def test_runs_newest_first_in_pages(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        assert pinpoint.get_journey_runs(ApplicationId=app_id, JourneyId=made["Id"])["JourneyRunsResponse"] == {
            "Item": []
        }
        for number, status in enumerate(("COMPLETED", "COMPLETED", "RUNNING")):
            stack.sql(
                "INSERT INTO journey_runs (app_id, journey_id, run_id, run_number, status) VALUES ($1, $2, $3, $4, $5)",
                app_id,
                made["Id"],
                f"run{number}",
                number,
                status,
            )
        first = pinpoint.get_journey_runs(ApplicationId=app_id, JourneyId=made["Id"], PageSize="2")
        page = first["JourneyRunsResponse"]
        second = pinpoint.get_journey_runs(ApplicationId=app_id, JourneyId=made["Id"], Token=page["NextToken"])
        runs = page["Item"] + second["JourneyRunsResponse"]["Item"]
        assert [(r["RunId"], r["Status"]) for r in runs] == [
            ("run2", "RUNNING"),
            ("run1", "COMPLETED"),
            ("run0", "COMPLETED"),
        ]
        assert all(r["CreationTime"].endswith("Z") and r["LastUpdateTime"].endswith("Z") for r in runs)
        assert "NextToken" not in second["JourneyRunsResponse"]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_journey_runs(ApplicationId=app_id, JourneyId="0" * 32)

    def test_tags(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        arn = journey_arn(stack, app_id, made["Id"])
        pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"k": "v", "a": "1"}})
        pinpoint.untag_resource(ResourceArn=arn, TagKeys=["a"])
        assert pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {"k": "v"}
        assert get(pinpoint, app_id, made["Id"])["tags"] == {"k": "v"}
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.tag_resource(ResourceArn=journey_arn(stack, app_id, "0" * 32), TagsModel={"tags": {"k": "v"}})

    def test_delete(self, pinpoint: Any, stack: Stack, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        pinpoint.tag_resource(ResourceArn=journey_arn(stack, app_id, made["Id"]), TagsModel={"tags": {"a": "1"}})
        made = get(pinpoint, app_id, made["Id"])
        gone = pinpoint.delete_journey(ApplicationId=app_id, JourneyId=made["Id"])["JourneyResponse"]
        assert gone == made
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, app_id, made["Id"])
        assert listed(pinpoint, app_id) == []
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.list_tags_for_resource(ResourceArn=journey_arn(stack, app_id, made["Id"]))
        assert stack.sql("SELECT count(*) AS n FROM resource_tags WHERE app_id = $1", app_id)[0]["n"] == 0
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.delete_journey(ApplicationId=app_id, JourneyId=made["Id"])


# -- OpenPoint extensions --------------------------------------------------------------------------
def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    assert reply.headers.get("x-amzn-requestid")
    return reply.body


def error(reply: Reply, code: str) -> str:
    assert reply.error_type == code, reply.body
    assert reply.body["RequestID"] == reply.headers["x-amzn-requestid"]
    return str(reply.body["Message"])


class TestExtensionSigning:
    def test_unsigned_and_badly_signed_calls_are_forbidden(
        self, stack: Stack, project: tuple[str, str, str], pinpoint: Any
    ) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        review = path(app_id, made["Id"], "review")
        assert send(stack, "POST", review, {}, sign=False).status == 403
        error(send(stack, "POST", review, {}, key=(stack.access_key_id, "not-the-secret")), "ForbiddenException")
        elsewhere = stack.add_key(["f" * 32])
        error(send(stack, "POST", review, {}, key=elsewhere), "ForbiddenException")
        reply = send(stack, "GET", path(app_id, made["Id"], "test-runs/abc"), sign=False)
        error(reply, "ForbiddenException")

    def test_bad_json_and_missing_journeys(self, stack: Stack, project: tuple[str, str, str], pinpoint: Any) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template))
        assert "JSON" in error(
            send(stack, "POST", path(app_id, made["Id"], "participants"), raw=b"{"), "BadRequestException"
        )
        error(send(stack, "POST", path(app_id, made["Id"], "participants"), [1]), "BadRequestException")
        error(send(stack, "POST", path(app_id, "0" * 32, "review")), "NotFoundException")
        oversized = b'{"EndpointId":"' + b"x" * (7 * 1024 * 1024) + b'"}'
        error(send(stack, "POST", path(app_id, made["Id"], "participants"), raw=oversized), "PayloadTooLargeException")

    def test_the_routes_are_documented(self, stack: Stack) -> None:
        paths = httpx.get(f"{stack.url}/openapi.json").json()["paths"]
        base = "/v1/apps/{application_id}/journeys/{journey_id}"
        for tail, method in (("review", "post"), ("participants", "post"), ("test-runs", "post")):
            assert method in paths[f"{base}/{tail}"]
        assert "get" in paths[f"{base}/test-runs/{{test_run_id}}"]


class TestReview:
    def test_errors_and_warnings_name_the_activity(
        self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        req = journey(seg, template, QuietTime=None)
        req["Activities"]["followup"]["EMAIL"]["NextActivity"] = "goodbye"
        req["Activities"]["lonely"] = {"Holdout": {"Percentage": 10}}
        made = create(pinpoint, app_id, req)
        body = ok(send(stack, "POST", path(app_id, made["Id"], "review")))
        assert body["JourneyId"] == made["Id"] and body["Publishable"] is False
        errors = {(f.get("ActivityId"), f["Code"]) for f in body["Errors"]}
        assert {("followup", "MISSING_NEXT_ACTIVITY"), ("lonely", "UNREACHABLE_ACTIVITY")} <= errors
        assert "NO_QUIET_TIME" in {f["Code"] for f in body["Warnings"]}
        assert all(f["Message"] for f in body["Errors"] + body["Warnings"])

    def test_a_sound_journey_is_publishable(self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        body = ok(send(stack, "POST", path(app_id, made["Id"], "review"), {}))
        assert body["Publishable"] is True and body["Errors"] == []


def endpoint(pinpoint: Any, app_id: str, endpoint_id: str, user_id: str | None = None) -> None:
    request: dict[str, Any] = {"ChannelType": "EMAIL", "Address": f"{endpoint_id}@example.com"}
    if user_id:
        request["User"] = {"UserId": user_id}
    pinpoint.update_endpoint(ApplicationId=app_id, EndpointId=endpoint_id, EndpointRequest=request)


class TestParticipants:
    @pytest.mark.parametrize(
        ("body", "named"),
        [
            pytest.param({}, "EndpointId", id="nobody"),
            pytest.param({"EndpointId": "ep-1", "UserId": "u-1"}, "EndpointId", id="both"),
            pytest.param({"EndpointId": 5}, "JourneyEntryRequest.EndpointId", id="not-a-string"),
            pytest.param({"EndpointId": "ep-1", "EntryKey": "a b"}, "JourneyEntryRequest.EntryKey", id="key-chars"),
            pytest.param({"EndpointId": "ep-1", "EntryKey": "k" * 129}, "JourneyEntryRequest.EntryKey", id="key-long"),
        ],
    )
    def test_bad_requests_name_the_member(
        self, stack: Stack, pinpoint: Any, project: tuple[str, str, str], body: dict[str, Any], named: str
    ) -> None:
        app_id, seg, template = project
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        assert named in error(
            send(stack, "POST", path(app_id, made["Id"], "participants"), body), "BadRequestException"
        )
        assert stack.sql("SELECT count(*) AS n FROM journey_participants WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_only_active_journeys_and_known_endpoints(
        self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        endpoint(pinpoint, app_id, "ep-1")
        draft = create(pinpoint, app_id, journey(seg, template))
        reply = send(stack, "POST", path(app_id, draft["Id"], "participants"), {"EndpointId": "ep-1"})
        assert "DRAFT" in error(reply, "BadRequestException")
        active = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        reply = send(stack, "POST", path(app_id, active["Id"], "participants"), {"EndpointId": "nobody"})
        error(reply, "NotFoundException")
        assert stack.sql("SELECT count(*) AS n FROM journey_participants WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_an_endpoint_enters_an_active_journey(
        self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        endpoint(pinpoint, app_id, "ep-1")
        made = create(pinpoint, app_id, journey(seg, template, State="ACTIVE"))
        entry = {"EndpointId": "ep-1", "EntryKey": "order:42"}
        body = ok(send(stack, "POST", path(app_id, made["Id"], "participants"), entry))
        assert body["Entered"] is True and body["Participant"] == "ep-1" and body["EntryKey"] == "order:42"
        assert body["WorkflowId"]
        again = ok(send(stack, "POST", path(app_id, made["Id"], "participants"), entry))
        assert again["WorkflowId"] == body["WorkflowId"]  # the same entry, not a new one


class TestTestRuns:
    def test_review_errors_block_a_test_run(self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]) -> None:
        app_id, seg, template = project
        endpoint(pinpoint, app_id, "ep-1")
        req = journey(seg, template)
        req["Activities"]["followup"]["EMAIL"]["NextActivity"] = "goodbye"
        made = create(pinpoint, app_id, req)
        reply = send(stack, "POST", path(app_id, made["Id"], "test-runs"), {"EndpointIds": ["ep-1"]})
        assert "activity followup:" in error(reply, "BadRequestException")
        assert stack.sql("SELECT count(*) AS n FROM journey_test_runs WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_a_test_run_is_started_and_read_back(
        self, stack: Stack, pinpoint: Any, project: tuple[str, str, str]
    ) -> None:
        app_id, seg, template = project
        endpoint(pinpoint, app_id, "ep-1")
        made = create(pinpoint, app_id, journey(seg, template))
        request = {"EndpointIds": ["ep-1"], "Waits": "SKIP", "Delivery": "RECORD"}
        run = ok(send(stack, "POST", path(app_id, made["Id"], "test-runs"), request), 201)
        assert run["JourneyId"] == made["Id"] and [p["EndpointId"] for p in run["Participants"]] == ["ep-1"]
        again = ok(send(stack, "GET", path(app_id, made["Id"], f"test-runs/{run['Id']}")))
        assert again["Id"] == run["Id"] and again["Options"]["Delivery"] == "RECORD"
        bad = send(stack, "POST", path(app_id, made["Id"], "test-runs"), {"EndpointIds": ["ep-1"], "Waits": "NEVER"})
        assert "TestRunRequest.Waits" in error(bad, "BadRequestException")
