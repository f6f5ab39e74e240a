"""A loopback fake of APNs: HTTP/2 over TLS (hypercorn), `POST /3/device/<token>`.

Like APNs it checks provider tokens (an ES256 JWT whose `kid` names a key it knows, `iss` the
key's team, signed by that key: `token_key()` makes one), or, when started with `client_ca`,
requires a client certificate issued by that CA during the TLS handshake. Accepted pushes land
in `sent` with their headers, payload and HTTP version; each device token can be scripted to be
refused first (`script`), as APNs refuses (`{"reason": ...}` with its status).
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from launch.processes import free_port, wait_for_port

# Scriptable refusals: reason -> HTTP status, as Apple documents them.
REASONS = {
    "BadDeviceToken": 400,
    "DeviceTokenNotForTopic": 400,
    "Unregistered": 410,
    "PayloadTooLarge": 413,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
}


class FakeApns:
    """`with FakeApns(cert, key) as fake:` serves on `fake.url` until the block ends."""

    def __init__(self, certfile: Path, keyfile: Path, *, client_ca: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.sent: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self._keys: dict[str, tuple[str, Any]] = {}  # key id -> (team id, public key)
        self._scripts: dict[str, list[str]] = defaultdict(list)
        self._client_ca = client_ca
        self._config = Config()
        self._config.bind = [f"127.0.0.1:{self.port}"]
        self._config.certfile, self._config.keyfile = str(certfile), str(keyfile)
        self._config.loglevel = "WARNING"
        if client_ca is not None:
            self._config.ca_certs = str(client_ca)
            self._config.verify_mode = ssl.CERT_REQUIRED
        self._app = Starlette(routes=[Route("/3/device/{token}", self._push, methods=["POST"])])
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def token_key(self) -> tuple[str, str, str]:
        """(team id, key id, p8 PEM) of a new signing key this fake trusts."""
        team_id, key_id = secrets.token_hex(5).upper(), secrets.token_hex(5).upper()
        key = ec.generate_private_key(ec.SECP256R1())
        self._keys[key_id] = (team_id, key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return team_id, key_id, pem.decode()

    def script(self, token: str, *reasons: str) -> None:
        """The next pushes to `token` are refused with these REASONS, in order."""
        self._scripts[token].extend(reasons)

    def sent_to(self, token: str) -> list[dict[str, Any]]:
        return [s for s in self.sent if s["token"] == token]

    def __enter__(self) -> FakeApns:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, timeout=15)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        await serve(self._app, self._config, shutdown_trigger=self._stopping.wait)  # type: ignore[arg-type]

    def _provider_token_refusal(self, authorization: str | None) -> str | None:
        """Why APNs would refuse this request's authentication, or None."""
        if authorization is None:
            return None if self._client_ca is not None else "MissingProviderToken"
        scheme, _, token = authorization.partition(" ")
        try:
            key_id = jwt.get_unverified_header(token).get("kid", "")
            team_id, public_key = self._keys[key_id]
            claims = jwt.decode(token, public_key, algorithms=["ES256"], issuer=team_id, options={"require": ["iat"]})
        except (KeyError, jwt.InvalidTokenError):
            return "InvalidProviderToken"
        if scheme.lower() != "bearer":
            return "InvalidProviderToken"
        return "ExpiredProviderToken" if time.time() - claims["iat"] > 3600 else None

    async def _push(self, request: Request) -> Response:
        token = request.path_params["token"]
        headers = dict(request.headers)
        record = {
            "token": token,
            "headers": headers,
            "payload": await request.json(),
            "http_version": request.scope["http_version"],
        }
        reason = self._provider_token_refusal(headers.get("authorization"))
        status = 403
        if reason is None and self._scripts.get(token):
            reason = self._scripts[token].pop(0)
            status = REASONS[reason]
        if reason is not None:
            self.refused.append({**record, "reason": reason})
            body: dict[str, Any] = {"reason": reason}
            if status == 410:
                body["timestamp"] = int(time.time() * 1000)
            return JSONResponse(body, status_code=status, headers={"apns-id": headers.get("apns-id", "")})
        self.sent.append(record)
        return Response(status_code=200, headers={"apns-id": headers.get("apns-id") or str(uuid.uuid4())})
