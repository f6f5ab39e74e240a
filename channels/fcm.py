"""The GCM channel: Firebase Cloud Messaging's HTTP v1 API, through firebase-admin.

Credentials are the project's GCM channel `ServiceJson` (a Google service account). Each
service account gets its own firebase-admin App, kept for the life of the worker so its OAuth
token (fetched from the account's `token_uri`) serves every batch until it expires. A channel
with only a legacy server key (`ApiKey`) cannot send: Google shut the legacy API down in 2024.

Messages are data messages in Pinpoint's shape (channels/push.py), so apps built on the
Pinpoint or Amplify SDKs display, open and track them as before: the notification's title,
body, images and sound travel as `pinpoint.notification.*`, the tap action as
`pinpoint.openApp` / `pinpoint.deeplink` / `pinpoint.url`, the message's Data as the JSON string
`pinpoint.jsonBody`, the request's Context as `pinpoint.<key>`. RawContent replaces the whole
message: an FCM v1 message (optionally wrapped in `message` or `fcmV1Message`) or the legacy
shape Pinpoint documented (`notification`, `data`, `priority`, `time_to_live`, ...), which is
translated to v1; the recipient's token is always the target.

Idempotency: FCM v1 takes no idempotency key, so a message handed over twice would arrive
twice. The delivery log (channels/deliverer.py) never hands a recipient over twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import firebase_admin
import httpx
from firebase_admin import credentials, exceptions, messaging
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request as GoogleAuthRequest

from channels.deliverer import Outcome, Send, TransientDeliveryError
from channels.push import refusing, source, strings, tap_action
from openpoint.settings import Settings
from store.channels import ChannelConfig
from templating.content import personalise
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

LEGACY_KEY_ONLY = (
    "The GCM channel has only a legacy server key (ApiKey), and Google shut the legacy FCM API down in 2024. "
    "Update the channel with the ServiceJson of a Firebase service account."
)
NO_CREDENTIALS = "The GCM channel has no credentials: update it with the ServiceJson of a Firebase service account."
_TIMEOUT_SECONDS = 30
# content key -> the pinpoint.notification.* member the Pinpoint SDKs display.
_DISPLAY = (
    ("title", "title"),
    ("body", "body"),
    ("image_url", "imageUrl"),
    ("image_icon_url", "imageIconUrl"),
    ("small_image_icon_url", "imageSmallIconUrl"),
    ("sound", "sound"),
)
_PRIORITIES = {"high": "high", "normal": "normal", "10": "high", "5": "normal"}  # APNs values are accepted too
_TARGETS = ("token", "topic", "condition", "fid")


class FcmProvider:
    channel = "GCM"

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.fcm_api_url.rstrip("/")
        self._clients: dict[str, _Fcm] = {}

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        found = channel.secrets if channel is not None else {}
        if not found.get("ServiceJson"):
            yield refusing(Outcome(PERMANENT_FAILURE, 400, LEGACY_KEY_ONLY if found.get("ApiKey") else NO_CREDENTIALS))
            return
        try:
            fcm = self._client(found["ServiceJson"])
        except ValueError as e:
            yield refusing(Outcome(PERMANENT_FAILURE, 400, f"The GCM channel's ServiceJson is not usable: {e}"))
            return

        async def send(r: Recipient) -> Outcome:
            refused = await fcm.authorise()
            if refused is not None:
                return refused
            content = personalise(batch.content, r)
            try:
                if isinstance(content.get("raw_content"), str):
                    raw = raw_message(content["raw_content"], r.address)
                    if isinstance(raw, Outcome):
                        return raw
                    name = await fcm.send_raw(raw)
                else:
                    name = await fcm.send(message(batch, content, r))
            except exceptions.FirebaseError as e:
                return classify(e)
            except ValueError as e:  # firebase-admin's own checks of the message
                return Outcome(PERMANENT_FAILURE, 400, f"The GCM message is not valid: {e}")
            return Outcome(SUCCESSFUL, 200, "Message accepted by FCM", name)

        yield send

    def _client(self, service_json: str) -> _Fcm:
        """The firebase-admin App for this service account (and FCM URL), made once."""
        name = "openpoint-gcm-" + hashlib.sha256(f"{self._base_url}\0{service_json}".encode()).hexdigest()[:24]
        if name not in self._clients:
            info = json.loads(service_json)
            if not isinstance(info, dict):
                raise ValueError("it is not a JSON object")
            credential = credentials.Certificate(info)
            try:
                app = firebase_admin.get_app(name)
            except ValueError:  # App names are process-wide: another provider may have made it
                options = {"projectId": credential.project_id, "httpTimeout": _TIMEOUT_SECONDS}
                app = firebase_admin.initialize_app(credential, options, name=name)
            self._clients[name] = _Fcm(app, self._base_url)
        return self._clients[name]


class _Fcm:
    """firebase-admin's messaging service for one App, pointed at `base_url`.

    firebase-admin has no option for the FCM endpoint: the service keeps the send URL in
    `_fcm_url`, read on every send, so that is the one attribute replaced. RawContent is a
    ready-made v1 message that firebase-admin's typed `Message` cannot carry; it goes through
    the same service's authorised HTTP client and error parsing.
    """

    def __init__(self, app: Any, base_url: str) -> None:
        self._app = app
        self._service = messaging._get_messaging_service(app)
        if not isinstance(getattr(self._service, "_fcm_url", None), str):
            raise RuntimeError("this firebase-admin version keeps the FCM send URL elsewhere; update push_fcm.py")
        self._service._fcm_url = f"{base_url}/v1/projects/{app.project_id}/messages:send"
        self._credential = app.credential.get_credential()

    async def authorise(self) -> Outcome | None:
        """Fetch an OAuth token when there is none (or it expired) in a thread, so that
        firebase-admin's auth flow, which would fetch it with blocking I/O, finds it ready."""
        if self._credential.valid:
            return None
        try:
            await asyncio.to_thread(self._credential.refresh, GoogleAuthRequest())
        except RefreshError as e:
            if e.retryable:
                raise TransientDeliveryError(f"Google's token endpoint is unavailable: {e}") from None
            return Outcome(PERMANENT_FAILURE, 401, f"Google refused the GCM channel's service account: {e}")
        except TransportError as e:
            raise TransientDeliveryError(f"Google's token endpoint is unreachable: {e}") from None
        return None

    async def send(self, msg: messaging.Message) -> str:
        response = (await messaging.send_each_async([msg], app=self._app)).responses[0]
        if response.exception is not None:
            raise response.exception
        return str(response.message_id)

    async def send_raw(self, body: dict[str, Any]) -> str:
        service = self._service
        try:
            response = await service._async_client.request(
                "post", url=service._fcm_url, headers=dict(service._fcm_headers), json={"message": body}
            )
        except httpx.HTTPError as e:
            raise service._handle_fcm_httpx_error(e) from e
        return str(response.json()["name"])


