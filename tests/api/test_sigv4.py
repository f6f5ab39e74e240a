"""api.sigv4 against requests signed by botocore itself, both by its signer directly and by a real
boto3 Pinpoint client. No network: the client's request is caught before it is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from starlette.datastructures import Headers

from api.sigv4 import SignedRequest, SigV4Error, parse_authorization, verify

KEY, SECRET = "OPKEY0000000000000000", "op-secret-key"
BASE = "http://127.0.0.1:8080"
ARN = "arn%3Aaws%3Amobiletargeting%3Aus-east-1%3A000000000000%3Aapps%2Fabc"


@dataclass(frozen=True)
class Wire:
    """A request as the server receives it."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def with_header(self, name: str, value: str) -> Wire:
        return replace(self, headers={**self.headers, name: value})


def on_the_wire(request: Any) -> Wire:
    """What an HTTP client sends for a signed AWSRequest or AWSPreparedRequest; the Host header is
    added by urllib3 from the URL, as botocore assumed when signing."""
    prepared = request.prepare() if isinstance(request, AWSRequest) else request
    url = urlsplit(prepared.url)
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    headers["Host"] = url.netloc
    return Wire(prepared.method, url.path, url.query, headers, prepared.body or b"")


def sign(
    method: str,
    target: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    service: str = "mobiletargeting",
    token: str | None = None,
    signer: type[SigV4Auth] = SigV4Auth,
) -> Wire:
    request = AWSRequest(method=method, url=BASE + target, data=body, headers=headers or {})
    signer(Credentials(KEY, SECRET, token), service, region).add_auth(request)
    return on_the_wire(request)


def check(wire: Wire, *, now: datetime | None = None, secret: str | None = SECRET) -> SignedRequest:
    # `now` defaults to the signing time itself: signing at the real clock and judging skew relative
    # to it needs no patching of botocore's clock, whatever botocore calls it in a given version.
    return verify(
        method=wire.method,
        raw_path=wire.raw_path,
        raw_query=wire.raw_query,
        headers=wire.headers,
        body=wire.body,
        secret_for=lambda k: secret if k == KEY else None,
        now=wire.signed_at if now is None else now,
    )


def refused(wire: Wire, match: str, **kwargs: Any) -> None:
    with pytest.raises(SigV4Error, match=match):
        check(wire, **kwargs)


MISMATCH = "signature we calculated does not match"


def next_second(at: datetime) -> datetime:
    # Within the same minute, so a tampered time never crosses into another credential date.
    return at.replace(second=(at.second + 1) % 60)


JSON = {"Content-Type": "application/json"}


# --- accepted -------------------------------------------------------------------------------


def test_get_without_body() -> None:
    wire = sign("GET", "/v1/apps")
    out = check(wire)
    assert out == SignedRequest(KEY, "us-east-1", "mobiletargeting", wire.signed_at)
    assert out.signed_at.tzinfo is UTC


def test_post_with_json_body() -> None:
    assert check(sign("POST", "/v1/apps", b'{"Name":"x"}', headers=JSON)).access_key_id == KEY


def test_percent_encoded_arn_in_path() -> None:
    # botocore quotes the already-encoded path once more (%3A -> %253A): non-S3 SigV4 double-encodes.
    check(sign("GET", f"/v1/tags/{ARN}"))


@pytest.mark.parametrize("query", ["tagKeys=a&tagKeys=b", "tagKeys=b&tagKeys=a", "page-size=2&token=x", "z=1&a=2"])
def test_query_strings(query: str) -> None:
    check(sign("DELETE", f"/v1/tags/{ARN}?{query}"))


def test_query_escaped_differently_on_the_wire() -> None:
    # Canonical query values are re-encoded from their decoded form, so a client that sends ':' bare
    # or lowercase hex still verifies against a canonical form that has %3A.
    wire = sign("GET", "/v1/apps?token=a%3Ab%2Fc")
    check(replace(wire, raw_query="token=a:b%2fc"))


def test_other_region_accepted() -> None:
    assert check(sign("GET", "/v1/apps", region="eu-west-1")).region == "eu-west-1"


def test_temporary_credentials_sign_the_session_token() -> None:
    wire = sign("GET", "/v1/apps", token="session-token")
    assert "x-amz-security-token" in wire.headers["Authorization"]
    check(wire)
    refused(wire.with_header("X-Amz-Security-Token", "other-token"), MISMATCH)


def test_header_names_in_any_case() -> None:
    wire = sign("POST", "/v1/apps", b"{}", headers=JSON)
    check(replace(wire, headers={k.lower(): v for k, v in wire.headers.items()}), now=wire.signed_at)
    check(replace(wire, headers={k.upper(): v for k, v in wire.headers.items()}), now=wire.signed_at)


def test_headers_botocore_would_not_sign() -> None:
    class SignsUserAgent(SigV4Auth):  # type: ignore[misc]
        def headers_to_sign(self, request: AWSRequest) -> Any:
            out = super().headers_to_sign(request)
            out["user-agent"] = request.headers["User-Agent"]
            return out

    wire = sign("GET", "/v1/apps", headers={"User-Agent": "other-sdk/1.0"}, signer=SignsUserAgent)
    assert "user-agent" in wire.headers["Authorization"]
    check(wire)
    refused(wire.with_header("User-Agent", "other-sdk/2.0"), MISMATCH)


