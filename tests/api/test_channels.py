"""Channel settings through boto3: the email channel, and credentials never echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.stack import Stack

IDENTITY = "arn:aws:ses:us-east-1:123456789012:identity/example.com"


class TestEmailChannel:
    def test_update_get_delete(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_email_channel(ApplicationId=app_id)
        resp = pinpoint.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={
                "FromAddress": "Shop <shop@example.com>",
                "Identity": IDENTITY,
                "Enabled": True,
                "ConfigurationSet": "tracking",
            },
        )["EmailChannelResponse"]
        assert resp["Platform"] == "EMAIL" and resp["Enabled"] is True and resp["Version"] == 1
        got = pinpoint.get_email_channel(ApplicationId=app_id)["EmailChannelResponse"]
        assert got["FromAddress"] == "Shop <shop@example.com>" and got["Identity"] == IDENTITY
        assert got["ApplicationId"] == app_id and got["ConfigurationSet"] == "tracking"
        assert got["HasCredential"] is False and got["CreationDate"].endswith("Z")

        pinpoint.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={"FromAddress": "news@example.com", "Identity": IDENTITY, "Enabled": False},
        )
        got = pinpoint.get_email_channel(ApplicationId=app_id)["EmailChannelResponse"]
        assert got["Enabled"] is False and got["Version"] == 2 and got["FromAddress"] == "news@example.com"
        assert got["ConfigurationSet"] == "tracking"  # kept: the update did not name it

        channels = pinpoint.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"]
        assert set(channels) == {"EMAIL"} and channels["EMAIL"]["Enabled"] is False

        deleted = pinpoint.delete_email_channel(ApplicationId=app_id)["EmailChannelResponse"]
        assert deleted["FromAddress"] == "news@example.com"
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_email_channel(ApplicationId=app_id)

    def test_bad_from_address_is_refused(self, pinpoint: Any, app_id: str) -> None:
        with pytest.raises(ClientError) as exc:
            pinpoint.update_email_channel(
                ApplicationId=app_id, EmailChannelRequest={"FromAddress": "not an address", "Identity": IDENTITY}
            )
        assert exc.value.response["Error"]["Code"] == "BadRequestException"
        assert "FromAddress" in exc.value.response["Error"]["Message"]
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.get_email_channel(ApplicationId=app_id)

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            pinpoint.update_email_channel(
                ApplicationId="d" * 32, EmailChannelRequest={"FromAddress": "a@example.com", "Identity": IDENTITY}
            )


class TestCredentials:
    def test_push_credentials_are_encrypted_and_never_echoed(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        service_json = json.dumps({"type": "service_account", "project_id": "demo", "private_key": "SECRET-PEM"})
        resp = pinpoint.update_gcm_channel(
            ApplicationId=app_id,
            GCMChannelRequest={"ServiceJson": service_json, "DefaultAuthenticationMethod": "TOKEN", "Enabled": True},
        )["GCMChannelResponse"]
        assert resp["HasCredential"] is True and "ServiceJson" not in resp
        got = pinpoint.get_gcm_channel(ApplicationId=app_id)["GCMChannelResponse"]
        assert got["HasCredential"] is True and got["DefaultAuthenticationMethod"] == "TOKEN"
        assert "SECRET-PEM" not in json.dumps(got, default=str)
        row = stack.sql("SELECT settings::text AS s, secret_ciphertext FROM channels WHERE app_id = $1", app_id)[0]
        assert b"SECRET-PEM" not in bytes(row["secret_ciphertext"]) and "SECRET-PEM" not in row["s"]
