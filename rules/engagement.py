"""Engagement: which standard event each delivery outcome and provider callback becomes, and the
signed tokens that tracking links carry.

Event names follow Pinpoint's event stream (`_email.send`, `_email.open`, `_SMS.SUCCESS`, ...);
the channels Pinpoint did not stream (voice, push, custom) get names of the same form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

PUSH_CHANNELS = frozenset({"GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "ADM", "BAIDU", "PUSH"})


def channel_family(channel: str) -> str:
    """EMAIL, SMS, VOICE, PUSH or CUSTOM: the push platforms share one family."""
    return "PUSH" if channel in PUSH_CHANNELS else channel


# (events when the provider accepted the message, event when it refused it for good)
# A provider-reported opt-out (Twilio 21610) is recorded as the channel's opt-out event.
_OPT_OUT_EVENTS = {"SMS": "_SMS.OPTOUT", "VOICE": "_voice.optout"}

_SEND_EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    # An SMTP relay's 250 is the last word OpenPoint hears (DSNs are not read), so acceptance
    # counts as delivery.
    "EMAIL": (("_email.send", "_email.delivered"), "_email.rejected"),
    # Twilio answers "queued"; delivery arrives later through the status callback.
    "SMS": (("_SMS.BUFFERED",), "_SMS.FAILURE"),
    "VOICE": (("_voice.send",), "_voice.failure"),
    "PUSH": (("_push.send",), "_push.failure"),
    "CUSTOM": (("_custom.send",), "_custom.failure"),
}


def delivery_events(channel: str, status: str) -> tuple[str, ...]:
    """The standard events a delivery outcome records (none for skipped recipients)."""
    sent, failed = _SEND_EVENTS.get(channel_family(channel), ((), ""))
    if status == "SUCCESSFUL":
        return sent
    if status in ("PERMANENT_FAILURE", "TEMPORARY_FAILURE", "UNKNOWN_FAILURE", "THROTTLED") and failed:
        return (failed,)
    if status == "OPT_OUT" and channel_family(channel) in _OPT_OUT_EVENTS:
        return (_OPT_OUT_EVENTS[channel_family(channel)],)
    return ()


# Twilio message and call statuses reported to the status callback.
TWILIO_STATUS_EVENTS = {
    ("SMS", "delivered"): "_SMS.SUCCESS",
    ("SMS", "undelivered"): "_SMS.FAILURE",
    ("SMS", "failed"): "_SMS.FAILURE",
    ("VOICE", "completed"): "_voice.success",
    ("VOICE", "busy"): "_voice.failure",
    ("VOICE", "no-answer"): "_voice.failure",
    ("VOICE", "failed"): "_voice.failure",
    ("VOICE", "canceled"): "_voice.failure",
}

# Carrier-standard keywords (the ones Twilio's Advanced Opt-Out also honours).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES", "OPTIN"})


def keyword_of(body: str) -> str | None:
    """OPT_OUT, OPT_IN or None for an inbound SMS body (the whole message is the keyword)."""
    word = body.strip().upper().rstrip(".!")
    if word in OPT_OUT_KEYWORDS:
        return "OPT_OUT"
    if word in OPT_IN_KEYWORDS:
        return "OPT_IN"
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    """A URL-safe token that carries `payload` and cannot be forged without `secret`."""
    body = _b64(orjson.dumps(payload))
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()[:16]
    return f"{body}.{_b64(mac)}"


def verify(secret: bytes, token: str) -> dict[str, Any] | None:
    """The payload of a token made by `sign`, or None when it was altered or is malformed."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        payload = orjson.loads(_unb64(body))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None
