"""The APNs channels (APNS, APNS_SANDBOX, APNS_VOIP, APNS_VOIP_SANDBOX) over HTTP/2 (httpx).

Authentication is Apple's provider token (an ES256 JWT made from the channel's TokenKey,
TokenKeyId and TeamId, reused for 50 minutes: Apple refuses tokens older than an hour and
throttles providers that renew more often than every 20 minutes) or a client certificate (the
channel's Certificate and PrivateKey). The channel's DefaultAuthenticationMethod picks one
when both are set. The topic is the channel's BundleId (`.voip` appended on VoIP channels).

The payload has Pinpoint's shape (channels/push.py): `aps` for the system, then
`data.pinpoint` (campaign or journey ids, `deeplink` for DEEP_LINK and URL actions, and the
request's Context), `data.jsonBody` (the message's Data) and `data.media-url` (MediaUrl, with
`mutable-content` so a notification service extension can attach it). RawContent is the
payload as written.

Idempotency: the apns-id header is a UUID derived from the delivery's idempotency key, and the
delivery log never hands a recipient over twice; APNs itself does not de-duplicate by it.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from channels.deliverer import Outcome, Send, TransientDeliveryError
from channels.push import refusing, source, strings, tap_action
from openpoint.settings import Settings
from store.channels import ChannelConfig
from templating.content import personalise
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

APNS_CHANNELS = ("APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX")
TOKEN_LIFETIME_SECONDS = 50 * 60
_TIMEOUT_SECONDS = 30
_APNS_ID_NAMESPACE = uuid.UUID("5a1d3d0e-4f0c-4b7a-9a53-0b6e9c2f7a11")
_PRIORITIES = {"high": "10", "normal": "5", "10": "10", "5": "5"}  # FCM's words are accepted too
# Refusals that mean the token will never reach a device again.
_DEAD_TOKEN = frozenset({"BadDeviceToken", "Unregistered", "ExpiredToken"})


@dataclass(frozen=True)
class _Auth:
    """How a channel signs in: a provider token, or a client certificate in `tls`."""

    topic: str | None
    tls: ssl.SSLContext
    jwt_key: tuple[str, str, str] | None = None  # (team id, key id, p8 key)


class ApnsProvider:
    """Sends one APNs channel type; `tls` is the trust for APNs's certificate (None: the system's)."""

    def __init__(self, settings: Settings, channel_type: str, *, tls: ssl.SSLContext | None = None) -> None:
        if channel_type not in APNS_CHANNELS:
            raise ValueError(f"not an APNs channel: {channel_type}")
        self.channel = channel_type
        self._url = (settings.apns_sandbox_api_url if "SANDBOX" in channel_type else settings.apns_api_url).rstrip("/")
        self._voip = "VOIP" in channel_type
        self._trust = tls
        self._server_tls = tls or ssl.create_default_context()  # token auth: trust alone, shared
        self._tokens: dict[str, tuple[str, float]] = {}  # key digest -> (JWT, made at)

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        try:
            auth = self._auth(channel)
        except ValueError as e:
            yield refusing(Outcome(PERMANENT_FAILURE, 400, str(e)))
            return
        async with httpx.AsyncClient(
            base_url=self._url, http1=False, http2=True, verify=auth.tls, timeout=_TIMEOUT_SECONDS, trust_env=False
        ) as client:

            async def send(r: Recipient) -> Outcome:
                content = personalise(batch.content, r)
                body = payload(batch, content, r)
                if isinstance(body, Outcome):
                    return body
                headers = self._headers(content, body, r, auth)
                try:
                    path = f"/3/device/{quote(r.address, safe='')}"
                    response = await client.post(path, content=json.dumps(body), headers=headers)
                except httpx.TransportError as e:
                    raise TransientDeliveryError(f"APNs unreachable: {e!r}") from None
                if response.status_code == 200:
                    return Outcome(SUCCESSFUL, 200, "Message accepted by APNs", response.headers.get("apns-id"))
                return self._refused(response, auth)

            yield send

    def _auth(self, channel: ChannelConfig | None) -> _Auth:
        if channel is None:
            raise ValueError(f"The {self.channel} channel has no credentials.")
        found, settings = channel.secrets, channel.settings
        bundle = settings.get("BundleId")
        topic = f"{bundle}.voip" if bundle and self._voip and not bundle.endswith(".voip") else bundle
        has_token = bool(found.get("TokenKey"))
        has_cert = bool(found.get("Certificate") and found.get("PrivateKey"))
        if has_token and (settings.get("DefaultAuthenticationMethod") != "CERTIFICATE" or not has_cert):
            missing = [k for k in ("TokenKeyId", "TeamId", "BundleId") if not settings.get(k)]
            if missing:
                raise ValueError(f"The {self.channel} channel's token key needs {', '.join(missing)}.")
            key = (settings["TeamId"], settings["TokenKeyId"], found["TokenKey"])
            self._bearer(*key)  # a key that cannot sign fails the whole batch now, not per recipient
            return _Auth(topic, self._server_tls, key)
        if has_cert:
            return _Auth(topic, self._client_tls(found["Certificate"], found["PrivateKey"]))
        raise ValueError(f"The {self.channel} channel has no TokenKey or Certificate and PrivateKey.")

    def _client_tls(self, certificate: str, private_key: str) -> ssl.SSLContext:
        """The trust for APNs plus the channel's client certificate (ssl loads keys only from files)."""
        if self._trust is not None and self._trust.get_ca_certs():
            context = ssl.create_default_context(cadata=b"".join(self._trust.get_ca_certs(binary_form=True)))
        else:
            context = ssl.create_default_context()
        with tempfile.TemporaryDirectory() as folder:
            chain = Path(folder) / "client.pem"
            chain.touch(mode=0o600)
            chain.write_text(f"{private_key.strip()}\n{certificate.strip()}\n")
            try:
                context.load_cert_chain(chain)
            except ssl.SSLError as e:
                raise ValueError(f"The {self.channel} channel's Certificate and PrivateKey do not load: {e}") from None
        return context

    def _bearer(self, team_id: str, key_id: str, key: str) -> str:
        digest = hashlib.sha256(f"{team_id}\0{key_id}\0{key}".encode()).hexdigest()
        cached = self._tokens.get(digest)
        if cached is not None and time.time() - cached[1] < TOKEN_LIFETIME_SECONDS:
            return cached[0]
        now = time.time()
        try:
            token = jwt.encode({"iss": team_id, "iat": int(now)}, key, algorithm="ES256", headers={"kid": key_id})
        except (ValueError, TypeError, jwt.PyJWTError) as e:
            raise ValueError(f"The {self.channel} channel's TokenKey is not a usable ES256 key: {e}") from None
        self._tokens[digest] = (token, now)
        return token

    def _headers(self, content: dict[str, Any], body: dict[str, Any], r: Recipient, auth: _Auth) -> dict[str, str]:
        push_type = push_type_of(content, body, voip=self._voip)
        headers = {
            "apns-push-type": push_type,
            "apns-id": str(uuid.uuid5(_APNS_ID_NAMESPACE, r.key)),
            # Apple refuses priority 10 for background pushes.
            "apns-priority": _PRIORITIES.get(str(content.get("priority", "")).lower())
            or ("5" if push_type == "background" else "10"),
        }
        if auth.topic:
            headers["apns-topic"] = auth.topic
        if content.get("time_to_live") is not None:
            ttl = int(content["time_to_live"])
            headers["apns-expiration"] = str(int(time.time()) + ttl if ttl > 0 else 0)
        if content.get("collapse_key"):
            headers["apns-collapse-id"] = str(content["collapse_key"])
        if auth.jwt_key is not None:
            headers["authorization"] = f"bearer {self._bearer(*auth.jwt_key)}"
        return headers

    def _refused(self, response: httpx.Response, auth: _Auth) -> Outcome:
        try:
            reason = str(response.json().get("reason", ""))
        except ValueError:
            reason = ""
        status = response.status_code
        text = f"APNs refused the message ({status} {reason or response.reason_phrase})"
        if reason == "ExpiredProviderToken" and auth.jwt_key is not None:
            self._tokens.clear()  # a clock jump aged it early: the next attempt makes a new one
            raise TransientDeliveryError(text, 503)
        if status == 429 or status >= 500:
            raise TransientDeliveryError(text, 429 if status == 429 else 503)
        return Outcome(PERMANENT_FAILURE, status, text, endpoint_inactive=status == 410 or reason in _DEAD_TOKEN)


