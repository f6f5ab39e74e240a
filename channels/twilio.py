"""The SMS and VOICE channels through Twilio's REST API (the twilio SDK, async over aiohttp).

One mechanism, two resources: each batch gets an SDK client bound to the account (the
project's own `TwilioAccountSid`/`TwilioAuthToken` channel credentials, else the server's) and
pointed at `twilio_api_url`; each recipient's copy (templating/content.py) becomes a Message
(SMS) or a Call that speaks inline TwiML (VOICE). Both ask Twilio to report back to the
gateway's `/engagement/twilio/status` (api/routes/twilio_hooks.py), which turns delivery
reports into `_SMS.SUCCESS` / `_SMS.FAILURE` / `_voice.*` events.

Senders. SMS: the message's OriginationNumber, else its SenderId, else the SMS channel's
ShortCode or SenderId, else `twilio_from`. A call needs a number: OriginationNumber, else
`twilio_from`. A sender that starts with "MG" is a Messaging Service SID, which lets Twilio
pick a number from the service's pool (messages only).

Not mapped: Pinpoint's MessageType (TRANSACTIONAL / PROMOTIONAL) and Keyword choose among
AWS origination identities; Twilio has no per-message equivalent on an ordinary account, so
they are not sent.

Idempotency: every create carries the recipient's idempotency key as the
`I-Twilio-Idempotency-Token` header, so a request Twilio accepted but whose answer was lost is
not acted on twice when it is repeated with the same key.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from channels.deliverer import Outcome, Send, TransientDeliveryError
from channels.push import refusing
from openpoint.settings import Settings
from store.channels import ChannelConfig
from templating.content import personalise
from workflows.shared import OPT_OUT, PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
STATUS_CALLBACK_PATH = "/engagement/twilio/status"
UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient": the person texted STOP
_TIMEOUT_SECONDS = 30.0
# The SDK prefixes Twilio's own message with this; the prefix says nothing a reader needs.
_SDK_PREFIX = "Unable to create record: "
_VOICE_PREFIXES = ("Polly.", "Google.")
_TWILIO_VOICES = frozenset({"man", "woman", "alice"})
# A Polly voice for the common languages when the message names a language but no voice, so the
# language is spoken natively (Twilio's default voice speaks only a few languages).
DEFAULT_VOICES = {
    "en-US": "Joanna",
    "en-GB": "Amy",
    "en-AU": "Nicole",
    "en-IN": "Aditi",
    "es-ES": "Lucia",
    "es-US": "Lupe",
    "es-MX": "Mia",
    "fr-FR": "Lea",
    "fr-CA": "Chantal",
    "de-DE": "Vicki",
    "it-IT": "Bianca",
    "pt-BR": "Camila",
    "pt-PT": "Ines",
    "nl-NL": "Lotte",
    "ja-JP": "Mizuki",
    "ko-KR": "Seoyeon",
    "cmn-CN": "Zhiyu",
}

_idempotency_token: ContextVar[str | None] = ContextVar("twilio_idempotency_token", default=None)


@dataclass(frozen=True)
class Account:
    sid: str
    token: str


def account_for(settings: Settings, secrets: dict[str, Any] | None) -> Account | None:
    """The Twilio account a project sends with (and whose token signs its callbacks): its own
    channel credentials when it stored both, else the server's; None when neither is set."""
    secrets = secrets or {}
    if secrets.get("TwilioAccountSid") and secrets.get("TwilioAuthToken"):
        return Account(str(secrets["TwilioAccountSid"]), str(secrets["TwilioAuthToken"]))
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return Account(settings.twilio_account_sid, settings.twilio_auth_token)
    return None


