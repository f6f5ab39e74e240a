"""Projects through boto3: create, read, page, delete, settings, removed attributes."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.raw import send
from tests.stack import Stack


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


class TestCreateApp:
    def test_creates_with_tags(self, pinpoint: Any, stack: Stack) -> None:
        resp = pinpoint.create_app(CreateApplicationRequest={"Name": "shop", "tags": {"team": "growth"}})
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
        app = resp["ApplicationResponse"]
        assert re.fullmatch(r"[0-9a-f]{32}", app["Id"])
        assert app["Arn"] == f"arn:aws:mobiletargeting:us-east-1:000000000000:apps/{app['Id']}"
        assert app["Name"] == "shop"
        assert app["tags"] == {"team": "growth"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", app["CreationDate"])
        assert stack.sql("SELECT name FROM apps WHERE id = $1", app["Id"])[0]["name"] == "shop"

    def test_blank_name_is_refused_and_nothing_is_written(self, pinpoint: Any, stack: Stack) -> None:
        before = stack.sql("SELECT count(*) AS n FROM apps")[0]["n"]
        with pytest.raises(ClientError) as exc:
            pinpoint.create_app(CreateApplicationRequest={"Name": "  "})
        code, message = error_of(exc)
        assert code == "BadRequestException" and "Name" in message
        assert stack.sql("SELECT count(*) AS n FROM apps")[0]["n"] == before

    def test_missing_name_is_refused_by_the_server(self, stack: Stack) -> None:
        reply = send(stack, "POST", "/v1/apps", {"tags": {}})
        assert reply.status == 400 and reply.error_type == "BadRequestException"
        assert "CreateApplicationRequest.Name" in reply.body["Message"]
        assert reply.body["RequestID"] == reply.headers["x-amzn-requestid"]

    def test_reserved_tag_prefix_is_refused(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.create_app(CreateApplicationRequest={"Name": "x", "tags": {"aws:owner": "me"}})


class TestGetApps:
    def test_get_app_and_unknown_app(self, pinpoint: Any, app_id: str) -> None:
        assert pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["Id"] == app_id
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_app(ApplicationId="0" * 32)

    def test_pages_with_page_size_and_token(self, pinpoint: Any) -> None:
        mine = {
            pinpoint.create_app(CreateApplicationRequest={"Name": f"page-{i}"})["ApplicationResponse"]["Id"]
            for i in range(3)
        }
        seen: list[str] = []
        token = None
        while True:
            kwargs = {"PageSize": "2", **({"Token": token} if token else {})}
            page = pinpoint.get_apps(**kwargs)["ApplicationsResponse"]
            assert len(page["Item"]) <= 2
            seen += [a["Id"] for a in page["Item"]]
            token = page.get("NextToken")
            if not token:
                break
        assert len(seen) == len(set(seen))
        assert mine <= set(seen)

    @pytest.mark.parametrize("size", ["abc", "0", "100000"])
    def test_bad_page_size(self, pinpoint: Any, size: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.get_apps(PageSize=size)
        assert error_of(exc)[0] == "BadRequestException" and "page-size" in error_of(exc)[1]

    def test_bad_token(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.get_apps(Token="not-a-token!")


class TestDeleteApp:
    def test_removes_everything_of_the_project(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        pinpoint.update_endpoint(
            ApplicationId=app_id,
            EndpointId="e1",
            EndpointRequest={"Address": "a@example.com", "ChannelType": "EMAIL", "User": {"UserId": "u1"}},
        )
        pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "e1": {
                        "Endpoint": {},
                        "Events": {
                            "x": {
                                "EventType": "_session.start",
                                "Timestamp": "2026-11-01T10:00:00Z",
                                "Session": {"Id": "s1", "StartTimestamp": "2026-11-01T10:00:00Z"},
                            }
                        },
                    }
                }
            },
        )
        pinpoint.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={
                "FromAddress": "shop@example.com",
                "Identity": "arn:aws:ses:us-east-1:1:identity/example.com",
            },
        )
        arn = pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["Arn"]
        pinpoint.tag_resource(ResourceArn=arn, TagsModel={"tags": {"k": "v"}})

        deleted = pinpoint.delete_app(ApplicationId=app_id)["ApplicationResponse"]
        assert deleted["Id"] == app_id and deleted["tags"] == {"k": "v"}
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_app(ApplicationId=app_id)
        for table in ("channels", "resource_tags"):  # at once, with the project row
            assert stack.sql(f"SELECT count(*) AS n FROM {table} WHERE app_id = $1", app_id)[0]["n"] == 0, table
        # The big tables are purged by the worker after the answer (tests/api/test_app_purge.py).
        deadline = time.monotonic() + 60
        for table in ("endpoints", "events", "sessions"):
            while stack.sql(f"SELECT count(*) AS n FROM {table} WHERE app_id = $1", app_id)[0]["n"]:
                assert time.monotonic() < deadline, table
                time.sleep(0.2)

    def test_unknown(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.delete_app(ApplicationId="f" * 32)


class TestApplicationSettings:
    def test_stored_and_returned(self, pinpoint: Any, app_id: str) -> None:
        resp = pinpoint.update_application_settings(
            ApplicationId=app_id,
            WriteApplicationSettingsRequest={
                "QuietTime": {"Start": "22:00", "End": "07:30"},
                "Limits": {"Daily": 3, "Total": 10, "MessagesPerSecond": 200, "MaximumDuration": 600},
                "CampaignHook": {"WebUrl": "https://hooks.example.com/filter", "Mode": "FILTER"},
            },
        )["ApplicationSettingsResource"]
        assert resp["QuietTime"] == {"Start": "22:00", "End": "07:30"}
        got = pinpoint.get_application_settings(ApplicationId=app_id)["ApplicationSettingsResource"]
        assert got["ApplicationId"] == app_id
        assert got["Limits"] == {"Daily": 3, "Total": 10, "MessagesPerSecond": 200, "MaximumDuration": 600}
        assert got["CampaignHook"] == {"WebUrl": "https://hooks.example.com/filter", "Mode": "FILTER"}
        assert got["LastModifiedDate"].endswith("Z")

    def test_partial_update_keeps_the_rest(self, pinpoint: Any, app_id: str) -> None:
        pinpoint.update_application_settings(
            ApplicationId=app_id, WriteApplicationSettingsRequest={"QuietTime": {"Start": "22:00", "End": "07:00"}}
        )
        pinpoint.update_application_settings(
            ApplicationId=app_id, WriteApplicationSettingsRequest={"Limits": {"Daily": 5}}
        )
        got = pinpoint.get_application_settings(ApplicationId=app_id)["ApplicationSettingsResource"]
        assert got["QuietTime"] == {"Start": "22:00", "End": "07:00"} and got["Limits"] == {"Daily": 5}

    @pytest.mark.parametrize(
        "request_, field",
        [
            ({"QuietTime": {"Start": "25:00", "End": "07:00"}}, "QuietTime.Start"),
            ({"Limits": {"Daily": 101}}, "Limits.Daily"),
            ({"Limits": {"MessagesPerSecond": 0}}, "Limits.MessagesPerSecond"),
            ({"CampaignHook": {"WebUrl": "ftp://x"}}, "CampaignHook.WebUrl"),
            ({"JourneyLimits": {"DailyCap": -1}}, "JourneyLimits.DailyCap"),
        ],
    )
    def test_bad_values_are_refused_and_nothing_changes(
        self, pinpoint: Any, app_id: str, request_: dict[str, Any], field: str
    ) -> None:
        before = pinpoint.get_application_settings(ApplicationId=app_id)["ApplicationSettingsResource"]
        with pytest.raises(ClientError) as exc:
            pinpoint.update_application_settings(ApplicationId=app_id, WriteApplicationSettingsRequest=request_)
        code, message = error_of(exc)
        assert code == "BadRequestException" and field in message
        after = pinpoint.get_application_settings(ApplicationId=app_id)["ApplicationSettingsResource"]
        assert after == before


class TestRemoveAttributes:
    def test_new_values_of_removed_names_are_not_recorded(self, pinpoint: Any, app_id: str) -> None:
        pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="e1", EndpointRequest={"Attributes": {"color": ["red"], "size": ["m"]}}
        )
        resp = pinpoint.remove_attributes(
            ApplicationId=app_id,
            AttributeType="endpoint-custom-attributes",
            UpdateAttributesRequest={"Blacklist": ["color"]},
        )["AttributesResource"]
        assert resp == {"ApplicationId": app_id, "AttributeType": "endpoint-custom-attributes", "Attributes": ["color"]}
        pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="e1", EndpointRequest={"Attributes": {"color": ["blue"], "size": ["l"]}}
        )
        pinpoint.update_endpoint(
            ApplicationId=app_id, EndpointId="e2", EndpointRequest={"Attributes": {"color": ["green"]}}
        )
        e1 = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="e1")["EndpointResponse"]
        assert e1["Attributes"] == {"color": ["red"], "size": ["l"]}  # stored value kept, new one ignored
        e2 = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="e2")["EndpointResponse"]
        assert "color" not in e2.get("Attributes", {})

    def test_unknown_attribute_type(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.remove_attributes(
                ApplicationId=app_id, AttributeType="colors", UpdateAttributesRequest={"Blacklist": ["x"]}
            )
        assert error_of(exc)[0] == "BadRequestException" and "attribute-type" in error_of(exc)[1]
