"""A local custom-channel webhook receiver: point a CUSTOM message's or campaign's DeliveryUri
at it (any path under its https:// URL) and each message lands in `webhook/` as one JSON file.

It behaves as the README asks a receiver to: it checks `X-OpenPoint-Signature` with the
signing secret the dev stack gives it (a mismatch is refused with 401, as a real receiver
would refuse it), and accepts each `Idempotency-Key` once, answering a repeat with the first
answer and writing nothing.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from launch.server import Folder, SinkServer, now_iso
from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_webhook


class WebhookSink(SinkServer):
    name = "webhook"

    def __init__(self, data_dir: Path, port: int, tls: tuple[Path, Path], *, secret: str) -> None:
        self.folder = Folder(data_dir / "webhook")
        self._secret = secret
        self._message_ids: dict[str, str] = {}  # Idempotency-Key -> the id first answered
        routes = [Route("/{path:path}", self._hook, methods=["POST"])]
        super().__init__(Starlette(routes=routes), port, tls=tls)

    async def _hook(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        if not verify_webhook(self._secret, request.headers.get(SIGNATURE_HEADER, ""), body):
            return PlainTextResponse("The X-OpenPoint-Signature does not match.", status_code=401)
        key = request.headers.get(IDEMPOTENCY_HEADER) or secrets.token_hex(16)
        if key in self._message_ids:
            return PlainTextResponse("duplicate", headers={"X-Message-Id": self._message_ids[key]})
        message_id = "webhook-" + secrets.token_hex(8)
        payload: Any
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = body.decode(errors="replace")
        record = {
            "message_id": message_id,
            "path": request.url.path,
            "idempotency_key": key,
            "received_at": now_iso(),
            "payload": payload,
        }
        self.folder.write(message_id, record)
        self._message_ids[key] = message_id
        return PlainTextResponse("ok", headers={"X-Message-Id": message_id})