def test_repeated_signed_header_from_a_multidict() -> None:
    request = AWSRequest(method="GET", url=BASE + "/v1/apps")
    request.headers["X-Custom"] = "one"
    request.headers["X-Custom"] = "two"  # HTTPHeaders appends: a header sent twice, signed as "one,two"
    SigV4Auth(Credentials(KEY, SECRET), "mobiletargeting", "us-east-1").add_auth(request)
    wire = on_the_wire(request)
    raw = [(k.lower().encode(), v.encode()) for k, v in wire.headers.items() if k != "X-Custom"]
    twice = Headers(raw=[*raw, (b"x-custom", b"one"), (b"x-custom", b"two")])
    verify(
        method="GET",
        raw_path=wire.raw_path,
        raw_query="",
        headers=twice,
        body=b"",
        secret_for=lambda _: SECRET,
        now=wire.signed_at,
    )


def test_signed_content_sha256_must_match_the_body() -> None:
    body = b'{"Name":"x"}'
    wire = sign("POST", "/v1/apps", body, headers={**JSON, "X-Amz-Content-SHA256": sha256(body).hexdigest()})
    assert "x-amz-content-sha256" in wire.headers["Authorization"]
    check(wire)
    # botocore would take the signed hash on trust and pass the signature; the body must not be free.
    refused(replace(wire, body=b'{"Name":"y"}'), "x-amz-content-sha256")


