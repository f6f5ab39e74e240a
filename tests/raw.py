"""Signed HTTP requests that boto3 would refuse to send (wrong types, broken JSON), for the
server-side validation tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.stack import Stack


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: Any

    @property
    def error_type(self) -> Any:
        return self.headers.get("x-amzn-errortype")


def send(
    stack: Stack,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    key: tuple[str, str] | None = None,
    service: str = "mobiletargeting",
    region: str = "us-east-1",
    signed_at: datetime | None = None,
    sign: bool = True,
) -> Reply:
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    url = stack.url + path
    headers = {"Content-Type": "application/json"} if data else {}
    if sign:
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        ak, sk = key or (stack.access_key_id, stack.secret_access_key)
        auth = SigV4Auth(Credentials(ak, sk), service, region)
        if signed_at is None:
            auth.add_auth(request)
        else:
            naive_utc = signed_at.astimezone(UTC).replace(tzinfo=None)
            with mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc):
                auth.add_auth(request)
        headers = dict(request.headers.items())
    response = httpx.request(method, url, content=data, headers=headers, timeout=60)
    parsed = orjson.loads(response.content) if response.content else None
    return Reply(response.status_code, response.headers, parsed)
