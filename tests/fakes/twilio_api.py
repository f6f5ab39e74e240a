"""A loopback fake of the Twilio REST API (Messages and Calls), enough for the twilio SDK.

It records every request it accepted (`messages`, `calls`) so tests assert what the provider
received. Extended by the SMS/voice tests as needed.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import LoopbackServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"


class FakeTwilio(LoopbackServer):
    def __init__(self) -> None:
        self.account_sid = ACCOUNT_SID
        self.auth_token = AUTH_TOKEN
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        super().__init__(
            Starlette(
                routes=[
                    Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message, methods=["POST"]),
                    Route("/2010-04-01/Accounts/{sid}/Calls.json", self._create_call, methods=["POST"]),
                ]
            )
        )

    async def _create_message(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.messages.append({**form, "headers": dict(request.headers)})
        sid = "SM" + secrets.token_hex(16)
        body = {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"), "body": form.get("Body")}
        return JSONResponse(body, status_code=201)

    async def _create_call(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.calls.append({**form, "headers": dict(request.headers)})
        sid = "CA" + secrets.token_hex(16)
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From")}, 201)
