"""Invoking the user's AWS Lambda functions (custom channels, journey CUSTOM activities, campaign
hooks) with boto3, as Pinpoint did: synchronous `Invoke` (RequestResponse) with a JSON event.

Credentials are the environment's (boto3's usual chain: AWS_* variables, a profile, an instance
or task role) unless the project holds its own, stored encrypted with the CUSTOM channel's
secrets (`openpoint channels credentials PROJECT CUSTOM LambdaAccessKeyId=... LambdaRoleArn=...`):
access keys, a role to assume with them (or with the environment's), a region (channels/aws.py).
`OPENPOINT_LAMBDA_ENDPOINT_URL` sends every call to a Lambda-compatible server instead of AWS;
STS for a role honours boto3's own `AWS_ENDPOINT_URL_STS`.

An invocation ends one of three ways: the function's answer (parsed JSON); `FunctionFailed`,
which no retry can mend (the function does not exist or may not be invoked, it raised, it timed
out inside Lambda, it answered something that is not JSON); or `FunctionUnavailable`, which a
later attempt may get past (throttling, Lambda's 5xx, no answer in time, no connection).
"""

from __future__ import annotations

import asyncio
from typing import Any

import botocore.session
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from channels.aws import Credentials, environment_region, session
from openpoint.settings import Settings
from rules.lambdas import FunctionRef

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
ENVIRONMENT = Credentials()  # the environment's AWS credentials
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

    async def invoke(self, ref: FunctionRef, event: dict[str, Any], credentials: Credentials = ENVIRONMENT) -> Any:
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

    async def check(self, ref: FunctionRef, credentials: Credentials = ENVIRONMENT) -> None:
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
            client = session(credentials).client(
                "lambda", region_name=region, endpoint_url=self._endpoint, config=self._quick if quick else self._config
            )
            self._clients[key] = client
        return client


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
