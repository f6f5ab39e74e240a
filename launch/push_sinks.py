"""Local stand-ins for the push services: FCM's HTTP v1 API (with the OAuth token endpoint a
service account's `token_uri` names) and APNs over HTTP/2 + TLS. `make run` points GCM and the
APNs channels at them when no push service is configured. Both accept every well-formed push
(there is no device behind them) and write it to `push/` as one JSON file.

A channel still needs credentials the worker can sign with, so the dev stack writes a
throwaway pair once (`dev_credentials`): a service-account JSON whose `token_uri` is this FCM
sink, and an APNs token key (.p8). The sinks do not check signatures: a real service account
or APNs key works with them too.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from launch.server import Folder, SinkServer, now_iso

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SANDBOX_PATH = "/sandbox"  # the sandbox URL is the same server under this prefix
# The APNs headers a push file keeps (the authorization token is only reported as present).
_APNS_HEADERS = ("apns-id", "apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-collapse-id")
DEV_PROJECT_ID = "openpoint-dev"
DEV_TEAM_ID = "DEVTEAM000"  # Apple's team and key ids are 10 characters
DEV_KEY_ID = "DEVKEY0000"


class FcmSink(SinkServer):
    name = "FCM"

    def __init__(self, data_dir: Path, port: int) -> None:
        self.folder = Folder(data_dir / "push")
        routes = [
            Route("/token", self._token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes), port)

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    async def _token(self, request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        if form.get("grant_type") != [JWT_BEARER] or not form.get("assertion"):
            error = {"error": "unsupported_grant_type", "error_description": "Only JWT-bearer grants are accepted."}
            return JSONResponse(error, status_code=400)
        return JSONResponse(
            {"access_token": "dev-" + secrets.token_hex(16), "expires_in": 3600, "token_type": "Bearer"}
        )

    async def _send(self, request: Request) -> JSONResponse:
        project = request.path_params["project"]
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            body = {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                              "status": "UNAUTHENTICATED"}}  # fmt: skip
            return JSONResponse(body, status_code=401)
        try:
            message = (await request.json())["message"]
        except (ValueError, KeyError, TypeError):
            body = {"error": {"code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT"}}
            return JSONResponse(body, status_code=400)
        name = f"projects/{project}/messages/{secrets.token_hex(8)}"
        record = {
            "service": "FCM",
            "name": name,
            "project": project,
            "token": message.get("token") if isinstance(message, dict) else None,
            "received_at": now_iso(),
            "message": message,
        }
        self.folder.write("fcm-" + name.rsplit("/", 1)[1], record)
        return JSONResponse({"name": name})


class ApnsSink(SinkServer):
    """`url` is production APNs, `url + SANDBOX_PATH` the sandbox; a file says which was used."""

    name = "APNs"

    def __init__(self, data_dir: Path, port: int, tls: tuple[Path, Path]) -> None:
        self.folder = Folder(data_dir / "push")
        routes = [
            Route("/3/device/{token}", self._push, methods=["POST"]),
            Route(SANDBOX_PATH + "/3/device/{token}", self._push, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes), port, tls=tls)

    @property
    def sandbox_url(self) -> str:
        return self.url + SANDBOX_PATH

    async def _push(self, request: Request) -> Response:
        apns_id = request.headers.get("apns-id") or secrets.token_hex(16)
        try:
            payload: Any = await request.json()
        except ValueError:
            return JSONResponse({"reason": "PayloadEmpty"}, status_code=400, headers={"apns-id": apns_id})
        record = {
            "service": "APNs",
            "environment": "sandbox" if request.url.path.startswith(SANDBOX_PATH) else "production",
            "token": request.path_params["token"],
            "auth": "token" if request.headers.get("authorization") else "certificate",
            "http_version": request.scope.get("http_version"),
            "received_at": now_iso(),
            "headers": {h: request.headers[h] for h in _APNS_HEADERS if h in request.headers},
            "payload": payload,
        }
        self.folder.write("apns-" + apns_id, record)
        return Response(status_code=200, headers={"apns-id": apns_id})


@dataclass(frozen=True)
class DevCredentials:
    fcm_service_json: Path  # the GCM channel's ServiceJson
    apns_token_key: Path  # the APNs channel's TokenKey (with DEV_KEY_ID, DEV_TEAM_ID)


def dev_credentials(folder: Path, token_uri: str) -> DevCredentials:
    """Throwaway push credentials, made once and kept (a channel stored with them keeps
    working across runs); the service account's token_uri follows the FCM sink's port."""
    folder.mkdir(parents=True, exist_ok=True)
    service = folder / "fcm-service-account.json"
    info: dict[str, Any] = json.loads(service.read_text()) if service.exists() else _service_account()
    if info.get("token_uri") != token_uri or not service.exists():
        info["token_uri"] = token_uri
        _write_private(service, json.dumps(info, indent=2) + "\n")
    p8 = folder / "apns-token-key.p8"
    if not p8.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        _write_private(p8, _pem(key))
    return DevCredentials(service, p8)


def _service_account() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "type": "service_account",
        "project_id": DEV_PROJECT_ID,
        "private_key_id": secrets.token_hex(20),
        "private_key": _pem(key),
        "client_email": f"firebase-adminsdk-dev@{DEV_PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    }


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)
