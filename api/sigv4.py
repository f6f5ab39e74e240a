"""AWS Signature Version 4, verified on the server with botocore's own canonicalisation.

The request is rebuilt as the client's signer saw it (method, path as sent, query, exactly the
headers listed in SignedHeaders, body, timestamp) and signed again with the stored secret by
botocore's `SigV4Auth`; nothing of the canonical form is re-implemented here, so whatever botocore
signs verifies byte for byte.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from hashlib import sha256
from typing import Any
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_CREDENTIAL = re.compile(r"([^/\s]+)/(\d{8})/([^/\s]+)/([^/\s]+)/aws4_request")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")  # an RFC 9110 token, lowercased as SigV4 requires
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
# Visible ASCII only: urlsplit silently drops tabs and newlines and treats '#' as a fragment, so
# anything else could make two different wire requests share one canonical form.
_PATH = re.compile(r"/[\x21-\x7e]*")
_QUERY = re.compile(r"[\x21-\x7e]*")
# botocore only reads the URL's scheme (plain http: always hash the payload) and path once
# headers_to_sign is overridden; a fixed host keeps a hostile Host header out of URL parsing.
_BASE_URL = "http://openpoint.invalid"


class SigV4Error(Exception):
    """Why a request's signature was refused; str(e) is a message safe to show the caller."""


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    region: str
    service: str
    signed_at: datetime  # aware UTC


def _lowered(headers: Mapping[str, str]) -> dict[str, list[str]]:
    # items() rather than keys: multi-dicts such as Starlette's Headers yield repeated headers
    # there, and SigV4 signs every value of a repeated header.
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), []).append(value)
    return out


def parse_authorization(headers: Mapping[str, str]) -> tuple[str, str, str, str, list[str], str]:
    """-> (access_key_id, date_stamp, region, service, signed_headers, signature); raises SigV4Error
    on malformed/missing."""
    values = _lowered(headers).get("authorization")
    if not values:
        raise SigV4Error("Request is missing Authentication Token.")
    if len(values) > 1:
        raise SigV4Error("The request carries more than one Authorization header.")
    algorithm, _, rest = values[0].strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error(f"Unsupported authorization type: only {ALGORITHM} is accepted.")

    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq or name in fields:
            raise SigV4Error(f"The Authorization header is malformed near {part.strip()!r}.")
        fields[name] = value
    wanted = ("Credential", "SignedHeaders", "Signature")
    if set(fields) != set(wanted):
        missing = [n for n in wanted if n not in fields]
        raise SigV4Error(
            f"Authorization header requires {', '.join(repr(n) for n in missing)}."
            if missing
            else "The Authorization header has parameters other than Credential, SignedHeaders and Signature."
        )

    credential = _CREDENTIAL.fullmatch(fields["Credential"])
    if credential is None:
        raise SigV4Error("The Credential is malformed; expected '<key>/<YYYYMMDD>/<region>/<service>/aws4_request'.")
    signed = fields["SignedHeaders"].split(";")
    if not all(_HEADER_NAME.fullmatch(h) for h in signed) or len(set(signed)) != len(signed):
        raise SigV4Error("SignedHeaders must be distinct lowercase header names separated by ';'.")
    if _SIGNATURE.fullmatch(fields["Signature"]) is None:
        raise SigV4Error("The Signature must be 64 lowercase hexadecimal digits.")
    key_id, date_stamp, region, service = credential.groups()
    return key_id, date_stamp, region, service, signed, fields["Signature"]