def message(batch: DeliveryBatch, content: dict[str, Any], r: Recipient) -> messaging.Message:
    """The data message for one recipient's copy of the content."""
    data = {f"pinpoint.{k}": v for k, v in strings(r.context).items()}
    kind, ids = source(batch)
    if kind == "journey":
        data["pinpoint"] = json.dumps({"journey": ids})
    else:
        data.update({f"pinpoint.campaign.{k}": v for k, v in ids.items()})
    silent = bool(content.get("silent_push"))
    data["pinpoint.notification.silentPush"] = "1" if silent else "0"
    if not silent:
        data.update({f"pinpoint.notification.{name}": content[k] for k, name in _DISPLAY if content.get(k)})
        action, url = tap_action(content)
        if url is None:
            data["pinpoint.openApp"] = "true"
        else:
            data["pinpoint.deeplink" if action == "DEEP_LINK" else "pinpoint.url"] = url
    if content.get("data"):
        data["pinpoint.jsonBody"] = json.dumps(strings(content["data"]))
    android = messaging.AndroidConfig(
        collapse_key=content.get("collapse_key"),
        priority=_PRIORITIES.get(str(content.get("priority", "")).lower()),
        ttl=timedelta(seconds=int(content["time_to_live"])) if content.get("time_to_live") is not None else None,
        restricted_package_name=content.get("restricted_package_name"),
    )
    with warnings.catch_warnings():  # `token` is what a registration token is sent as; `fid` is for installations
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(data=strings(data), android=android, token=r.address)


def raw_message(raw: str, token: str) -> dict[str, Any] | Outcome:
    """The v1 message a RawContent document describes, addressed to `token`."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("fcmV1Message"), dict):
        doc = doc["fcmV1Message"]
    if isinstance(doc, dict) and isinstance(doc.get("message"), dict):
        doc = doc["message"]
    if not isinstance(doc, dict):
        return Outcome(PERMANENT_FAILURE, 400, "The RawContent of a GCM message must be a JSON object.")
    if not any(k in doc for k in ("android", "apns", "webpush", "fcm_options")):
        doc = _from_legacy(doc)
    return {**{k: v for k, v in doc.items() if k not in _TARGETS}, "token": token}


def _from_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A legacy-API payload (the RawContent Pinpoint documented) as a v1 message."""
    out: dict[str, Any] = {}
    if isinstance(doc.get("data"), dict):
        out["data"] = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc["data"].items()}
    found = doc.get("notification")
    note: dict[str, Any] = found if isinstance(found, dict) else {}
    shared = {k: note[k] for k in ("title", "body", "image") if k in note}
    if shared:
        out["notification"] = shared
    android: dict[str, Any] = {k: doc[k] for k in ("collapse_key", "priority", "restricted_package_name") if k in doc}
    if doc.get("time_to_live") is not None:
        android["ttl"] = f"{int(doc['time_to_live'])}s"
    extra = {("channel_id" if k == "android_channel_id" else k): v for k, v in note.items() if k not in shared}
    if extra:
        android["notification"] = extra
    if android:
        out["android"] = android
    return out


def classify(e: exceptions.FirebaseError) -> Outcome:
    """FCM's refusal as an outcome; raises TransientDeliveryError for what a retry may fix."""
    status = e.http_response.status_code if e.http_response is not None else None
    text = f"FCM refused the message ({_fcm_code(e)}): {e}"
    if status is None or status == 429 or status >= 500:  # no answer, throttled, or FCM's own trouble
        raise TransientDeliveryError(text if status else f"FCM unreachable: {e}", 429 if status == 429 else 503)
    dead = isinstance(e, messaging.UnregisteredError) or (status == 400 and "registration token" in str(e).lower())
    return Outcome(PERMANENT_FAILURE, status, text, endpoint_inactive=dead)


def _fcm_code(e: exceptions.FirebaseError) -> str:
    """FCM's own error code (UNREGISTERED, INVALID_ARGUMENT, ...), else the platform's."""
    try:
        details = e.http_response.json()["error"]["details"]
        return next(str(d["errorCode"]) for d in details if "errorCode" in d)
    except (AttributeError, KeyError, TypeError, ValueError, StopIteration):
        return str(e.code)
