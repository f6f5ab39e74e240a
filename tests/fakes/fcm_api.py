"""A loopback fake of FCM's HTTP v1 send API and Google's OAuth token endpoint, enough for
firebase-admin. Extended by the push tests as needed."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import LoopbackServer


class FakeFcm(LoopbackServer):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.tokens_issued = 0
        super().__init__(
            Starlette(
                routes=[
                    Route("/token", self._token, methods=["POST"]),
                    Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
                ]
            )
        )

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    async def _token(self, request: Request) -> JSONResponse:
        self.tokens_issued += 1
        return JSONResponse({"access_token": secrets.token_hex(16), "expires_in": 3600, "token_type": "Bearer"})

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.sent.append({"project": request.path_params["project"], "body": body, "headers": dict(request.headers)})
        return JSONResponse({"name": f"projects/{request.path_params['project']}/messages/{secrets.token_hex(8)}"})
