"""Endpoints and users through boto3, with Pinpoint's merge, address and user rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.raw import send
from tests.stack import Stack


def get(pinpoint: Any, app_id: str, eid: str) -> Any:
    return pinpoint.get_endpoint(ApplicationId=app_id, EndpointId=eid)["EndpointResponse"]


def put(pinpoint: Any, app_id: str, eid: str, **request: Any) -> Any:
    resp = pinpoint.update_endpoint(ApplicationId=app_id, EndpointId=eid, EndpointRequest=request)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    return resp["MessageBody"]


class TestUpdateEndpoint:
    def test_creates_with_defaults(self, pinpoint: Any, app_id: str) -> None:
        body = put(
            pinpoint,
            app_id,
            "e1",
            Address="ann@example.com",
            ChannelType="EMAIL",
            Demographic={"Timezone": "Europe/Paris", "Platform": "ios"},
            Location={"Country": "FR", "Latitude": 48.8566, "Longitude": 2.3522},
            Metrics={"visits": 3},
            Attributes={"plan": ["gold"]},
        )
        assert body["Message"] == "Accepted" and body["RequestID"]
        ep = get(pinpoint, app_id, "e1")
        assert ep["ApplicationId"] == app_id and ep["Id"] == "e1"
        assert ep["EndpointStatus"] == "ACTIVE" and ep["OptOut"] == "NONE"
        assert 0 <= int(ep["CohortId"]) <= 99
        assert ep["Location"]["Latitude"] == 48.9 and ep["Location"]["Longitude"] == 2.4
        assert ep["Metrics"] == {"visits": 3.0}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ep["CreationDate"])
        assert ep["EffectiveDate"]

    def test_cohort_is_stable_for_an_endpoint_id(self, pinpoint: Any) -> None:
        cohorts = set()
        for _ in range(2):
            app = pinpoint.create_app(CreateApplicationRequest={"Name": "cohort"})["ApplicationResponse"]["Id"]
            put(pinpoint, app, "same-id", Address="x@example.com", ChannelType="EMAIL")
            cohorts.add(get(pinpoint, app, "same-id")["CohortId"])
        assert len(cohorts) == 1

    def test_partial_update_changes_only_what_it_names(self, pinpoint: Any, app_id: str) -> None:
        put(
            pinpoint,
            app_id,
            "e1",
            Address="+15555550100",
            ChannelType="SMS",
            Attributes={"color": ["red", "blue"], "size": ["m"]},
            Demographic={"Timezone": "America/New_York", "Locale": "en_US"},
            OptOut="NONE",
        )
        put(pinpoint, app_id, "e1", Attributes={"color": ["green"]}, Demographic={"Locale": "fr_FR"})
        ep = get(pinpoint, app_id, "e1")
        assert ep["Attributes"] == {"color": ["green"], "size": ["m"]}
        assert ep["Demographic"] == {"Timezone": "America/New_York", "Locale": "fr_FR"}
        assert ep["Address"] == "+15555550100" and ep["ChannelType"] == "SMS"

    def test_opt_out_and_status(self, pinpoint: Any, app_id: str) -> None:
        put(pinpoint, app_id, "e1", Address="x@example.com", ChannelType="EMAIL", OptOut="ALL")
        assert get(pinpoint, app_id, "e1")["OptOut"] == "ALL"
        put(pinpoint, app_id, "e1", EndpointStatus="INACTIVE")
        assert get(pinpoint, app_id, "e1")["EndpointStatus"] == "INACTIVE"
        put(pinpoint, app_id, "e1", Attributes={"a": ["b"]})
        assert get(pinpoint, app_id, "e1")["EndpointStatus"] == "ACTIVE"  # any write reactivates

    def test_same_address_makes_the_other_endpoint_inactive(self, pinpoint: Any, app_id: str) -> None:
        put(pinpoint, app_id, "old", Address="shared@example.com", ChannelType="EMAIL")
        put(pinpoint, app_id, "new", Address="shared@example.com", ChannelType="EMAIL")
        assert get(pinpoint, app_id, "old")["EndpointStatus"] == "INACTIVE"
        assert get(pinpoint, app_id, "new")["EndpointStatus"] == "ACTIVE"

    @pytest.mark.parametrize(
        "request_, field",
        [
            ({"OptOut": "SOMETIMES"}, "OptOut"),
            ({"EndpointStatus": "DELETED"}, "EndpointStatus"),
            ({"Attributes": {"x" * 51: ["v"]}}, "Attributes"),
            ({"Attributes": {"a": ["v" * 101]}}, "Attributes.a"),
            ({"Attributes": {"a": [str(i) for i in range(51)]}}, "Attributes.a"),
            ({"Location": {"Latitude": 91.0}}, "Location.Latitude"),
        ],
    )
    def test_bad_values_are_refused_and_nothing_written(
        self, pinpoint: Any, stack: Stack, app_id: str, request_: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.update_endpoint(ApplicationId=app_id, EndpointId="bad", EndpointRequest=request_)
        err = exc.value.response["Error"]
        assert err["Code"] == "BadRequestException" and field in err["Message"]
        assert stack.sql("SELECT count(*) AS n FROM endpoints WHERE app_id = $1", app_id)[0]["n"] == 0

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"ChannelType": "FAX"}, "EndpointRequest.ChannelType"),
            ({"Attributes": {"a": "not-a-list"}}, "EndpointRequest.Attributes.a"),
            ({"Metrics": {"m": "three"}}, "EndpointRequest.Metrics.m"),
            ({"Demographic": "Paris"}, "EndpointRequest.Demographic"),
        ],
    )
    def test_wrong_types_name_the_member(self, stack: Stack, app_id: str, body: Any, field: str) -> None:
        reply = send(stack, "PUT", f"/v1/apps/{app_id}/endpoints/e1", body)
        assert reply.status == 400 and reply.error_type == "BadRequestException"
        assert field in reply.body["Message"]
        assert stack.sql("SELECT count(*) AS n FROM endpoints WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            put(pinpoint, "a" * 32, "e1", Address="x@example.com")


class TestUsers:
    def test_user_attributes_are_shared_by_the_users_endpoints(self, pinpoint: Any, app_id: str) -> None:
        put(
            pinpoint,
            app_id,
            "phone",
            Address="+15555550101",
            ChannelType="SMS",
            User={"UserId": "u1", "UserAttributes": {"name": ["Ann"]}},
        )
        put(pinpoint, app_id, "mail", Address="ann@example.com", ChannelType="EMAIL", User={"UserId": "u1"})
        put(pinpoint, app_id, "mail", User={"UserId": "u1", "UserAttributes": {"tier": ["gold"]}})
        items = pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="u1")["EndpointsResponse"]["Item"]
        assert {e["Id"] for e in items} == {"phone", "mail"}
        for e in items:
            assert e["User"] == {"UserId": "u1", "UserAttributes": {"name": ["Ann"], "tier": ["gold"]}}

    # Bodies that do not restate User.UserAttributes, as mobile SDKs and AWS samples send them.
    # They used to wipe the user's attributes when the user had a single endpoint.
    @pytest.mark.parametrize(
        "body",
        [
            {"Attributes": {"plan": ["pro"]}},
            {"OptOut": "ALL"},
            {},
            {"User": {"UserId": "u1"}},
        ],
        ids=["attributes", "opt-out", "empty", "user-id-only"],
    )
    @pytest.mark.parametrize("endpoints", [1, 2])
    def test_update_not_naming_user_attributes_keeps_them(
        self, pinpoint: Any, app_id: str, body: dict[str, Any], endpoints: int
    ) -> None:
        self._user_with_attributes(pinpoint, app_id, endpoints)
        put(pinpoint, app_id, "ep0", **body)
        self._assert_user_attributes(pinpoint, app_id, {"HasShoppingCart": ["true"], "name": ["Ann"]})

    @pytest.mark.parametrize("endpoints", [1, 2])
    def test_put_events_with_empty_endpoint_keeps_them(self, pinpoint: Any, app_id: str, endpoints: int) -> None:
        self._user_with_attributes(pinpoint, app_id, endpoints)
        resp = pinpoint.put_events(
            ApplicationId=app_id,
            EventsRequest={
                "BatchItem": {
                    "ep0": {
                        "Endpoint": {},
                        "Events": {"e1": {"EventType": "cart.abandoned", "Timestamp": "2026-11-20T10:00:00Z"}},
                    }
                }
            },
        )
        assert resp["EventsResponse"]["Results"]["ep0"]["EndpointItemResponse"]["StatusCode"] == 202
        self._assert_user_attributes(pinpoint, app_id, {"HasShoppingCart": ["true"], "name": ["Ann"]})

    @pytest.mark.parametrize("endpoints", [1, 2])
    def test_named_user_attribute_replaces_its_list_and_keeps_the_others(
        self, pinpoint: Any, app_id: str, endpoints: int
    ) -> None:
        self._user_with_attributes(pinpoint, app_id, endpoints)
        put(pinpoint, app_id, "ep0", User={"UserAttributes": {"HasShoppingCart": ["false"]}})
        self._assert_user_attributes(pinpoint, app_id, {"HasShoppingCart": ["false"], "name": ["Ann"]})

    @staticmethod
    def _user_with_attributes(pinpoint: Any, app_id: str, endpoints: int) -> None:
        for i in range(endpoints):
            put(
                pinpoint,
                app_id,
                f"ep{i}",
                Address=f"ann{i}@example.com",
                ChannelType="EMAIL",
                User={"UserId": "u1", "UserAttributes": {"HasShoppingCart": ["true"], "name": ["Ann"]}},
            )

    @staticmethod
    def _assert_user_attributes(pinpoint: Any, app_id: str, expected: dict[str, list[str]]) -> None:
        items = pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="u1")["EndpointsResponse"]["Item"]
        assert items
        for e in items:
            assert e["User"] == {"UserId": "u1", "UserAttributes": expected}

    def test_sixteenth_non_push_endpoint_is_refused(self, pinpoint: Any, app_id: str) -> None:
        pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {"Id": f"e{i}", "Address": f"u{i}@example.com", "ChannelType": "EMAIL", "User": {"UserId": "u"}}
                    for i in range(15)
                ]
            },
        )
        with pytest.raises(ClientError) as exc:
            put(pinpoint, app_id, "e15", Address="u15@example.com", ChannelType="EMAIL", User={"UserId": "u"})
        assert exc.value.response["Error"]["Code"] == "BadRequestException"
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, app_id, "e15")
        assert len(pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="u")["EndpointsResponse"]["Item"]) == 15

    def test_sixteenth_push_endpoint_displaces_the_oldest_push_endpoint(self, pinpoint: Any, app_id: str) -> None:
        items = [
            {
                "Id": "gcm-old",
                "Address": "tok-old",
                "ChannelType": "GCM",
                "User": {"UserId": "u"},
                "EffectiveDate": "2020-01-01T00:00:00Z",
            },
            {
                "Id": "gcm-mid",
                "Address": "tok-mid",
                "ChannelType": "GCM",
                "User": {"UserId": "u"},
                "EffectiveDate": "2022-01-01T00:00:00Z",
            },
        ]
        items += [
            {"Id": f"e{i}", "Address": f"u{i}@example.com", "ChannelType": "EMAIL", "User": {"UserId": "u"}}
            for i in range(13)
        ]
        pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
        put(pinpoint, app_id, "gcm-new", Address="tok-new", ChannelType="GCM", User={"UserId": "u"})
        old = get(pinpoint, app_id, "gcm-old")
        assert old["EndpointStatus"] == "INACTIVE" and "User" not in old
        ids = {
            e["Id"] for e in pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="u")["EndpointsResponse"]["Item"]
        }
        assert "gcm-new" in ids and "gcm-mid" in ids and "gcm-old" not in ids and len(ids) == 15

    def test_delete_user_endpoints(self, pinpoint: Any, app_id: str) -> None:
        put(pinpoint, app_id, "a", Address="a@example.com", ChannelType="EMAIL", User={"UserId": "u"})
        put(pinpoint, app_id, "b", Address="b@example.com", ChannelType="EMAIL", User={"UserId": "u"})
        put(pinpoint, app_id, "c", Address="c@example.com", ChannelType="EMAIL", User={"UserId": "other"})
        resp = pinpoint.delete_user_endpoints(ApplicationId=app_id, UserId="u")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert {e["Id"] for e in resp["EndpointsResponse"]["Item"]} == {"a", "b"}
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="u")
        assert get(pinpoint, app_id, "c")["Id"] == "c"


class TestBatchAndDelete:
    def test_batch_writes_every_item(self, pinpoint: Any, app_id: str) -> None:
        resp = pinpoint.update_endpoints_batch(
            ApplicationId=app_id,
            EndpointBatchRequest={
                "Item": [
                    {"Id": "a", "Address": "a@example.com", "ChannelType": "EMAIL"},
                    {"Id": "b", "Address": "+15555550102", "ChannelType": "SMS", "Attributes": {"k": ["v"]}},
                ]
            },
        )
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert get(pinpoint, app_id, "b")["Attributes"] == {"k": ["v"]}

    def test_one_bad_item_writes_nothing(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.update_endpoints_batch(
                ApplicationId=app_id,
                EndpointBatchRequest={
                    "Item": [
                        {"Id": "a", "Address": "a@example.com", "ChannelType": "EMAIL"},
                        {"Id": "b", "OptOut": "MAYBE"},
                    ]
                },
            )
        assert "Item[1].OptOut" in exc.value.response["Error"]["Message"]
        assert stack.sql("SELECT count(*) AS n FROM endpoints WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_more_than_100_items(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.update_endpoints_batch(
                ApplicationId=app_id, EndpointBatchRequest={"Item": [{"Id": f"e{i}"} for i in range(101)]}
            )

    def test_item_without_id(self, stack: Stack, app_id: str) -> None:
        reply = send(stack, "PUT", f"/v1/apps/{app_id}/endpoints", {"Item": [{"Address": "a@example.com"}]})
        assert reply.status == 400 and "Item[0].Id" in reply.body["Message"]

    def test_delete_endpoint_returns_it(self, pinpoint: Any, app_id: str) -> None:
        put(pinpoint, app_id, "gone", Address="gone@example.com", ChannelType="EMAIL")
        resp = pinpoint.delete_endpoint(ApplicationId=app_id, EndpointId="gone")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert resp["EndpointResponse"]["Address"] == "gone@example.com"
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            get(pinpoint, app_id, "gone")
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.delete_endpoint(ApplicationId=app_id, EndpointId="gone")


def test_user_operations_on_an_unknown_user(pinpoint: Any, app_id: str) -> None:
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.delete_user_endpoints(ApplicationId=app_id, UserId="nobody")
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.get_user_endpoints(ApplicationId=app_id, UserId="nobody")