def push_type_of(content: dict[str, Any], body: dict[str, Any], *, voip: bool) -> str:
    """apns-push-type: as the message says, else voip on VoIP channels, background for a
    payload with nothing to show, alert otherwise (Pinpoint's rule)."""
    if content.get("apns_push_type"):
        return str(content["apns_push_type"])
    if voip:
        return "voip"
    found = body.get("aps")
    aps: dict[str, Any] = found if isinstance(found, dict) else {}
    shows = any(k in aps for k in ("alert", "badge", "sound"))
    return "background" if aps.get("content-available") == 1 and not shows else "alert"


def payload(batch: DeliveryBatch, content: dict[str, Any], r: Recipient) -> dict[str, Any] | Outcome:
    """The APNs payload for one recipient's copy of the content."""
    if isinstance(content.get("raw_content"), str):
        try:
            raw = json.loads(content["raw_content"])
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            return Outcome(PERMANENT_FAILURE, 400, "The RawContent of an APNs message must be a JSON object.")
        return raw
    aps: dict[str, Any] = {}
    if content.get("silent_push"):
        aps["content-available"] = 1
    else:
        alert = {k: content[k] for k in ("title", "body") if content.get(k)}
        if alert:
            aps["alert"] = alert
        for key, name in (("sound", "sound"), ("badge", "badge"), ("category", "category"), ("thread_id", "thread-id")):
            if content.get(key) is not None:
                aps[name] = content[key]
        if content.get("media_url"):
            aps["mutable-content"] = 1
    kind, ids = source(batch)
    pinpoint: dict[str, Any] = {**strings(r.context), kind: ids}
    _, url = tap_action(content)
    if url is not None:
        pinpoint["deeplink"] = url
    data: dict[str, Any] = {"pinpoint": pinpoint}
    if content.get("data"):
        data["jsonBody"] = strings(content["data"])
    if content.get("media_url"):
        data["media-url"] = content["media_url"]
    return {"aps": aps, "data": data}
