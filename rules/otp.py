"""SendOTPMessage / VerifyOTPMessage rules: parameter checks, codes, their hashes, message texts.

Limits and defaults follow Pinpoint's developer guide: the code has 5 to 8 digits (6), lives 5
to 60 minutes (15) and allows 1 to 5 verification attempts (3); BrandName has at most 20
characters and ReferenceId at most 48; the destination is an E.164 phone number; SMS is the
only channel.

EntityId and TemplateId are, in Pinpoint, the Indian DLT registration of the sender and of the
message text. OpenPoint sends through Twilio, where that registration is made on the account,
so both are kept on the delivery's events only. As an extension, a TemplateId that names one of
the account's SMS templates (store/templates.py) supplies the text instead of the default one;
any other TemplateId (a DLT id carried over from Pinpoint) leaves the default text.

Message variables, for the default texts and SMS templates alike: `{{otp}}` and `{{brand}}` are
the names of Pinpoint's own default template ("This is your One Time Password: {{otp}} from
{{brand}}"); `{{code}}` and `{{brandName}}` are the same values under other names, and
`{{validityPeriod}}` is the lifetime in minutes.

Only an HMAC of the code is stored. It binds the project, reference and destination, so a
stored hash says nothing about any other row's code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from openpoint.errors import BadRequest
from rules.phone import is_e164

FIELD = "SendOTPMessageRequestParameters"
CHANNEL = "SMS"
CODE_LENGTH = (5, 8, 6)  # min, max, default
VALIDITY_MINUTES = (5, 60, 15)
ALLOWED_ATTEMPTS = (1, 5, 3)
MAX_BRAND_NAME = 20
MAX_REFERENCE_ID = 48
# Variables a template must use for the code to reach the recipient.
CODE_VARIABLES = frozenset({"otp", "code"})

DEFAULT_LANGUAGE = "en-US"
# Pinpoint's English default, and the same sentence in the other common languages. Looked up by
# the full tag, then by its language; anything else gets English.
DEFAULT_TEXTS = {
    "en": "This is your One Time Password: {{otp}} from {{brand}}",
    "es": "Esta es su contraseña de un solo uso: {{otp}} de {{brand}}",
    "fr": "Voici votre mot de passe à usage unique : {{otp}} de {{brand}}",
    "de": "Dies ist Ihr Einmalpasswort: {{otp}} von {{brand}}",
    "it": "Questa è la tua password monouso: {{otp}} da {{brand}}",
    "pt": "Esta é a sua senha de uso único: {{otp}} de {{brand}}",
    "nl": "Dit is uw eenmalige wachtwoord: {{otp}} van {{brand}}",
    "ja": "{{brand}} のワンタイムパスワードは {{otp}} です",
    "ko": "{{brand}} 일회용 비밀번호: {{otp}}",
    "zh": "这是您来自 {{brand}} 的一次性密码：{{otp}}",
    "zh-TW": "這是您來自 {{brand}} 的一次性密碼：{{otp}}",
    "zh-HK": "這是您來自 {{brand}} 的一次性密碼：{{otp}}",
}


@dataclass(frozen=True)
class OtpSend:
    brand_name: str
    reference_id: str
    destination: str
    origination: str
    code_length: int
    validity_minutes: int
    allowed_attempts: int
    language: str
    template_name: str | None


def _bounded(body: dict[str, Any], member: str, bounds: tuple[int, int, int], unit: str) -> int:
    low, high, default = bounds
    value = body.get(member)
    if value is None:
        return default
    if not low <= value <= high:
        raise BadRequest(f"Invalid value for {FIELD}.{member}: {value} is not between {low} and {high} {unit}.")
    return int(value)


def _text(body: dict[str, Any], member: str, limit: int | None = None) -> str:
    value = str(body.get(member) or "").strip()
    if not value:
        raise BadRequest(f"Invalid value for {FIELD}.{member}: it must not be empty.")
    if limit is not None and len(value) > limit:
        raise BadRequest(f"Invalid value for {FIELD}.{member}: at most {limit} characters.")
    return value


def check_send(body: dict[str, Any]) -> OtpSend:
    """The request's parameters with defaults filled, or a BadRequest naming the member."""
    channel = str(body.get("Channel") or "")
    if channel.upper() != CHANNEL:
        raise BadRequest(f"Invalid value for {FIELD}.Channel: '{channel}' is not supported; use SMS.")
    destination = _text(body, "DestinationIdentity")
    if not is_e164(destination):
        raise BadRequest(
            f"Invalid value for {FIELD}.DestinationIdentity: '{destination}' is not a phone number in E.164 format."
        )
    return OtpSend(
        brand_name=_text(body, "BrandName", MAX_BRAND_NAME),
        reference_id=_text(body, "ReferenceId", MAX_REFERENCE_ID),
        destination=destination,
        origination=_text(body, "OriginationIdentity"),
        code_length=_bounded(body, "CodeLength", CODE_LENGTH, "digits"),
        validity_minutes=_bounded(body, "ValidityPeriod", VALIDITY_MINUTES, "minutes"),
        allowed_attempts=_bounded(body, "AllowedAttempts", ALLOWED_ATTEMPTS, "attempts"),
        language=str(body.get("Language") or DEFAULT_LANGUAGE),
        template_name=body.get("TemplateId") or None,
    )


def new_code(length: int) -> str:
    return str(secrets.randbelow(10**length)).zfill(length)


def code_hash(key: bytes, *, app_id: str, reference_id: str, destination: str, code: str) -> bytes:
    # Joined with "|": only the reference may contain one, and the fields around it (project id,
    # E.164 number, digits) cannot, so no two rows' inputs coincide.
    message = "|".join((app_id, reference_id, destination, code)).encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def same_hash(stored: bytes, candidate: bytes) -> bool:
    return hmac.compare_digest(stored, candidate)


def default_text(language: str) -> str:
    parts = language.strip().replace("_", "-").split("-")
    tag = "-".join([parts[0].lower(), *(p.upper() for p in parts[1:])])
    return DEFAULT_TEXTS.get(tag) or DEFAULT_TEXTS.get(parts[0].lower()) or DEFAULT_TEXTS["en"]


def message_variables(send: OtpSend, code: str) -> dict[str, list[str]]:
    """The values a default text or template sees, as substitutions (lists, as Pinpoint's are)."""
    return {
        "otp": [code],
        "code": [code],
        "brand": [send.brand_name],
        "brandName": [send.brand_name],
        "validityPeriod": [str(send.validity_minutes)],
    }
