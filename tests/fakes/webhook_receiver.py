"""A custom-channel webhook receiver on loopback HTTPS that behaves as a user's receiver should:
it checks the signature (401 when it does not match), accepts each Idempotency-Key once and
drops a repeat (answering 2xx with the first answer's message id, so the sender stops), and
records every request it saw. Tests can script answers (`answers`) for the next requests and
give it a pace of its own (`delay` seconds per request, after it has accepted the message)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_webhook
from tests.fakes.server import LoopbackServer


@dataclasses.dataclass
class Received:
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class WebhookReceiver(LoopbackServer):
    """`url` (any path) is the webhook. Its state is written on the server's thread only."""

    def __init__(self, secret: str, tls: tuple[Path, Path], *, delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.requests: list[Received] = []
        self.accepted: list[str] = []  # Idempotency-Keys accepted, each once, in arrival order
        self.dropped: list[str] = []  # repeats of a key already accepted
        self.answers: list[tuple[int, str, dict[str, str]]] = []  # scripted (status, body, headers)
        self._message_ids: dict[str, str] = {}
        super().__init__(Starlette(routes=[Route("/{path:path}", self._hook, methods=["POST"])]), tls=tls)

    async def _hook(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        self.requests.append(Received(request.headers, body))
        if not verify_webhook(self.secret, request.headers.get(SIGNATURE_HEADER, ""), body):
            return PlainTextResponse("bad signature", status_code=401)
        if self.answers:
            status, reply, headers = self.answers.pop(0)
            return PlainTextResponse(reply, status_code=status, headers=headers)
        key = request.headers[IDEMPOTENCY_HEADER]
        if key in self._message_ids:
            self.dropped.append(key)
        else:
            self.accepted.append(key)
            self._message_ids[key] = f"rcv-{len(self.accepted)}"
        if self.delay:
            await asyncio.sleep(self.delay)
        return PlainTextResponse("ok", headers={"X-Message-Id": self._message_ids[key]})
