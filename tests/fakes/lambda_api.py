"""A loopback fake of AWS Lambda's Invoke and of STS AssumeRole, for the real boto3 clients.

    with FakeLambda() as fake:                   # fake.url is the endpoint_url for "lambda" and "sts"
        fn = fake.add_function("send", lambda event: {"ok": True}, allow_keys={"AKIDPROJECT1"})
        fake.script("send", throttle(), delay(2.0), function_error("boom"), garbage(b"<html>"))
        sink = fake.add_custom_channel("channel")   # sink.accepted / sink.dropped: idempotency keys
        fake.allow_role(ROLE_ARN, external_id="ext")  # from now on only allowed roles may be assumed
        key = role_access_key(ROLE_ARN)              # the AccessKeyId AssumeRole hands out for it

Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`): FunctionName may be a name, a
partial ARN (`123456789012:function:name`) or a full ARN, each with an optional `:alias`; it is
looked up by bare name. Unregistered names answer ResourceNotFoundException; a key outside the
function's `allow_keys` AccessDeniedException (unmodeled by Lambda: botocore raises ClientError
with that code); a payload that is not JSON InvalidRequestContentException. Otherwise the next
scripted answer, if any, else the handler: its return value JSON-encoded (200), or when it raises
a function error (200, X-Amz-Function-Error: Unhandled). Event invocations answer 202 with no
body after running the handler; DryRun answers 204 and neither runs the handler nor takes a
scripted answer. Every request lands in `invocations` (an `Invocation`, appended on arrival,
`status` filled in when answered); `to(name)` filters them. Signatures are parsed, not checked.

AssumeRole (form POST to `/`) answers credentials whose AccessKeyId is `role_access_key(arn)`,
records an `AssumeRoleCall` in `assumed`, and refuses (AccessDenied) roles not allowed, or a
wrong ExternalId, once `allow_role` was called. The server's thread appends; tests read.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import LoopbackServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
Handler = Callable[[dict[str, Any]], Any]
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_ARN = re.compile(r"^(?:arn:[^:]+:lambda:([^:]*):)?(?:(\d{12}):function:)?([^:]+)(?::([^:]+))?$")


def role_access_key(role_arn: str) -> str:
    """The AccessKeyId AssumeRole hands out for `role_arn`: the same on every call."""
    return "ASIA" + hashlib.sha1(role_arn.encode()).hexdigest()[:12].upper()


@dataclasses.dataclass(frozen=True)
class Answer:
    """A scripted answer: an API error (`error` set), a function error, raw `body` bytes, or (all
    unset) the handler's; each after `sleep` seconds."""

    status: int = 200
    error: str | None = None  # x-amzn-ErrorType
    fields: tuple[tuple[str, str], ...] = ()  # the error body's members besides Type
    body: bytes | None = None
    function_error: bool = False
    sleep: float = 0.0


