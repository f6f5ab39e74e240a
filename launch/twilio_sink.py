"""A local stand-in for Twilio's REST API (Messages and Calls): `make run` points SMS and VOICE at
it when no Twilio account is configured.

Each message lands in `sms/` and each call in `voice/` as one JSON file, and Twilio's status
callbacks come back to the StatusCallback the worker gave (the gateway's
`/engagement/twilio/status`), signed with the account's auth token as Twilio signs them, so
the gateway records `_SMS.SUCCESS` / `_voice.success` like for a real delivery. The sink takes
any account: the auth token a create authenticates with (Basic auth, the server's or a
project's own) is the one its callbacks are signed with.

A repeated `I-Twilio-Idempotency-Token` gets the first answer and writes nothing, as Twilio's
de-duplication would.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from launch.server import Folder, SinkServer, now_iso

API_VERSION = "2010-04-01"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"
# Twilio reports a moment after it accepted; but the worker stores the SID only once the create
# has returned, so a report that overtook it would be dropped as "unknown message". The final
# status is therefore reported again after these pauses (seconds); the gateway records each
# report once, so repeats are harmless.
REPORT_DELAYS = (0.5, 2.0, 8.0, 30.0)
_CALLBACK_TIMEOUT = 10.0
_SAY = re.compile(r"<Say[^>]*>(.*?)</Say>", re.DOTALL)


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _basic_auth(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return (user, password) if user and password else None


class TwilioSink(SinkServer):
    name = "Twilio"

    def __init__(self, data_dir: Path, port: int) -> None:
        self.sms = Folder(data_dir / "sms")
        self.voice = Folder(data_dir / "voice")
        self._replies: dict[str, dict[str, Any]] = {}  # idempotency token -> first answer
        routes = [
            Route(f"/{API_VERSION}/Accounts/{{sid}}/Messages.json", self._message, methods=["POST"]),
            Route(f"/{API_VERSION}/Accounts/{{sid}}/Calls.json", self._call, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes), port)

    async def _message(self, request: Request) -> JSONResponse:
        return await self._create(request, "SM")

    async def _call(self, request: Request) -> JSONResponse:
        return await self._create(request, "CA")

    async def _create(self, request: Request, prefix: str) -> JSONResponse:
        account = request.path_params["sid"]
        auth = _basic_auth(request)
        if auth is None or auth[0] != account:
            return _error(401, 20003, "Authenticate")
        form = _form(await request.body())
        token = request.headers.get(IDEMPOTENCY_HEADER)
        if token and token in self._replies:
            return JSONResponse(self._replies[token], status_code=201)
        if not form.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        sender = form.get("From") or form.get("MessagingServiceSid")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        sid = prefix + secrets.token_hex(16)
        record: dict[str, Any] = {
            "sid": sid,
            "account_sid": account,
            "to": form["To"],
            "from": sender,
            "received_at": now_iso(),
        }
        if prefix == "SM":
            record["body"] = form.get("Body", "")
            if form.get("MediaUrl"):
                record["media_url"] = form["MediaUrl"]
        else:
            twiml = str(form.get("Twiml", ""))
            record["spoken"] = " ".join(m.strip() for m in _SAY.findall(twiml))
            record["twiml"] = twiml
        record["status_callback"] = form.get("StatusCallback")
        (self.sms if prefix == "SM" else self.voice).write(sid, record)
        reply = {
            "sid": sid,
            "account_sid": account,
            "status": "queued",
            "to": form["To"],
            "from": sender,
            "api_version": API_VERSION,
            "uri": f"/{API_VERSION}/Accounts/{account}/{'Messages' if prefix == 'SM' else 'Calls'}/{sid}.json",
            **({"body": record["body"]} if prefix == "SM" else {}),
        }
        if token:
            self._replies[token] = reply
        if form.get("StatusCallback"):
            self.background(self._report(str(form["StatusCallback"]), auth[1], account, record))
        return JSONResponse(reply, status_code=201)

    async def _report(self, url: str, auth_token: str, account: str, record: dict[str, Any]) -> None:
        sid = record["sid"]
        base = {"AccountSid": account, "From": record["from"], "To": record["to"], "ApiVersion": API_VERSION}
        if sid.startswith("SM"):
            reports = [
                {**base, "MessageSid": sid, "SmsSid": sid, "MessageStatus": s, "SmsStatus": s}
                for s in ("sent", "delivered")
            ]
        else:
            reports = [{**base, "CallSid": sid, "CallStatus": "completed", "CallDuration": "1"}]
        validator = RequestValidator(auth_token)
        async with httpx.AsyncClient(timeout=_CALLBACK_TIMEOUT, trust_env=False) as client:
            for i, delay in enumerate(REPORT_DELAYS):
                await asyncio.sleep(delay)
                for params in reports if i == 0 else reports[-1:]:
                    headers = {
                        "X-Twilio-Signature": validator.compute_signature(url, params),
                        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                    }
                    try:
                        await client.post(url, data=params, headers=headers)
                    except httpx.HTTPError:
                        pass  # the gateway is not up (yet, or any more): the next repeat may reach it


def _form(body: bytes) -> dict[str, Any]:
    """The form fields; repeated ones (MediaUrl, StatusCallbackEvent) as lists."""
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    form: dict[str, Any] = {}
    for key, value in pairs:
        if key in form:
            form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
        else:
            form[key] = value
    return form
