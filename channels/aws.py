"""AWS through boto3, shared by every channel that calls it (Lambda functions, event streams):
whose credentials, which session, whether an error is worth another attempt.

Credentials are the environment's (boto3's usual chain: AWS_* variables, a profile, an instance
or task role) unless a project holds its own: access keys, a role to assume with them (or with
the environment's), a region. A role's temporary credentials are fetched on first use and renewed
before they expire; STS honours boto3's own `AWS_ENDPOINT_URL_STS`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import ClientError

from rules.lambdas import CREDENTIAL_NAMES

# Error codes that say "later" rather than "never", whatever the service.
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "ServiceException",
        "KMSThrottlingException",
    }
)


@dataclass(frozen=True)
class Credentials:
    """A project's own AWS credentials (all empty: the environment's)."""

    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    region: str = ""
    role_arn: str = ""
    external_id: str = ""

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any]) -> Credentials:
        return cls(
            *(str(secrets.get(name) or "") for name in CREDENTIAL_NAMES)  # in CREDENTIAL_NAMES' order
        )


def environment_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def session(credentials: Credentials) -> boto3.Session:
    """A boto3 session with these credentials (a role assumed with refreshing credentials)."""
    # The region also places the STS call that assumes the role (a regional endpoint).
    region = credentials.region or None
    if credentials.access_key_id:
        base = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token or None,
            region_name=region,
        )
    else:
        base = boto3.Session(region_name=region)
    if not credentials.role_arn:
        return base
    extra = {"RoleSessionName": "openpoint"}
    if credentials.external_id:
        extra["ExternalId"] = credentials.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=base.get_credentials(),
        role_arn=credentials.role_arn,
        extra_args=extra,
    )
    core = botocore.session.Session()
    core._credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    return boto3.Session(botocore_session=core)


def error_code(e: ClientError) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a service's error answer."""
    error = e.response.get("Error") or {}
    status = int((e.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return str(error.get("Code") or ""), str(error.get("Message") or ""), status


def retryable(code: str, status: int) -> bool:
    """Whether a later attempt may get past this error: throttling and the service's own trouble."""
    return code in THROTTLED or status == 429 or status >= 500