def _timestamp(headers: dict[str, list[str]]) -> tuple[str, datetime]:
    """The signing time as SigV4 writes it into the string to sign, and as an aware datetime."""
    if "x-amz-date" in headers:
        stamp = headers["x-amz-date"][0]
        try:
            at = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            at = None
        # strptime accepts unpadded fields; the round trip insists on the exact basic format.
        if at is None or at.strftime(_TIMESTAMP) != stamp:
            raise SigV4Error("X-Amz-Date must be of the form YYYYMMDD'T'HHMMSS'Z'.")
        return stamp, at
    if "date" in headers:
        try:
            at = parsedate_to_datetime(headers["date"][0])
        except (TypeError, ValueError):
            raise SigV4Error("The Date header is not an HTTP date.") from None
        # "-0000" parses to a naive datetime; RFC 5322 means UTC by it.
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return at.strftime(_TIMESTAMP), at
    raise SigV4Error("Authorization requires an X-Amz-Date or Date header.")


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    # Decoded so botocore re-encodes them the SigV4 way (RFC 3986, uppercase hex) whatever escaping
    # the client chose on the wire; botocore's own wire encoding round-trips unchanged.
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&"):
        if item:
            key, _, value = item.partition("=")
            try:
                pairs.append((unquote(key, errors="strict"), unquote(value, errors="strict")))
            except UnicodeDecodeError:
                raise SigV4Error("The query string is not percent-encoded UTF-8.") from None
    return pairs


class _AsSigned(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, but signing the headers the client chose: botocore's own choice leaves out
    names such as user-agent that another client may legitimately sign."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        return request.headers  # verify() puts exactly the SignedHeaders there


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew_seconds: int = 900,
    expected_service: str = "mobiletargeting",
) -> SignedRequest:
    key_id, date_stamp, region, service, signed, signature = parse_authorization(headers)
    if service != expected_service:
        raise SigV4Error(f"Credential should be scoped to correct service: '{expected_service}'.")
    if "host" not in signed:
        raise SigV4Error("The host header must be signed.")
    lowered = _lowered(headers)
    missing = [h for h in signed if h not in lowered]
    if missing:
        raise SigV4Error(f"The signed header '{missing[0]}' is missing from the request.")

    stamp, signed_at = _timestamp(lowered)
    if stamp[:8] != date_stamp:
        raise SigV4Error(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date_stamp}' != '{stamp[:8]}', from '{stamp}'."
        )
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    skew = (signed_at - now).total_seconds()
    limit = f"{max_skew_seconds // 60} min." if max_skew_seconds % 60 == 0 else f"{max_skew_seconds} s"
    if skew < -max_skew_seconds:
        raise SigV4Error(f"Signature expired: {stamp} is now earlier than {now:%Y%m%dT%H%M%SZ} - {limit}")
    if skew > max_skew_seconds:
        raise SigV4Error(f"Signature not yet current: {stamp} is still later than {now:%Y%m%dT%H%M%SZ} + {limit}")

    if _PATH.fullmatch(raw_path) is None or "?" in raw_path or "#" in raw_path:
        raise SigV4Error("The request path cannot be verified: it must be visible ASCII, percent-encoded.")
    if _QUERY.fullmatch(raw_query) is None or "#" in raw_query:
        raise SigV4Error("The query string cannot be verified: it must be visible ASCII, percent-encoded.")
    # botocore takes a signed X-Amz-Content-SHA256 on trust as the payload hash, so hold it to the body
    # here; that also refuses UNSIGNED-PAYLOAD, which no Pinpoint operation uses.
    if "x-amz-content-sha256" in signed and lowered["x-amz-content-sha256"][0] != sha256(body).hexdigest():
        raise SigV4Error("The provided 'x-amz-content-sha256' header does not match what was computed.")

    secret = secret_for(key_id)
    if secret is None:
        raise SigV4Error("The security token included in the request is invalid.")

    request = AWSRequest(method=method, url=_BASE_URL + raw_path, data=body, params=_query_pairs(raw_query))
    for name in signed:
        for value in lowered[name]:
            request.headers[name] = value  # HTTPHeaders appends, keeping repeated values
    request.context["timestamp"] = stamp
    auth = _AsSigned(Credentials(key_id, secret), service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        raise SigV4Error("The request signature we calculated does not match the signature you provided.")
    return SignedRequest(access_key_id=key_id, region=region, service=service, signed_at=signed_at)