def test_unsigned_payload_refused() -> None:
    wire = sign("POST", "/v1/apps", b"{}", headers={**JSON, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    refused(wire, "x-amz-content-sha256")


def test_date_header_when_there_is_no_x_amz_date() -> None:
    # botocore signs with Date, rewritten to the signing time (as "..., -0000"), and adds no
    # X-Amz-Date when the request already carries a Date.
    wire = sign("GET", "/v1/apps", headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert "X-Amz-Date" not in wire.headers
    signed_at = parsedate_to_datetime(wire.headers["Date"]).replace(tzinfo=UTC)
    assert check(wire, now=signed_at).signed_at == signed_at
    refused(
        wire.with_header("Date", format_datetime(next_second(signed_at), usegmt=True)),
        MISMATCH,
        now=signed_at,
    )


# --- clock skew -----------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [14, -14, 15, -15])
def test_skew_within_the_limit(minutes: int) -> None:
    wire = sign("GET", "/v1/apps")
    check(wire, now=wire.signed_at + timedelta(minutes=minutes))


def test_signed_16_minutes_ago_is_expired() -> None:
    wire = sign("GET", "/v1/apps")
    refused(wire, "^Signature expired", now=wire.signed_at + timedelta(minutes=16))


def test_signed_16_minutes_ahead_is_not_yet_current() -> None:
    wire = sign("GET", "/v1/apps")
    refused(wire, "^Signature not yet current", now=wire.signed_at - timedelta(minutes=16))


# --- refused --------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    refused(sign("GET", "/v1/apps"), MISMATCH, secret="not-the-secret")


def test_unknown_key() -> None:
    refused(sign("GET", "/v1/apps"), "security token included in the request is invalid", secret=None)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda w: replace(w, body=b'{"Name":"y"}'),
        lambda w: replace(w, raw_path="/v1/apps/other"),
        lambda w: replace(w, raw_path=w.raw_path.replace("%2Fabc", "%2Fabd")),
        lambda w: replace(w, raw_query="tagKeys=a"),
        lambda w: replace(w, method="PUT"),
        lambda w: w.with_header("Content-Type", "text/plain"),
        lambda w: w.with_header("Host", "127.0.0.1:8081"),
        lambda w: w.with_header("X-Amz-Date", next_second(w.signed_at).strftime("%Y%m%dT%H%M%SZ")),
    ],
    ids=["body", "path", "path-label", "query", "method", "signed-header", "host", "date"],
)
def test_tampered_request(tamper: Callable[[Wire], Wire]) -> None:
    wire = sign("POST", f"/v1/tags/{ARN}?tagKeys=a&tagKeys=b", b'{"Name":"x"}', headers=JSON)
    check(wire)
    refused(tamper(wire), MISMATCH)


def test_unsigned_headers_may_change() -> None:
    wire = sign("GET", "/v1/apps")
    check(wire.with_header("amz-sdk-request", "attempt=2; max=3"))


def test_wrong_service_in_scope() -> None:
    refused(sign("GET", "/v1/apps", service="s3"), "scoped to correct service: 'mobiletargeting'")


def test_credential_date_must_match_x_amz_date() -> None:
    wire = sign("GET", "/v1/apps")
    day_before = (wire.signed_at - timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    refused(wire.with_header("X-Amz-Date", day_before), "Date in Credential scope does not match", now=wire.signed_at)


def test_missing_date() -> None:
    wire = sign("GET", "/v1/apps")
    refused(replace(wire, headers=_without(wire, "X-Amz-Date")), "'x-amz-date' is missing", now=wire.signed_at)
    # Even when not signed, the time is part of the string to sign and so cannot be left out.
    headers = _without(wire, "X-Amz-Date")
    headers["Authorization"] = headers["Authorization"].replace(";x-amz-date", "")
    refused(replace(wire, headers=headers), "X-Amz-Date or Date", now=wire.signed_at)


def _without(wire: Wire, name: str) -> dict[str, str]:
    return {k: v for k, v in wire.headers.items() if k != name}


def test_malformed_x_amz_date() -> None:
    wire = sign("GET", "/v1/apps")
    malformed = wire.with_header("X-Amz-Date", wire.headers["X-Amz-Date"].replace("T", " "))
    refused(malformed, "X-Amz-Date must be", now=wire.signed_at)


def test_host_must_be_signed() -> None:
    wire = sign("GET", "/v1/apps")
    auth = wire.headers["Authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    refused(wire.with_header("Authorization", auth), "host header must be signed")


def test_signed_header_absent_from_request() -> None:
    wire = sign("POST", "/v1/apps", b"{}", headers=JSON)
    refused(replace(wire, headers=_without(wire, "Content-Type")), "'content-type'")


@pytest.mark.parametrize("path", ["/v1/apps#x", "/v1/ap\tps", "/v1/apps?x=1", "v1/apps", "/v1/äpps"])
def test_unverifiable_path(path: str) -> None:
    refused(replace(sign("GET", "/v1/apps"), raw_path=path), "request path cannot be verified")


def test_missing_authorization() -> None:
    wire = sign("GET", "/v1/apps")
    refused(replace(wire, headers=_without(wire, "Authorization")), "missing")
    with pytest.raises(SigV4Error, match="missing Authentication Token"):
        parse_authorization({})


GOOD = (
    "AWS4-HMAC-SHA256 Credential=AK/20261129/us-east-1/mobiletargeting/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


@pytest.mark.parametrize(
    "auth",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA1 Credential=AK/20261129/us-east-1/mobiletargeting/aws4_request",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=x",
        "AWS4-HMAC-SHA256 garbage",
        GOOD.replace("Credential=AK/", "Credential="),
        GOOD.replace("/aws4_request", "/aws5_request"),
        GOOD.replace("20261129", "2026-11-29"),
        GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders="),
        GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=Host;X-Amz-Date"),
        GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host;host"),
        GOOD.replace("0" * 64, "0" * 63),
        GOOD.replace("0" * 64, "A" * 64),
        GOOD + ", Signature=" + "0" * 64,
        GOOD + ", Extra=1",
    ],
)
def test_malformed_authorization(auth: str) -> None:
    with pytest.raises(SigV4Error):
        parse_authorization({"Authorization": auth})


def test_parse_authorization() -> None:
    assert parse_authorization({"authorization": GOOD}) == (
        "AK",
        "20261129",
        "us-east-1",
        "mobiletargeting",
        ["host", "x-amz-date"],
        "0" * 64,
    )
    # Separators without spaces are as valid as botocore's ", ".
    assert parse_authorization({"AUTHORIZATION": GOOD.replace(", ", ",")})[4] == ["host", "x-amz-date"]


# --- a real boto3 client ------------------------------------------------------------------------


class _Raw:
    def stream(self, **_: Any) -> Any:
        return iter([b"{}"])


def sent_by_boto3(call: Callable[[Any], Any], *, token: str | None = None) -> Wire:
    """The one request a real Pinpoint client sends for `call`, caught before it leaves."""
    sent: list[Wire] = []

    def intercept(request: Any, **_: Any) -> AWSResponse:
        sent.append(on_the_wire(request))
        return AWSResponse(request.url, 200, {}, _Raw())

    client = boto3.client(
        "pinpoint",
        endpoint_url="http://127.0.0.1:9",
        region_name="ap-south-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
    )
    client.meta.events.register("before-send", intercept)
    call(client)
    [wire] = sent
    return wire


def untag(client: Any) -> Any:
    return client.untag_resource(
        ResourceArn="arn:aws:mobiletargeting:us-east-1:000000000000:apps/abc", TagKeys=["a", "b"]
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_apps(PageSize="2", Token="x"),
        untag,
        lambda c: c.create_app(CreateApplicationRequest={"Name": "x"}),
    ],
    ids=["get_apps", "untag_resource", "create_app"],
)
@pytest.mark.parametrize("token", [None, "session-token"])
def test_real_boto3_client(call: Callable[[Any], Any], token: str | None) -> None:
    wire = sent_by_boto3(call, token=token)
    assert check(wire, now=datetime.now(UTC)) == SignedRequest(KEY, "ap-south-1", "mobiletargeting", wire.signed_at)
    refused(replace(wire, body=wire.body + b" "), MISMATCH)


def test_real_client_wire_form() -> None:
    # What the ARN and repeated-query tests above stand for: labels arrive percent-encoded, '/' too,
    # and a list in the query is the key repeated.
    wire = sent_by_boto3(untag)
    assert (wire.raw_path, wire.raw_query) == (f"/v1/tags/{ARN}", "tagKeys=a&tagKeys=b")
