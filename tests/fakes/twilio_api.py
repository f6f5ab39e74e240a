"""A loopback fake of the Twilio REST API (Messages and Calls), enough for the twilio SDK, and
Twilio's side of the callbacks (signed status reports and inbound messages).

Creates need HTTP Basic auth with the account's SID and auth token, as Twilio does. Accepted
creates land in `messages` / `calls` (the form fields plus `headers` and the `sid` given);
every attempt, refused or not, in `attempts`. Failures are scriptable per `To` number: `fail`
answers every create to that number with (HTTP status, Twilio error code); `script` answers
the next creates with the given errors, then accepts. A repeated `I-Twilio-Idempotency-Token`
gets the first answer back and creates nothing, as Twilio's de-duplication would.
"""

from __future__ import annotations

import base64
import secrets
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.server import LoopbackServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"

ERROR_MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21610: "Attempt to send to unsubscribed recipient",
}


def error_body(status: int, code: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(LoopbackServer):
    def __init__(self) -> None:
        self.account_sid = ACCOUNT_SID
        self.auth_token = AUTH_TOKEN
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.fail: dict[str, tuple[int, int]] = {}
        self._scripts: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._replies: dict[str, dict[str, Any]] = {}  # idempotency token -> first answer
        self._accounts = {ACCOUNT_SID: AUTH_TOKEN}
        super().__init__(
            Starlette(
                routes=[
                    Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message, methods=["POST"]),
                    Route("/2010-04-01/Accounts/{sid}/Calls.json", self._create_call, methods=["POST"]),
                ]
            )
        )

    # -- scripting ---------------------------------------------------------------------------
    def add_account(self) -> tuple[str, str]:
        """Another account (a project's own), trusted from now on: (sid, auth token)."""
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        self._accounts[sid] = token
        return sid, token

    def script(self, to: str, *errors: tuple[int, int]) -> None:
        """The next creates to `to` get these (HTTP status, Twilio code) errors in order; later ones pass."""
        self._scripts[to].extend(errors)

    def to(self, number: str) -> list[dict[str, Any]]:
        return [m for m in self.messages + self.calls if m.get("To") == number]

    # -- the REST API --------------------------------------------------------------------------
    async def _create_message(self, request: Request) -> JSONResponse:
        return await self._create(request, self.messages, "SM", lambda form: {"body": form.get("Body")})

    async def _create_call(self, request: Request) -> JSONResponse:
        return await self._create(request, self.calls, "CA", lambda form: {})

    async def _create(self, request: Request, accepted: list[dict[str, Any]], prefix: str, extra: Any) -> JSONResponse:
        sid_in_path = request.path_params["sid"]
        if not self._authorised(request, sid_in_path):
            return JSONResponse(error_body(401, 20003), status_code=401)
        pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        form: dict[str, Any] = dict(pairs)
        for name in {k for k, _ in pairs}:  # repeated fields (MediaUrl, StatusCallbackEvent) as lists
            values = [v for k, v in pairs if k == name]
            if len(values) > 1:
                form[name] = values
        record = {**form, "headers": dict(request.headers), "account": sid_in_path}
        self.attempts.append(record)
        token = request.headers.get(IDEMPOTENCY_HEADER)
        if token and token in self._replies:
            return JSONResponse(self._replies[token], status_code=201)
        to = str(form.get("To", ""))
        failure = self._scripts[to].pop(0) if self._scripts.get(to) else self.fail.get(to)
        if failure is not None:
            status, code = failure
            return JSONResponse(error_body(status, code), status_code=status)
        sid = prefix + secrets.token_hex(16)
        reply = {
            "sid": sid,
            "account_sid": sid_in_path,
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            **extra(form),
        }
        accepted.append({**record, "sid": sid})
        if token:
            self._replies[token] = reply
        return JSONResponse(reply, status_code=201)

    def _authorised(self, request: Request, sid_in_path: str) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == sid_in_path and self._accounts.get(user) == password

    # -- Twilio calling back -------------------------------------------------------------------
    def post_signed(self, url: str, params: dict[str, str], *, token: str | None = None) -> httpx.Response:
        """POST `params` to `url` as Twilio does: form-encoded, X-Twilio-Signature computed with
        the account's auth token (or `token`)."""
        signature = RequestValidator(token or self.auth_token).compute_signature(url, params)
        headers = {"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        return httpx.post(url, data=params, headers=headers, timeout=30)

    def report(
        self, sid: str, status: str, *, error_code: str | None = None, token: str | None = None
    ) -> httpx.Response:
        """Twilio's status callback for a message or call it accepted, to the StatusCallback it
        was created with."""
        [created] = [c for c in self.messages + self.calls if c["sid"] == sid]
        params = {"AccountSid": created["account"], "From": created.get("From", ""), "To": created["To"]}
        params["ApiVersion"] = "2010-04-01"
        if sid.startswith("SM"):
            params.update(MessageSid=sid, SmsSid=sid, MessageStatus=status, SmsStatus=status)
        else:
            params.update(CallSid=sid, CallStatus=status, Direction="outbound-api", CallDuration="3")
        if error_code:
            params["ErrorCode"] = error_code
        return self.post_signed(created["StatusCallback"], params, token=token)

    def inbound(self, url: str, *, from_: str, to: str, body: str, token: str | None = None) -> httpx.Response:
        """Someone texting `body` from `from_` to the number `to`, reported to its webhook `url`."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        return self.post_signed(url, params, token=token)
