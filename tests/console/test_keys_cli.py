"""`openpoint keys create | list | revoke` and `openpoint channels credentials --clear` against the
test stack's database: the same functions as the console's Access keys and Channels pages. A key
the CLI revokes is refused by the API (it was never looked up by the gateway, so no cached copy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.stack import Stack

REPO = Path(__file__).resolve().parents[2]


def openpoint(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENPOINT_", "DATABASE_URL"))}
    env |= {
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": stack.settings.database_url,
        "OPENPOINT_MASTER_KEY": stack.settings.master_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "launch.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_create_list_and_revoke_a_key(stack: Stack, pinpoint: Any) -> None:
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "cli keys"})["ApplicationResponse"]["Id"]
    created = openpoint(stack, "keys", "create", "--project", app_id, "--description", "nightly export")
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.split("aws_access_key_id = ")[1].split()[0]
    secret = created.stdout.split("aws_secret_access_key = ")[1].split()[0]

    listed = openpoint(stack, "keys", "list", "--project", app_id)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith(key_id))
    assert line.split("\t")[1] == "active" and line.endswith("nightly export") and app_id in line
    assert secret not in listed.stdout

    revoked = openpoint(stack, "keys", "revoke", key_id)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout, revoked.stderr
    listed = openpoint(stack, "keys", "list", "--project", app_id)
    assert next(x for x in listed.stdout.splitlines() if x.startswith(key_id)).split("\t")[1] == "revoked"
    with pytest.raises(ClientError) as refused:
        stack.client(key=(key_id, secret)).get_app(ApplicationId=app_id)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    again = openpoint(stack, "keys", "revoke", key_id)
    assert again.returncode == 1 and "there is no active key" in again.stderr


def test_channel_credentials_stored_and_cleared(stack: Stack, pinpoint: Any) -> None:
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "cli creds"})["ApplicationResponse"]["Id"]
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
    stored = openpoint(
        stack, "channels", "credentials", "--project", app_id, "--channel", "SMS", "TwilioAccountSid=AC1"
    )
    assert stored.returncode == 0 and "stored TwilioAccountSid" in stored.stdout, stored.stderr
    assert pinpoint.get_sms_channel(ApplicationId=app_id)["SMSChannelResponse"]["HasCredential"] is True
    cleared = openpoint(stack, "channels", "credentials", "--project", app_id, "--channel", "SMS", "--clear")
    assert cleared.returncode == 0 and "cleared" in cleared.stdout, cleared.stderr
    assert pinpoint.get_sms_channel(ApplicationId=app_id)["SMSChannelResponse"]["HasCredential"] is False
    bad = openpoint(stack, "channels", "credentials", "--project", app_id, "--channel", "EMAIL", "SmtpUrl=http://x")
    assert bad.returncode == 2 and "smtp://" in bad.stderr
