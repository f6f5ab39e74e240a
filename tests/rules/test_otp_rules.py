"""SendOTPMessage parameter checks, codes, hashes and default texts, as plain functions."""

from __future__ import annotations

from typing import Any

import pytest

from openpoint.errors import BadRequest
from rules.otp import (
    OtpSend,
    check_send,
    code_hash,
    default_text,
    message_variables,
    new_code,
    same_hash,
)

VALID = {
    "BrandName": "ExampleCorp",
    "Channel": "SMS",
    "DestinationIdentity": "+12065550142",
    "OriginationIdentity": "+12065550100",
    "ReferenceId": "signup-42",
}


def test_defaults() -> None:
    assert check_send(VALID) == OtpSend(
        brand_name="ExampleCorp",
        reference_id="signup-42",
        destination="+12065550142",
        origination="+12065550100",
        code_length=6,
        validity_minutes=15,
        allowed_attempts=3,
        language="en-US",
        template_name=None,
    )


def test_limits_accepted() -> None:
    send = check_send(
        {
            **VALID,
            "CodeLength": 8,
            "ValidityPeriod": 60,
            "AllowedAttempts": 1,
            "BrandName": "B" * 20,
            "ReferenceId": "r" * 48,
        }
    )
    assert (send.code_length, send.validity_minutes, send.allowed_attempts) == (8, 60, 1)


@pytest.mark.parametrize(
    ("change", "member"),
    [
        ({"Channel": "EMAIL"}, "Channel"),
        ({"CodeLength": 4}, "CodeLength"),
        ({"CodeLength": 9}, "CodeLength"),
        ({"ValidityPeriod": 4}, "ValidityPeriod"),
        ({"ValidityPeriod": 61}, "ValidityPeriod"),
        ({"AllowedAttempts": 0}, "AllowedAttempts"),
        ({"AllowedAttempts": 6}, "AllowedAttempts"),
        ({"BrandName": "B" * 21}, "BrandName"),
        ({"BrandName": "  "}, "BrandName"),
        ({"ReferenceId": "r" * 49}, "ReferenceId"),
        ({"ReferenceId": ""}, "ReferenceId"),
        ({"DestinationIdentity": "2065550142"}, "DestinationIdentity"),
        ({"DestinationIdentity": "+1 206 555 0142"}, "DestinationIdentity"),
        ({"DestinationIdentity": "+1206"}, "DestinationIdentity"),
        ({"OriginationIdentity": ""}, "OriginationIdentity"),
    ],
)
def test_refused(change: dict[str, Any], member: str) -> None:
    with pytest.raises(BadRequest, match=f"SendOTPMessageRequestParameters.{member}"):
        check_send({**VALID, **change})


@pytest.mark.parametrize("length", [5, 6, 7, 8])
def test_codes_are_digits_of_the_length(length: int) -> None:
    codes = {new_code(length) for _ in range(200)}
    assert all(len(c) == length and c.isdigit() for c in codes)
    assert len(codes) > 150  # random, not a counter or a constant


def test_hash_binds_every_part() -> None:
    key = b"k" * 32
    parts = {"app_id": "a1", "reference_id": "ref", "destination": "+12065550142", "code": "123456"}
    base = code_hash(key, **parts)
    assert same_hash(base, code_hash(key, **parts))
    assert "123456" not in base.hex() and b"123456" not in base
    for name in parts:
        assert not same_hash(base, code_hash(key, **{**parts, name: parts[name] + "0"}))
    assert not same_hash(base, code_hash(b"x" * 32, **parts))


@pytest.mark.parametrize(
    ("language", "start"),
    [
        ("en-US", "This is your One Time Password: "),
        ("en-GB", "This is your One Time Password: "),
        ("es-ES", "Esta es su contraseña"),
        ("es-US", "Esta es su contraseña"),
        ("fr-FR", "Voici votre mot de passe"),
        ("fr_ca", "Voici votre mot de passe"),
        ("de-DE", "Dies ist Ihr Einmalpasswort"),
        ("pt-BR", "Esta é a sua senha"),
        ("ja-JP", "{{brand}} のワンタイムパスワード"),
        ("zh-CN", "这是您来自"),
        ("zh-TW", "這是您來自"),
        ("xx-YY", "This is your One Time Password: "),
        ("", "This is your One Time Password: "),
    ],
)
def test_default_texts(language: str, start: str) -> None:
    text = default_text(language)
    assert text.startswith(start)
    assert "{{otp}}" in text and "{{brand}}" in text


def test_pinpoint_english_wording() -> None:
    assert default_text("en-US") == "This is your One Time Password: {{otp}} from {{brand}}"


def test_message_variables() -> None:
    send = check_send({**VALID, "ValidityPeriod": 10})
    assert message_variables(send, "004211") == {
        "otp": ["004211"],
        "code": ["004211"],
        "brand": ["ExampleCorp"],
        "brandName": ["ExampleCorp"],
        "validityPeriod": ["10"],
    }
