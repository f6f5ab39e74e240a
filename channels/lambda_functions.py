"""Invoking the user's AWS Lambda functions (custom channels, journey CUSTOM activities, campaign
hooks) with boto3, as Pinpoint did: synchronous `Invoke` (RequestResponse) with a JSON event.

Credentials are the environment's (boto3's usual chain: AWS_* variables, a profile, an instance
or task role) unless the project holds its own, stored encrypted with the CUSTOM channel's
secrets (`openpoint channels credentials PROJECT CUSTOM LambdaAccessKeyId=... LambdaRoleArn=...`):
access keys, a role to assume with them (or with the environment's), a region.
`OPENPOINT_LAMBDA_ENDPOINT_URL` sends every call to a Lambda-compatible server instead of AWS;
STS for a role honours boto3's own `AWS_ENDPOINT_URL_STS`.

An invocation ends one of three ways: the function's answer (parsed JSON); `FunctionFailed`,
which no retry can mend (the function does not exist or may not be invoked, it raised, it timed
out inside Lambda, it answered something that is not JSON); or `FunctionUnavailable`, which a
later attempt may get past (throttling, Lambda's 5xx, no answer in time, no connection).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import orjson
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from openpoint.settings import Settings
from rules.lambdas import CREDENTIAL_NAMES, FunctionRef

# Lambda's errors a later attempt may get past; any other 4xx is the function's or the caller's.
_RETRYABLE = frozenset(
    {
        "TooManyRequestsException",
        "ServiceException",
        "ResourceNotReadyException",
        "ResourceConflictException",
        "EC2ThrottledException",
        "ENILimitReachedException",
        "SnapStartNotReadyException",
        "SnapStartTimeoutException",
        "ThrottlingException",
    }
)
_SNIPPET = 300  # characters of a function's error message kept in the delivery log


class FunctionFailed(Exception):
    """The function cannot do it, however often it is asked."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class FunctionUnavailable(Exception):
    """The function (or Lambda) may answer later."""

    def __init__(self, message: str, code: int = 503) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Credentials:
    """A project's own AWS credentials for its functions (all empty: the environment's)."""

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


class LambdaInvoker:
    """One per process: boto3 clients are made once per (credentials, region) and shared, since
    making one costs tens of milliseconds of CPU; their calls run in threads."""

    def __init__(self, settings: Settings) -> None:
        self._endpoint = settings.lambda_endpoint_url or None
        self._region = settings.lambda_region or environment_region()
        self._config = Config(
            connect_timeout=5,
            read_timeout=settings.lambda_timeout_seconds,
            # botocore's standard mode retries throttling and 5xx twice with jittered backoff;
            # what is left after that goes back to the activity's own retries.
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=50,
        )
        # A check (DryRun) answers someone waiting on the API: one short try.
        self._quick = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1})
        self._clients: dict[tuple[Credentials, str, bool], Any] = {}

    @property
    def partition(self) -> str:
        """The partition of the default region: an ARN in another one is never reachable."""
        found = botocore.session.get_session().get_partition_for_region(self._region)
        return str(found or "aws")

    async def invoke(self, ref: FunctionRef, event: dict[str, Any], credentials: Credentials = Credentials()) -> Any:
        """The function's answer to `event`, parsed from JSON (None for an empty answer)."""
        response = await self._call(ref, credentials, "RequestResponse", orjson.dumps(event))
        payload: bytes = await asyncio.to_thread(response["Payload"].read)
        if response.get("FunctionError"):
            raise FunctionFailed(f"The Lambda function {ref.name} failed: {_error_text(payload)}", 500)
        if not payload.strip():
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            snippet = payload[:100].decode("utf-8", "replace")
            raise FunctionFailed(
                f"The Lambda function {ref.name} answered something that is not JSON: {snippet!r}.", 502
            ) from None

    async def check(self, ref: FunctionRef, credentials: Credentials = Credentials()) -> None:
        """Whether the function exists and these credentials may invoke it (Lambda's DryRun:
        nothing runs). Raises FunctionFailed or FunctionUnavailable."""
        await self._call(ref, credentials, "DryRun", b"{}")

    async def _call(self, ref: FunctionRef, credentials: Credentials, kind: str, payload: bytes) -> Any:
        region = ref.region or credentials.region or self._region
        try:
            client = self._client(credentials, region, quick=kind == "DryRun")
            return await asyncio.to_thread(
                client.invoke, FunctionName=ref.reference, InvocationType=kind, Payload=payload
            )
        except ClientError as e:
            raise _classified(ref, e) from None
        except NoCredentialsError:
            raise FunctionFailed(
                f"No AWS credentials to invoke the Lambda function {ref.name}: set them in the environment or "
                "for the project (openpoint channels credentials PROJECT CUSTOM LambdaAccessKeyId=...).",
                401,
            ) from None
        except BotoCoreError as e:  # connection refused, timeouts, DNS
            raise FunctionUnavailable(f"Lambda cannot be reached for the function {ref.name}: {e}", 503) from None

    def _client(self, credentials: Credentials, region: str, *, quick: bool = False) -> Any:
        key = (credentials, region, quick)
        client = self._clients.get(key)
        if client is None:
            client = _session(credentials).client(
                "lambda", region_name=region, endpoint_url=self._endpoint, config=self._quick if quick else self._config
            )
            self._clients[key] = client
        return client


def _session(credentials: Credentials) -> boto3.Session:
    if credentials.access_key_id:
        base = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token or None,
        )
    else:
        base = boto3.Session()
    if not credentials.role_arn:
        return base
    # The role's temporary credentials are fetched on first use and renewed before they expire.
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


def _classified(ref: FunctionRef, e: ClientError) -> FunctionFailed | FunctionUnavailable:
    error = e.response.get("Error") or {}
    code = str(error.get("Code") or "")
    status = int((e.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    said = f"Lambda refused to invoke {ref.name}: {code}: {error.get('Message') or ''}".rstrip(": ")
    if code in _RETRYABLE or status == 429 or status >= 500:
        return FunctionUnavailable(said, status or 503)
    return FunctionFailed(said + ".", status or 400)


def _error_text(payload: bytes) -> str:
    """`errorType: errorMessage` of a function error's payload (Lambda's error shape)."""
    try:
        error = orjson.loads(payload)
    except orjson.JSONDecodeError:
        error = None
    if isinstance(error, dict) and error.get("errorMessage") is not None:
        text = f"{error.get('errorType') or 'Error'}: {error['errorMessage']}"
    else:
        text = payload.decode("utf-8", "replace")
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"
