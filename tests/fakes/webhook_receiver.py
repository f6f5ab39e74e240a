"""A custom-channel webhook receiver on loopback HTTPS that behaves as an idempotent receiver
should: it checks the signature, accepts each Idempotency-Key once and drops repeats (still
answering 2xx so the sender stops), and records everything it saw."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_webhook
from tests.fakes.server import LoopbackServer


class WebhookReceiver(LoopbackServer):
    def __init__(self, secret: str, tls: tuple[Path, Path], *, delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay  # seconds per request: a receiver with a pace of its own
        self.requests = 0
        self.bad_signatures = 0
        self.accepted: Counter[str] = Counter()  # idempotency key -> times accepted (1 at most)
        self.dropped = 0  # repeats of a key already accepted
        self.bodies: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        super().__init__(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]), tls=tls)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        if self.delay:
            await asyncio.sleep(self.delay)
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        with self._lock:
            self.requests += 1
            if not verify_webhook(self.secret, request.headers.get(SIGNATURE_HEADER, ""), body):
                self.bad_signatures += 1
                return Response(status_code=401)
            if key in self.accepted:
                self.dropped += 1
            else:
                self.accepted[key] += 1
                self.bodies[key] = orjson.loads(body)
        return Response(status_code=204)
