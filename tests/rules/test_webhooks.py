"""The webhook signature receivers check (Stripe's scheme)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from openpoint.settings import Settings
from openpoint.vault import Vault
from rules.webhooks import sign_webhook, signing_secret, verify_webhook

BODY = b'{"Data":"hi","Endpoints":{}}'
T = 1_700_000_000


def test_the_header_is_a_timestamp_and_an_hmac_of_timestamp_dot_body() -> None:
    header = sign_webhook("s3cret", T, BODY)
    expected = hmac.new(b"s3cret", f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"


def test_a_signature_verifies_with_the_same_secret_and_body() -> None:
    assert verify_webhook("s3cret", sign_webhook("s3cret", T, BODY), BODY, now=T + 10)


def test_another_secret_or_a_changed_body_fails() -> None:
    header = sign_webhook("s3cret", T, BODY)
    assert not verify_webhook("other", header, BODY, now=T)
    assert not verify_webhook("s3cret", header, BODY + b" ", now=T)


def test_a_replay_outside_the_tolerance_fails() -> None:
    header = sign_webhook("s3cret", T, BODY)
    assert not verify_webhook("s3cret", header, BODY, now=T + 301)
    assert not verify_webhook("s3cret", header, BODY, now=T - 301)
    assert verify_webhook("s3cret", header, BODY, now=T + 600, tolerance=600)


def test_a_moved_timestamp_fails() -> None:
    signature = sign_webhook("s3cret", T, BODY).split(",")[1]
    assert not verify_webhook("s3cret", f"t={T + 1},{signature}", BODY, now=T)


def test_any_matching_v1_is_enough_during_a_rotation() -> None:
    old, new = sign_webhook("old", T, BODY), sign_webhook("new", T, BODY)
    header = f"{new},{old.split(',')[1]}"
    assert verify_webhook("old", header, BODY, now=T) and verify_webhook("new", header, BODY, now=T)


def test_malformed_headers_fail() -> None:
    for header in ("", "t=abc,v1=00", f"t={T}", "v1=00", "garbage"):
        assert not verify_webhook("s3cret", header, BODY, now=T)


def test_the_secret_is_the_setting_or_derived_from_the_master_key() -> None:
    vault = Vault(secrets.token_bytes(32))
    assert signing_secret(Settings(webhook_signing_secret="configured"), vault) == "configured"
    derived = signing_secret(Settings(webhook_signing_secret=""), vault)
    assert derived == vault.derive("webhook-signing").hex() and len(derived) == 64
    assert signing_secret(Settings(webhook_signing_secret=""), vault) == derived  # stable