class _TwilioHttp(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's aiohttp client, plus the current send's idempotency header, Basic auth as a
    header, and a timeout on every request (the SDK leaves requests without one)."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        headers = dict(headers or {})
        token = _idempotency_token.get()
        if token is not None:
            headers[IDEMPOTENCY_HEADER] = token
        if auth is not None:  # as a header: aiohttp deprecates its `auth` parameter
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return await super().request(method, url, params, data, headers, None, timeout or self.timeout, allow_redirects)


@contextmanager
def idempotent(key: str) -> Iterator[None]:
    reset = _idempotency_token.set(key)
    try:
        yield
    finally:
        _idempotency_token.reset(reset)


def sender_params(sender: str) -> dict[str, str]:
    return {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}


def classify(e: TwilioException) -> Outcome:
    """429 and 5xx may pass (TransientDeliveryError); other refusals are final."""
    status = int(getattr(e, "status", 0) or 0)
    code = getattr(e, "code", None)
    text = str(getattr(e, "msg", None) or getattr(e, "detail", None) or getattr(e, "title", None) or e)
    message = f"Twilio {code}: {text.removeprefix(_SDK_PREFIX)}"
    if status == 429 or status >= 500 or status == 0:
        raise TransientDeliveryError(message, code=status or 503)
    if code == UNSUBSCRIBED:
        return Outcome(OPT_OUT, status, message, endpoint_opt_out=True)
    return Outcome(PERMANENT_FAILURE, status, message)


class _TwilioProvider:
    """What SMS and VOICE share: account, client, idempotency, error mapping."""

    channel = ""
    resource = ""  # what Twilio created, for the status message

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._api_url = settings.twilio_api_url.rstrip("/")
        self.status_callback = settings.resolved_public_url().rstrip("/") + STATUS_CALLBACK_PATH

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        account = account_for(self._settings, channel.secrets if channel is not None else None)
        if account is None:
            message = (
                f"No Twilio account is configured for {self.channel}: set OPENPOINT_TWILIO_ACCOUNT_SID and "
                "OPENPOINT_TWILIO_AUTH_TOKEN, or the project's channel credentials."
            )
            yield refusing(Outcome(PERMANENT_FAILURE, 400, message))
            return
        http = _TwilioHttp(timeout=_TIMEOUT_SECONDS)
        client = Client(account.sid, account.token, http_client=http)
        # The API domain's base URL is where the SDK builds every api.twilio.com request from.
        client.api.base_url = self._api_url
        settings = channel.settings if channel is not None else {}

        async def send(r: Recipient) -> Outcome:
            content = personalise(batch.content, r)
            text = content.get("raw_content") or content.get("body")
            if not text:
                return Outcome(PERMANENT_FAILURE, 400, f"The {self.channel} message has no body.")
            sender = self.sender(content, settings)
            if isinstance(sender, Outcome):
                return sender
            try:
                with idempotent(r.key):
                    sid, status = await self.create(client, r, content, text, sender)
            except TwilioException as e:
                return classify(e)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise TransientDeliveryError(f"Twilio unreachable: {e!r}") from None
            return Outcome(SUCCESSFUL, 200, f"{self.resource} {status or 'accepted'} by Twilio", sid)

        try:
            yield send
        finally:
            await http.close()

    def sender(self, content: dict[str, Any], settings: dict[str, Any]) -> dict[str, str] | Outcome:
        raise NotImplementedError

    async def create(
        self, client: Client, r: Recipient, content: dict[str, Any], text: str, sender: dict[str, str]
    ) -> tuple[str, str]:
        """Create the message or call; its SID and Twilio's status."""
        raise NotImplementedError


class SmsProvider(_TwilioProvider):
    channel = "SMS"
    resource = "Message"

    def sender(self, content: dict[str, Any], settings: dict[str, Any]) -> dict[str, str] | Outcome:
        sender = (
            content.get("origination_number")
            or content.get("sender_id")
            or settings.get("ShortCode")
            or settings.get("SenderId")
            or self._settings.twilio_from
        )
        if not sender:
            return Outcome(
                PERMANENT_FAILURE,
                400,
                "No sender: set the message's OriginationNumber or SenderId, the SMS channel's ShortCode or "
                "SenderId, or OPENPOINT_TWILIO_FROM.",
            )
        return sender_params(str(sender))

    async def create(
        self, client: Client, r: Recipient, content: dict[str, Any], text: str, sender: dict[str, str]
    ) -> tuple[str, str]:
        media = content.get("media_url")
        message = await client.messages.create_async(
            to=r.address,
            body=text,
            status_callback=self.status_callback,
            **({"media_url": [media]} if media else {}),
            **sender,
        )
        return str(message.sid), str(message.status or "")


def twilio_voice(voice_id: str | None, language_code: str | None) -> tuple[str | None, str | None]:
    """Pinpoint's VoiceId and LanguageCode as Twilio's <Say voice=... language=...>.

    Pinpoint speaks with Amazon Polly and names voices as Polly does ("Joanna", "Matthew",
    "Lea"); Twilio offers the same voices as `Polly.<Name>` (and `Polly.<Name>-Neural`), so a
    VoiceId becomes `Polly.<Name>`. Names Twilio already understands (`Polly.*`, `Google.*`,
    man, woman, alice) pass as they are. Language codes are BCP-47 on both sides ("en-US");
    only their case is normalised. With a language and no voice, the language's usual Polly
    voice (DEFAULT_VOICES) speaks; with neither, Pinpoint's default, Joanna in en-US.
    """
    language = None
    if language_code:
        parts = language_code.strip().split("-")
        language = "-".join([parts[0].lower(), *(p.upper() for p in parts[1:])])
    voice = voice_id.strip() if voice_id else None
    if voice is None:
        voice = DEFAULT_VOICES.get(language or "en-US")
        language = language or "en-US"
    if voice is None or voice.startswith(_VOICE_PREFIXES) or voice.lower() in _TWILIO_VOICES:
        return voice, language
    return f"Polly.{voice[:1].upper()}{voice[1:]}", language


def twiml_for(text: str, voice_id: str | None, language_code: str | None) -> str:
    """`<Response><Say ...>text</Say></Response>`, the text escaped by the SDK's builder."""
    voice, language = twilio_voice(voice_id, language_code)
    response = VoiceResponse()
    response.say(text, **{k: v for k, v in (("voice", voice), ("language", language)) if v})
    return str(response)


class VoiceProvider(_TwilioProvider):
    channel = "VOICE"
    resource = "Call"
    # The last status of a call (completed, busy, no-answer, failed, canceled) comes with this event.
    status_events = ["completed"]

    def sender(self, content: dict[str, Any], settings: dict[str, Any]) -> dict[str, str] | Outcome:
        sender = content.get("origination_number") or self._settings.twilio_from
        if not sender or sender.startswith("MG"):
            return Outcome(
                PERMANENT_FAILURE,
                400,
                "No caller number: set the message's OriginationNumber, or OPENPOINT_TWILIO_FROM to a Twilio number.",
            )
        return {"from_": str(sender)}

    async def create(
        self, client: Client, r: Recipient, content: dict[str, Any], text: str, sender: dict[str, str]
    ) -> tuple[str, str]:
        call = await client.calls.create_async(
            to=r.address,
            twiml=twiml_for(text, content.get("voice_id"), content.get("language_code")),
            status_callback=self.status_callback,
            status_callback_event=self.status_events,
            status_callback_method="POST",
            **sender,
        )
        return str(call.sid), str(call.status or "")
