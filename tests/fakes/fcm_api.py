"""A loopback fake of FCM's HTTP v1 send API and Google's OAuth token endpoint, enough for
firebase-admin.

The token endpoint checks what Google checks: a JWT-bearer grant whose assertion is signed by
the private key of a service account it knows (`service_account()` makes one and registers its
public key), addressed to Google's token endpoint and asking for an FCM scope. Sends need
`Authorization: Bearer <a token it issued>`. Each device token can be scripted to answer with
errors (`script`) before it accepts; accepted messages land in `sent`, refused ones in `refused`.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import LoopbackServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth addresses every assertion to Google's token endpoint, wherever token_uri points.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Scopes that let a token send with FCM's v1 API.
FCM_SCOPES = frozenset(
    f"https://www.googleapis.com/auth/{s}" for s in ("firebase.messaging", "firebase", "cloud-platform")
)
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# What FCM answers for each scriptable failure: (HTTP status, google.rpc status, FcmError code, message).
ERRORS: dict[str, tuple[int, str, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "INVALID_TOKEN": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received."),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for this device."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}


def error_body(kind: str) -> tuple[int, dict[str, Any]]:
    status, rpc_status, fcm_code, message = ERRORS[kind]
    details = [{"@type": FCM_ERROR, "errorCode": fcm_code}]
    return status, {"error": {"code": status, "message": message, "status": rpc_status, "details": details}}


class FakeFcm(LoopbackServer):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self.rejected_grants: list[str] = []
        self._accounts: dict[str, Any] = {}  # client_email -> RSA public key
        self._issued: set[str] = set()
        self._scripts: dict[str, list[str]] = defaultdict(list)
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

    def service_account(self, project_id: str | None = None) -> str:
        """A service-account JSON (what a Firebase console download holds) whose token_uri is this
        fake; its key is trusted from now on."""
        project_id = project_id or f"proj-{secrets.token_hex(4)}"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"firebase-adminsdk-{secrets.token_hex(3)}@{project_id}.iam.gserviceaccount.com"
        self._accounts[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": project_id,
                "private_key_id": secrets.token_hex(20),
                "private_key": pem,
                "client_email": email,
                "client_id": str(secrets.randbelow(10**20)),
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": self.token_uri,
            }
        )

    def script(self, token: str, *replies: str) -> None:
        """The next sends to `token` get these ERRORS kinds, in order; later ones are accepted."""
        self._scripts[token].extend(replies)

    def sent_to(self, token: str) -> list[dict[str, Any]]:
        return [s["body"]["message"] for s in self.sent if s["body"]["message"].get("token") == token]

    async def _token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        assertion = form.get("assertion", "")
        if form.get("grant_type") != JWT_BEARER or not assertion:
            return self._grant_error("unsupported_grant_type", "Only JWT-bearer grants are accepted.")
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
        public_key = self._accounts.get(issuer)
        if public_key is None:
            return self._grant_error("invalid_grant", f"Unknown service account {issuer}.")
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], audience=GOOGLE_TOKEN_URI, issuer=issuer)
        except jwt.InvalidTokenError as e:
            return self._grant_error("invalid_grant", f"Invalid JWT Signature: {e}")
        if not FCM_SCOPES & set(claims.get("scope", "").split()):
            return self._grant_error("invalid_scope", "The assertion does not ask for FCM's scope.")
        self.tokens_issued += 1
        token = secrets.token_hex(16)
        self._issued.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _grant_error(self, error: str, description: str) -> JSONResponse:
        self.rejected_grants.append(description)
        return JSONResponse({"error": error, "error_description": description}, status_code=400)

    async def _send(self, request: Request) -> JSONResponse:
        project = request.path_params["project"]
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or bearer not in self._issued:
            body = {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            }
            return JSONResponse(body, status_code=401)
        body = await request.json()
        token = (body.get("message") or {}).get("token", "")
        record = {"project": project, "body": body, "headers": dict(request.headers)}
        if self._scripts.get(token):
            status, error = error_body(self._scripts[token].pop(0))
            self.refused.append({**record, "status": status})
            return JSONResponse(error, status_code=status)
        self.sent.append(record)
        return JSONResponse({"name": f"projects/{project}/messages/{secrets.token_hex(8)}"})
