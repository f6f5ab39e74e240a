"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

from api.sigv4 import SigV4Error, parse_authorization, verify

KEY, SECRET = "OPKEY", "s3cr3t"
NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    service: str = "mobiletargeting",
    region: str = "us-east-1",
    at: datetime = NOW,
    secret: str = SECRET,
) -> dict[str, Any]:
    req = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"} if body else {})
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(KEY, secret), service, region).add_auth(req)
    parts = urlsplit(url)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = parts.netloc
    return {"method": method, "raw_path": parts.path, "raw_query": parts.query, "headers": headers, "body": body}


def check(request: dict[str, Any], now: datetime = NOW, secret: str | None = SECRET) -> Any:
    return verify(**request, secret_for=lambda k: secret if k == KEY else None, now=now)


URL = "http://127.0.0.1:8080"


def test_get_post_and_encoded_paths_verify() -> None:
    assert check(signed("GET", f"{URL}/v1/apps?page-size=2&token=abc")).access_key_id == KEY
    assert check(signed("POST", f"{URL}/v1/apps", b'{"Name":"x"}')).region == "us-east-1"
    arn = "arn%3Aaws%3Amobiletargeting%3Aus-east-1%3A000000000000%3Aapps%2Fabc"
    assert check(signed("DELETE", f"{URL}/v1/tags/{arn}?tagKeys=a&tagKeys=b")).service == "mobiletargeting"


def test_any_region() -> None:
    assert check(signed("GET", f"{URL}/v1/apps", region="eu-west-1")).region == "eu-west-1"


@pytest.mark.parametrize("minutes, ok", [(-16, False), (16, False), (-14, True), (14, True)])
def test_clock_skew(minutes: int, ok: bool) -> None:
    request = signed("GET", f"{URL}/v1/apps", at=NOW + timedelta(minutes=minutes))
    if ok:
        check(request)
    else:
        with pytest.raises(SigV4Error, match="Signature (expired|not yet current)"):
            check(request)


@pytest.mark.parametrize("tamper", ["body", "path", "query", "secret", "key", "service", "header"])
def test_refusals(tamper: str) -> None:
    request = signed(
        "POST",
        f"{URL}/v1/apps/x/endpoints?x=1",
        b'{"Address":"a"}',
        service="s3" if tamper == "service" else "mobiletargeting",
    )
    secret: str | None = SECRET
    if tamper == "body":
        request["body"] = b'{"Address":"b"}'
    elif tamper == "path":
        request["raw_path"] = "/v1/apps/y/endpoints"
    elif tamper == "query":
        request["raw_query"] = "x=2"
    elif tamper == "secret":
        secret = "other"
    elif tamper == "key":
        secret = None
    elif tamper == "header":
        request["headers"]["X-Amz-Date"] = "20261129T120001Z"
    with pytest.raises(SigV4Error):
        check(request, secret=secret)


@pytest.mark.parametrize("auth", [None, "Basic abc", "AWS4-HMAC-SHA256 Credential=x", "AWS4-HMAC-SHA256 garbage"])
def test_malformed_authorization(auth: str | None) -> None:
    with pytest.raises(SigV4Error):
        parse_authorization({"Authorization": auth} if auth else {})


def test_requests_from_a_real_boto3_client_verify() -> None:
    captured: list[Any] = []

    class Raw:
        def stream(self, **_: Any) -> Any:
            return iter([b"{}"])

    def intercept(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, Raw())

    client = boto3.client(
        "pinpoint",
        endpoint_url="http://127.0.0.1:9",
        region_name="ap-south-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    client.meta.events.register("before-send", intercept)
    client.get_apps(PageSize="2", Token="x")
    client.untag_resource(ResourceArn="arn:aws:mobiletargeting:us-east-1:000000000000:apps/abc", TagKeys=["a", "b"])
    client.create_app(CreateApplicationRequest={"Name": "x"})
    assert len(captured) == 3
    for r in captured:
        parts = urlsplit(r.url)
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in r.headers.items()}
        headers["Host"] = parts.netloc
        out = verify(
            method=r.method,
            raw_path=parts.path,
            raw_query=parts.query,
            headers=headers,
            body=r.body or b"",
            secret_for=lambda k: SECRET,
            now=datetime.now(UTC),
        )
        assert out.region == "ap-south-1"
