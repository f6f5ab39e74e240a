"""TagResource, UntagResource, ListTagsForResource on project ARNs."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def arn_of(pinpoint: Any, app_id: str) -> str:
    return str(pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"])


class TestTags:
    def test_tag_list_untag(self, pinpoint: Any, app_id: str) -> None:
        arn = arn_of(pinpoint, app_id)
        resp = pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"env": "prod", "team": "crm", "x": "1"}})
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {
            "env": "prod",
            "team": "crm",
            "x": "1",
        }
        resp = pinpoint.untag_resource(ResourceArn=arn, TagKeys=["team", "x"])
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {"env": "prod"}
        assert pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["tags"] == {"env": "prod"}

    def test_arn_from_another_region_names_the_same_project(self, pinpoint: Any, app_id: str) -> None:
        pinpoint.tag_resource(
            ResourceArn=f"arn:aws:mobiletargeting:eu-west-1:123456789012:apps/{app_id}", TagsModel={"tags": {"k": "v"}}
        )
        assert pinpoint.list_tags_for_resource(ResourceArn=arn_of(pinpoint, app_id))["TagsModel"]["tags"] == {"k": "v"}

    def test_unknown_resource(self, pinpoint: Any) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.list_tags_for_resource(
                ResourceArn="arn:aws:mobiletargeting:us-east-1:000000000000:apps/" + "c" * 32
            )
        assert exc.value.response["Error"]["Code"] == "NotFoundException"

    @pytest.mark.parametrize(
        "arn", ["not-an-arn", "arn:aws:s3:::bucket", "arn:aws:mobiletargeting:us-east-1:1:things/x"]
    )
    def test_malformed_arn(self, pinpoint: Any, arn: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.list_tags_for_resource(ResourceArn=arn)
        assert exc.value.response["Error"]["Code"] == "BadRequestException"

    @pytest.mark.parametrize(
        "tags", [{"aws:cost": "x"}, {"k": "v" * 257}, {"k" * 129: "v"}, {f"k{i}": "v" for i in range(51)}]
    )
    def test_limits(self, pinpoint: Any, app_id: str, tags: dict[str, str]) -> None:
        arn = arn_of(pinpoint, app_id)
        with pytest.raises(ClientError) as exc:
            pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": tags})
        assert exc.value.response["Error"]["Code"] == "BadRequestException"
        assert pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"] == {}

    def test_fifty_tags_in_total(self, pinpoint: Any, app_id: str) -> None:
        arn = arn_of(pinpoint, app_id)
        pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {f"a{i}": "v" for i in range(30)}})
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {f"b{i}": "v" for i in range(21)}})
        assert len(pinpoint.list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"]) == 30