def throttle(reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded", retry_after: int = 1) -> Answer:
    fields = (("message", "Rate Exceeded."), ("Reason", reason), ("Retry-After", str(retry_after)))
    return Answer(429, "TooManyRequestsException", fields)


def service_error(message: str = "An internal error occurred.") -> Answer:
    return Answer(500, "ServiceException", (("Message", message),))


def denied(message: str = "User is not authorized to perform: lambda:InvokeFunction") -> Answer:
    return Answer(403, "AccessDeniedException", (("Message", message),))


def function_error(message: str = "boom", error_type: str = "Exception") -> Answer:
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": []}
    return Answer(body=orjson.dumps(body), function_error=True)


def garbage(body: bytes = b"\x00not json\xff") -> Answer:
    return Answer(body=body)


def delay(seconds: float) -> Answer:
    """Wait `seconds`, then answer as the function would."""
    return Answer(sleep=seconds)


@dataclasses.dataclass
class Function:
    name: str
    handler: Handler
    allow_keys: set[str] | None  # None: any access key may invoke it
    script: list[Answer] = dataclasses.field(default_factory=list)
    accepted: list[str] = dataclasses.field(default_factory=list)  # custom-channel functions only
    dropped: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Invocation:
    function: str  # the bare name looked up
    sent_as: str  # FunctionName as the client gave it (URL-decoded)
    qualifier: str | None  # the alias/version, from the ARN or the Qualifier query
    invocation_type: str
    payload: bytes
    event: Any  # the payload parsed (None when it is not JSON)
    access_key: str | None  # from the SigV4 Authorization header's Credential
    region: str | None
    security_token: str | None  # X-Amz-Security-Token
    client_context: str | None
    at: float  # time.time() on arrival
    status: int | None = None  # the HTTP status answered
    function_error: str | None = None


@dataclasses.dataclass(frozen=True)
class AssumeRoleCall:
    role_arn: str
    session_name: str
    external_id: str | None
    access_key: str | None  # the key the call was signed with
    credentials: dict[str, str] | None  # what was handed out (None when refused)
    at: float


class FakeLambda(LoopbackServer):
    def __init__(self, *, account: str = ACCOUNT, region: str = REGION) -> None:
        self.account, self.region = account, region
        self.functions: dict[str, Function] = {}
        self.invocations: list[Invocation] = []
        self.assumed: list[AssumeRoleCall] = []
        self.roles: dict[str, str | None] | None = None  # role ARN -> required ExternalId
        self._lock = threading.Lock()
        routes = [
            Route("/2015-03-31/functions/{name}/invocations", self._invoke, methods=["POST"]),
            Route("/", self._sts, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes))

    # -- scripting -----------------------------------------------------------------------------
    def add_function(
        self, name: str, handler: Handler | None = None, *, allow_keys: Iterable[str] | None = None
    ) -> Function:
        function = Function(name, handler or (lambda event: None), set(allow_keys) if allow_keys is not None else None)
        self.functions[name] = function
        return function

    def add_custom_channel(self, name: str, *, allow_keys: Iterable[str] | None = None) -> Function:
        """A Pinpoint custom-channel function that drops repeats: each endpoint in `Endpoints`
        carries a key in the event's `IdempotencyKeys`; the first time a key is seen it goes to
        `accepted`, after that to `dropped`. An endpoint without a key is a function error."""
        function = self.add_function(name, allow_keys=allow_keys)

        def handle(event: dict[str, Any]) -> dict[str, str]:
            keys = event.get("IdempotencyKeys") or {}
            outcome = {}
            for endpoint_id in event.get("Endpoints") or {}:
                if endpoint_id not in keys:
                    raise ValueError(f"no idempotency key for endpoint {endpoint_id}")
                key = keys[endpoint_id]
                seen = key in function.accepted
                (function.dropped if seen else function.accepted).append(key)
                outcome[endpoint_id] = "dropped" if seen else "accepted"
            return outcome

        function.handler = handle
        return function

    def script(self, name: str, *answers: Answer) -> None:
        """The next invocations (not DryRuns) of `name` get these answers in order."""
        with self._lock:
            self.functions[name].script.extend(answers)

    def allow_role(self, role_arn: str, external_id: str | None = None) -> None:
        """Only allowed roles may be assumed from now on; with `external_id`, only with that one."""
        self.roles = {**(self.roles or {}), role_arn: external_id}

    def to(self, name: str) -> list[Invocation]:
        return [i for i in list(self.invocations) if i.function == name]

    # -- Lambda --------------------------------------------------------------------------------
    async def _invoke(self, request: Request) -> Response:
        sent_as = request.path_params["name"]
        match = _ARN.match(sent_as)
        name = match.group(3) if match else sent_as
        qualifier = request.query_params.get("Qualifier") or (match.group(4) if match else None)
        payload = await request.body()
        try:
            event = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            event = None
        access_key, region = _signer(request)
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        record = Invocation(
            name, sent_as, qualifier, kind, payload, event, access_key, region,
            request.headers.get("x-amz-security-token"), request.headers.get("x-amz-client-context"), time.time(),
        )  # fmt: skip
        with self._lock:
            self.invocations.append(record)
        response = await self._answer(request, record, match)
        record.status = response.status_code
        record.function_error = response.headers.get("x-amz-function-error")
        return response

    async def _answer(self, request: Request, record: Invocation, match: re.Match[str] | None) -> Response:
        function = self.functions.get(record.function)
        arn_region = (match.group(1) if match else None) or record.region or self.region
        account = (match.group(2) if match else None) or self.account
        if function is None:
            message = f"Function not found: arn:aws:lambda:{arn_region}:{account}:function:{record.function}"
            return _error(Answer(404, "ResourceNotFoundException", (("Message", message),)))
        if function.allow_keys is not None and record.access_key not in function.allow_keys:
            return _error(denied(f"User: {record.access_key} is not authorized to perform: lambda:InvokeFunction"))
        if record.event is None:
            message = "Could not parse request body into json: Unexpected character"
            return _error(Answer(400, "InvalidRequestContentException", (("message", message),)))
        if record.invocation_type == "DryRun":
            return Response(status_code=204, headers=_headers())
        with self._lock:
            answer = function.script.pop(0) if function.script else Answer()
        if answer.sleep:
            await asyncio.sleep(answer.sleep)
        if answer.error:
            return _error(answer)
        headers = _headers()
        body, failed = answer.body, answer.function_error
        if body is None:
            try:
                body = orjson.dumps(function.handler(record.event))
            except Exception as e:  # noqa: BLE001 - the function's failure is its answer
                body = orjson.dumps({"errorMessage": str(e), "errorType": type(e).__name__, "stackTrace": []})
                failed = True
        if record.invocation_type == "Event":
            return Response(status_code=202, headers=headers)
        if failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if request.headers.get("x-amz-log-type") == "Tail":
            log = f"START RequestId: {headers['x-amzn-RequestId']} Version: $LATEST\nEND\n"
            headers["X-Amz-Log-Result"] = base64.b64encode(log.encode()).decode()
        return Response(body, status_code=200, headers=headers, media_type="application/json")

    # -- STS -----------------------------------------------------------------------------------
    async def _sts(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if form.get("Action") != "AssumeRole":
            return _sts_error(400, "InvalidAction", f"Could not find operation {form.get('Action')}")
        role, session, external_id = form.get("RoleArn", ""), form.get("RoleSessionName", ""), form.get("ExternalId")
        access_key, _ = _signer(request)
        refused = self.roles is not None and (role not in self.roles or self.roles[role] not in (None, external_id))
        credentials = None
        if not refused:
            lifetime = datetime.timedelta(seconds=int(form.get("DurationSeconds") or 3600))
            expires = datetime.datetime.now(datetime.UTC) + lifetime
            credentials = {
                "AccessKeyId": role_access_key(role),
                "SecretAccessKey": hashlib.sha256(f"secret:{role}".encode()).hexdigest()[:40],
                "SessionToken": "FwoGZXIvYXdzE" + secrets.token_hex(32),
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        with self._lock:
            self.assumed.append(AssumeRoleCall(role, session, external_id, access_key, credentials, time.time()))
        if credentials is None:
            message = f"User: {access_key} is not authorized to perform: sts:AssumeRole on resource: {role}"
            return _sts_error(403, "AccessDenied", message)
        role_name = role.rsplit("/", 1)[-1]
        account = role.split(":")[4] if role.count(":") >= 5 else self.account
        role_id = "AROA" + hashlib.sha1(role.encode()).hexdigest()[:16].upper()
        creds = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in credentials.items())
        xml = (
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
            f"<AssumedRoleUser><AssumedRoleId>{escape(role_id)}:{escape(session)}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::{escape(account)}:assumed-role/{escape(role_name)}/{escape(session)}</Arn></AssumedRoleUser>"
            f"<Credentials>{creds}</Credentials></AssumeRoleResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></AssumeRoleResponse>"
        )
        return Response(xml, media_type="text/xml")


def _signer(request: Request) -> tuple[str | None, str | None]:
    """(access key id, region) from the SigV4 Authorization header's credential scope."""
    found = _CREDENTIAL.search(request.headers.get("authorization", ""))
    return (found.group(1), found.group(2)) if found else (None, None)


def _headers() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4()), "X-Amz-Executed-Version": "$LATEST"}


def _error(answer: Answer) -> Response:
    """Lambda's REST-JSON error: x-amzn-ErrorType names it, the body carries Type and message."""
    assert answer.error is not None
    headers = {**_headers(), "x-amzn-ErrorType": answer.error}
    body: dict[str, str] = {"Type": "Service" if answer.status >= 500 else "User"}
    for key, value in answer.fields:
        if key == "Retry-After":
            headers[key] = value
        else:
            body[key] = value
    return Response(orjson.dumps(body), status_code=answer.status, headers=headers, media_type="application/json")


def _sts_error(status: int, code: str, message: str) -> Response:
    xml = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return Response(xml, status_code=status, media_type="text/xml")
