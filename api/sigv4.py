"""AWS Signature Version 4, verified on the server with botocore's own canonicalisation.

The request is rebuilt as botocore would have signed it (same method, raw path, raw query,
exactly the headers the client listed in SignedHeaders, same body and timestamp) and the
signature recomputed with the secret; nothing of the canonical form is re-implemented here.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


class SigV4Error(Exception):
    """Why a request's signature was refused; str(e) is a message safe to show the caller."""


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    region: str
    service: str
    signed_at: datetime  # aware UTC


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def parse_authorization(headers: Mapping[str, str]) -> tuple[str, str, str, str, list[str], str]:
    """-> (access_key_id, date_stamp, region, service, signed_headers, signature)."""
    value = _lower(headers).get("authorization")
    if not value:
        raise SigV4Error("Missing Authentication Token: the request is not signed with AWS Signature Version 4.")
    if not value.startswith(ALGORITHM):
        raise SigV4Error(f"Unsupported authorization type: only {ALGORITHM} is accepted.")
    m = _AUTH.match(value)
    if m is None:
        raise SigV4Error("The Authorization header is malformed.")
    parts = m.group("credential").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise SigV4Error("The Credential of the Authorization header is malformed.")
    key_id, date_stamp, region, service, _ = parts
    signed = m.group("signed").split(";")
    return key_id, date_stamp, region, service, signed, m.group("signature")


class _ExactHeaders(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, restricted to exactly the headers the client signed (a client may sign
    headers botocore would not, such as user-agent)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> Any:
        from botocore.compat import HTTPHeaders

        out = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                out[name] = value
        return out


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
    lowered = _lower(headers)
    if service != expected_service:
        raise SigV4Error(f"Credential should be scoped to correct service: '{expected_service}'.")
    if "host" not in signed:
        raise SigV4Error("The host header must be signed.")
    missing = [h for h in signed if h not in lowered]
    if missing:
        raise SigV4Error(f"Signed header {missing[0]} is missing from the request.")
    stamp = lowered.get("x-amz-date")
    if not stamp:
        raise SigV4Error("The request must carry an X-Amz-Date header.")
    try:
        signed_at = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise SigV4Error("X-Amz-Date is not of the form YYYYMMDDTHHMMSSZ.") from None
    if stamp[:8] != date_stamp:
        raise SigV4Error("The Credential date does not match X-Amz-Date.")
    skew = (signed_at - now).total_seconds()
    if skew < -max_skew_seconds:
        raise SigV4Error(f"Signature expired: {stamp} is too far in the past.")
    if skew > max_skew_seconds:
        raise SigV4Error(f"Signature not yet current: {stamp} is too far in the future.")
    secret = secret_for(key_id)
    if secret is None:
        raise SigV4Error("The security token included in the request is invalid.")

    url = f"http://{lowered['host']}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={h: lowered[h] for h in signed})
    request.context["timestamp"] = stamp
    auth = _ExactHeaders(Credentials(key_id, secret), service, region, signed)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    expected = auth.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, signature):
        raise SigV4Error("The request signature we calculated does not match the signature you provided.")
    return SignedRequest(key_id, region, service, signed_at)
