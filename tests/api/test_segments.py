"""Segments through boto3: create, read, list, update with versions, delete, tags, bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.raw import send
from tests.stack import Stack

GOLD = {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}
RECENT = {"Behavior": {"Recency": {"Duration": "DAY_7", "RecencyType": "ACTIVE"}}}


def create(pinpoint: Any, app_id: str, **request: Any) -> dict[str, Any]:
    resp = pinpoint.create_segment(ApplicationId=app_id, WriteSegmentRequest=request)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp["SegmentResponse"])


def code_and_message(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


class TestCrud:
    def test_create_and_get(self, pinpoint: Any, app_id: str) -> None:
        seg = create(pinpoint, app_id, Name="gold", Dimensions=GOLD, tags={"owner": "crm"})
        assert re.fullmatch(r"[0-9a-f]{32}", seg["Id"]) and seg["Version"] == 1
        assert seg["SegmentType"] == "DIMENSIONAL" and seg["Name"] == "gold" and seg["Dimensions"] == GOLD
        assert seg["Arn"].endswith(f":apps/{app_id}/segments/{seg['Id']}") and seg["tags"] == {"owner": "crm"}
        got = pinpoint.get_segment(ApplicationId=app_id, SegmentId=seg["Id"])["SegmentResponse"]
        assert got["Dimensions"] == GOLD and got["CreationDate"] == seg["CreationDate"]

    def test_every_update_makes_a_version_and_old_ones_stay_readable(self, pinpoint: Any, app_id: str) -> None:
        seg = create(pinpoint, app_id, Name="v", Dimensions=GOLD)
        upd = pinpoint.update_segment(
            ApplicationId=app_id, SegmentId=seg["Id"], WriteSegmentRequest={"Dimensions": RECENT}
        )["SegmentResponse"]
        assert upd["Version"] == 2 and upd["Dimensions"] == RECENT and upd["Name"] == "v"
        pinpoint.update_segment(ApplicationId=app_id, SegmentId=seg["Id"], WriteSegmentRequest={"Name": "renamed"})
        v1 = pinpoint.get_segment_version(ApplicationId=app_id, SegmentId=seg["Id"], Version="1")["SegmentResponse"]
        assert v1["Dimensions"] == GOLD and v1["Version"] == 1
        latest = pinpoint.get_segment(ApplicationId=app_id, SegmentId=seg["Id"])["SegmentResponse"]
        assert latest["Version"] == 3 and latest["Name"] == "renamed" and latest["Dimensions"] == RECENT
        versions = pinpoint.get_segment_versions(ApplicationId=app_id, SegmentId=seg["Id"], PageSize="2")
        page = versions["SegmentsResponse"]
        assert [s["Version"] for s in page["Item"]] == [1, 2] and page["NextToken"]
        rest = pinpoint.get_segment_versions(ApplicationId=app_id, SegmentId=seg["Id"], Token=page["NextToken"])
        assert [s["Version"] for s in rest["SegmentsResponse"]["Item"]] == [3]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_segment_version(ApplicationId=app_id, SegmentId=seg["Id"], Version="4")

    def test_list_pages(self, pinpoint: Any, app_id: str) -> None:
        ids = [create(pinpoint, app_id, Name=f"s{i}")["Id"] for i in range(3)]
        first = pinpoint.get_segments(ApplicationId=app_id, PageSize="2")["SegmentsResponse"]
        second = pinpoint.get_segments(ApplicationId=app_id, Token=first["NextToken"])["SegmentsResponse"]
        assert [s["Id"] for s in first["Item"] + second["Item"]] == ids and "NextToken" not in second

    def test_delete(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        seg = create(pinpoint, app_id, Name="gone", Dimensions=GOLD, tags={"a": "b"})
        assert pinpoint.delete_segment(ApplicationId=app_id, SegmentId=seg["Id"])["SegmentResponse"]["Id"] == seg["Id"]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_segment(ApplicationId=app_id, SegmentId=seg["Id"])
        assert stack.sql("SELECT count(*) AS n FROM segment_versions WHERE segment_id = $1", seg["Id"])[0]["n"] == 0
        assert stack.sql("SELECT count(*) AS n FROM resource_tags WHERE arn = $1", seg["Arn"])[0]["n"] == 0

    def test_tags(self, pinpoint: Any, app_id: str) -> None:
        seg = create(pinpoint, app_id, Name="t")
        pinpoint.tag_resource(ResourceArn=seg["Arn"], TagsModel={"tags": {"k": "v"}})
        assert pinpoint.list_tags_for_resource(ResourceArn=seg["Arn"])["TagsModel"]["tags"] == {"k": "v"}
        got = pinpoint.get_segment(ApplicationId=app_id, SegmentId=seg["Id"])["SegmentResponse"]
        assert got["tags"] == {"k": "v"}
        missing = seg["Arn"].rsplit("/", 1)[0] + "/" + "0" * 32
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.tag_resource(ResourceArn=missing, TagsModel={"tags": {"k": "v"}})

    def test_groups_with_source_segments(self, pinpoint: Any, app_id: str) -> None:
        base = create(pinpoint, app_id, Name="base", Dimensions=GOLD)
        groups = {
            "Include": "ALL",
            "Groups": [
                {
                    "SourceSegments": [{"Id": base["Id"], "Version": 1}],
                    "SourceType": "ANY",
                    "Type": "ALL",
                    "Dimensions": [RECENT],
                },
            ],
        }
        seg = create(pinpoint, app_id, Name="grouped", SegmentGroups=groups)
        assert seg["SegmentGroups"] == groups


class TestBadInput:
    def test_unknown_source_segment(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        groups = {"Include": "ALL", "Groups": [{"SourceSegments": [{"Id": "f" * 32}], "Type": "ALL"}]}
        with pytest.raises(ClientError) as exc:
            create(pinpoint, app_id, Name="x", SegmentGroups=groups)
        assert exc.value.response["Error"]["Code"] in ("BadRequestException", "NotFoundException")
        assert stack.sql("SELECT count(*) AS n FROM segments WHERE app_id = $1", app_id)[0]["n"] == 0

    @pytest.mark.parametrize(
        "dimensions, where",
        [
            ({"Location": {"GPSPoint": {"Coordinates": {"Latitude": 95.0, "Longitude": 0.0}}}}, "Latitude"),
            (
                {
                    "Location": {
                        "GPSPoint": {"Coordinates": {"Latitude": 1.0, "Longitude": 1.0}, "RangeInKilometers": -5.0}
                    }
                },
                "RangeInKilometers",
            ),
            ({"Metrics": {"spend": {"ComparisonOperator": "ABOUT", "Value": 3.0}}}, "ComparisonOperator"),
            ({"Attributes": {"Since": {"AttributeType": "BETWEEN", "Values": ["2026-01-01T00:00:00Z"]}}}, "Since"),
            ({"Attributes": {"Since": {"AttributeType": "AFTER", "Values": ["not a date"]}}}, "Since"),
        ],
    )
    def test_semantic_errors_name_the_member(
        self, pinpoint: Any, stack: Stack, app_id: str, dimensions: dict[str, Any], where: str
    ) -> None:
        with pytest.raises(ClientError) as exc:
            create(pinpoint, app_id, Name="bad", Dimensions=dimensions)
        code, message = code_and_message(exc)
        assert code == "BadRequestException" and where in message
        assert stack.sql("SELECT count(*) AS n FROM segments WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_unknown_enum_value(self, stack: Stack, app_id: str) -> None:
        body = {"Dimensions": {"Demographic": {"Platform": {"DimensionType": "MAYBE", "Values": ["ios"]}}}}
        reply = send(stack, "POST", f"/v1/apps/{app_id}/segments", body)
        assert reply.status == 400 and "Dimensions.Demographic.Platform.DimensionType" in reply.body["Message"]

    def test_bad_version_label(self, pinpoint: Any, app_id: str) -> None:
        seg = create(pinpoint, app_id, Name="x")
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.get_segment_version(ApplicationId=app_id, SegmentId=seg["Id"], Version="latest")

    def test_unknown_segment(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.update_segment(ApplicationId=app_id, SegmentId="0" * 32, WriteSegmentRequest={"Name": "x"})
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.delete_segment(ApplicationId=app_id, SegmentId="0" * 32)
