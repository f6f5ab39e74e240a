"""The wire contract: SigV4 refusals, error shapes, unknown and unbuilt operations, docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.raw import send
from tests.stack import Stack


class TestSigV4:
    def test_unsigned_request_is_forbidden(self, stack: Stack) -> None:
        reply = send(stack, "GET", "/v1/apps", sign=False)
        assert reply.status == 403 and reply.error_type == "ForbiddenException"
        assert set(reply.body) == {"Message", "RequestID"}

    def test_wrong_secret(self, stack: Stack) -> None:
        client = stack.client(key=(stack.access_key_id, "wrong-secret"))
        with pytest.raises(ClientError) as exc:
            client.get_apps()
        assert exc.value.response["Error"]["Code"] == "ForbiddenException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    def test_unknown_key(self, stack: Stack) -> None:
        with pytest.raises(ClientError) as exc:
            stack.client(key=("OPNOSUCHKEY", "x")).get_apps()
        assert exc.value.response["Error"]["Code"] == "ForbiddenException"

    def test_wrong_service_name(self, stack: Stack) -> None:
        reply = send(stack, "GET", "/v1/apps", service="s3")
        assert reply.status == 403

    @pytest.mark.parametrize("minutes, status", [(-16, 403), (16, 403), (-14, 200), (14, 200)])
    def test_clock_skew(self, stack: Stack, minutes: int, status: int) -> None:
        reply = send(stack, "GET", "/v1/apps", signed_at=datetime.now(UTC) + timedelta(minutes=minutes))
        assert reply.status == status

    def test_tampered_body(self, stack: Stack, app_id: str) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"{stack.url}/v1/apps/{app_id}/endpoints/e1"
        req = AWSRequest(
            method="PUT", url=url, data=b'{"Address":"a@example.com"}', headers={"Content-Type": "application/json"}
        )
        SigV4Auth(Credentials(stack.access_key_id, stack.secret_access_key), "mobiletargeting", "us-east-1").add_auth(
            req
        )
        r = httpx.put(url, content=b'{"Address":"evil@example.com"}', headers=dict(req.headers.items()))
        assert r.status_code == 403
        assert stack.sql("SELECT count(*) AS n FROM endpoints WHERE app_id = $1", app_id)[0]["n"] == 0

    def test_any_region_is_accepted(self, stack: Stack, app_id: str) -> None:
        assert (
            stack.client(region="ap-southeast-2").get_app(ApplicationId=app_id)["ApplicationResponse"]["Id"] == app_id
        )

    def test_key_scoped_to_projects(self, stack: Stack, pinpoint: Any, app_id: str) -> None:
        other = pinpoint.create_app(CreateApplicationRequest={"Name": "other"})["ApplicationResponse"]["Id"]
        scoped = stack.client(key=stack.add_key([app_id]))
        assert scoped.get_app(ApplicationId=app_id)["ApplicationResponse"]["Id"] == app_id
        with pytest.raises(ClientError) as exc:
            scoped.get_app(ApplicationId=other)
        assert exc.value.response["Error"]["Code"] == "ForbiddenException"
        assert [a["Id"] for a in scoped.get_apps()["ApplicationsResponse"]["Item"]] == [app_id]
        with pytest.raises(ClientError) as exc:
            scoped.create_app(CreateApplicationRequest={"Name": "nope"})
        assert exc.value.response["Error"]["Code"] == "ForbiddenException"


class TestErrors:
    def test_request_id_reaches_botocore(self, pinpoint: Any, app_id: str) -> None:
        resp = pinpoint.get_app(ApplicationId=app_id)
        assert len(resp["ResponseMetadata"]["RequestId"]) == 36
        with pytest.raises(ClientError) as exc:
            pinpoint.get_app(ApplicationId="e" * 32)
        assert exc.value.response["ResponseMetadata"]["RequestId"]
        assert exc.value.response["Error"]["Code"] == "NotFoundException"

    def test_malformed_json(self, stack: Stack) -> None:
        reply = send(stack, "POST", "/v1/apps", raw=b'{"Name": ')
        assert reply.status == 400 and reply.error_type == "BadRequestException"
        assert "JSON" in reply.body["Message"]

    def test_body_of_the_wrong_type(self, stack: Stack) -> None:
        reply = send(stack, "POST", "/v1/apps", raw=b'["Name"]')
        assert reply.status == 400 and "CreateApplicationRequest" in reply.body["Message"]

    def test_unknown_path_gets_a_pinpoint_error(self, stack: Stack) -> None:
        reply = send(stack, "GET", "/v1/nothing/here")
        assert reply.status == 404 and reply.error_type == "NotFoundException" and reply.body["RequestID"]

    def test_operation_not_built_yet(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.get_recommender_configurations()
        assert exc.value.response["Error"]["Code"] == "MethodNotAllowedException"
        assert "GetRecommenderConfigurations" in exc.value.response["Error"]["Message"]

    def test_oversized_payload(self, stack: Stack) -> None:
        reply = send(stack, "POST", "/v1/apps", raw=b'{"Name":"' + b"x" * (7 * 1024 * 1024) + b'"}')
        assert reply.status == 413 and reply.error_type == "PayloadTooLargeException"


class TestDocs:
    def test_health_needs_no_auth(self, stack: Stack) -> None:
        assert httpx.get(f"{stack.url}/healthz").json() == {"status": "ok"}

    def test_openapi_describes_the_operations(self, stack: Stack) -> None:
        spec = httpx.get(f"{stack.url}/openapi.json").json()
        create = spec["paths"]["/v1/apps"]["post"]
        assert create["operationId"] == "CreateApp"
        schema = create["requestBody"]["content"]["application/json"]["schema"]
        assert schema["required"] == ["Name"] and "tags" in schema["properties"]
        assert "/v1/apps/{application_id}/events" in spec["paths"]
        assert httpx.get(f"{stack.url}/docs").status_code == 200
