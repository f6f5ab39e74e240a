"""SendMessages on the EMAIL channel: gateway -> Temporal workflow -> activity -> SMTP."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.raw import send
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

IDENTITY = "arn:aws:ses:us-east-1:123456789012:identity/example.com"


@pytest.fixture
def email_app(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "Shop <shop@example.com>", "Identity": IDENTITY, "Enabled": True},
    )
    return app_id


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def simple(subject: str, text: str | None = None, html: str | None = None, **extra: Any) -> dict[str, Any]:
    email: dict[str, Any] = {"Subject": {"Data": subject}}
    if text is not None:
        email["TextPart"] = {"Data": text}
    if html is not None:
        email["HtmlPart"] = {"Data": html}
    return {"EmailMessage": {"SimpleEmail": email, **extra}}


class TestAddresses:
    def test_delivers_rendered_mail_and_logs_it(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
    ) -> None:
        to = unique("ann")
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL", "Substitutions": {"FirstName": ["Ann"]}}},
                "MessageConfiguration": simple(
                    "Hi {{FirstName}}",
                    "Hello {{FirstName}}, your code is {{Code}}.",
                    "<p>Hello <b>{{FirstName}}</b></p>",
                    Substitutions={"Code": ["42"], "FirstName": ["nobody"]},
                ),
            },
        )["MessageResponse"]
        result = resp["Result"][to]
        assert result["DeliveryStatus"] == "SUCCESSFUL" and result["StatusCode"] == 200
        assert resp["ApplicationId"] == email_app and resp["RequestId"]
        [mail] = smtp.sink.to(to)
        assert mail.message["Subject"] == "Hi Ann"
        assert mail.message["From"] == "Shop <shop@example.com>"
        assert "Hello Ann, your code is 42." in mail.text
        assert "<b>Ann</b>" in mail.html
        assert mail.message["Message-ID"] == f"<{result['MessageId']}>"
        [row] = stack.sql("SELECT * FROM deliveries WHERE app_id = $1 AND address = $2", email_app, to)
        assert row["status"] == "SUCCESSFUL" and row["attempts"] == 1
        assert row["idempotency_key"].endswith(f"/0/{to}") and row["message_id"] == result["MessageId"]

    def test_plain_body_from_default_message(self, pinpoint: Any, smtp: SmtpServer, email_app: str) -> None:
        to = unique("plain")
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL", "TitleOverride": "Notice"}},
                "MessageConfiguration": {"DefaultMessage": {"Body": "Plain words"}},
            },
        )["MessageResponse"]
        assert resp["Result"][to]["DeliveryStatus"] == "SUCCESSFUL"
        [mail] = smtp.sink.to(to)
        assert mail.message["Subject"] == "Notice" and mail.text.strip() == "Plain words"

    def test_raw_email(self, pinpoint: Any, smtp: SmtpServer, email_app: str) -> None:
        to = unique("raw")
        raw = f"From: billing@example.com\r\nTo: {to}\r\nSubject: Invoice\r\n\r\nSee attached.\r\n".encode()
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {"EmailMessage": {"RawEmail": {"Data": raw}}},
            },
        )["MessageResponse"]
        assert resp["Result"][to]["DeliveryStatus"] == "SUCCESSFUL"
        [mail] = smtp.sink.to(to)
        assert mail.message["Subject"] == "Invoice" and mail.message["From"] == "billing@example.com"

    def test_duplicate_addresses(self, pinpoint: Any, smtp: SmtpServer, email_app: str) -> None:
        to = unique("dup")
        pinpoint.update_endpoint(
            ApplicationId=email_app, EndpointId="dup", EndpointRequest={"Address": to, "ChannelType": "EMAIL"}
        )
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}},
                "Endpoints": {"dup": {}},
                "MessageConfiguration": simple("once", "once"),
            },
        )["MessageResponse"]
        assert resp["Result"][to]["DeliveryStatus"] == "SUCCESSFUL"
        assert resp["EndpointResult"]["dup"]["DeliveryStatus"] == "DUPLICATE"
        assert len(smtp.sink.to(to)) == 1

    def test_permanent_rejection_is_reported_and_not_retried(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
    ) -> None:
        to, ok = unique("bounce"), unique("fine")
        smtp.sink.rules[to] = ("550 5.1.1 No such user", None)
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}, ok: {"ChannelType": "EMAIL"}},
                "MessageConfiguration": simple("x", "x"),
            },
        )["MessageResponse"]
        bad = resp["Result"][to]
        assert bad["DeliveryStatus"] == "PERMANENT_FAILURE" and bad["StatusCode"] == 400
        assert "550" in bad["StatusMessage"]
        assert resp["Result"][ok]["DeliveryStatus"] == "SUCCESSFUL"
        assert smtp.sink.rcpt_attempts[to] == 1 and smtp.sink.to(to) == []

    def test_transient_failures_retry_until_delivered_once(
        self, pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str
    ) -> None:
        to, other = unique("busy"), unique("other")
        smtp.sink.rules[to] = ("451 4.3.0 Try again later", 2)
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}, other: {"ChannelType": "EMAIL"}},
                "MessageConfiguration": simple("x", "x"),
            },
        )["MessageResponse"]
        assert resp["Result"][to]["DeliveryStatus"] == "SUCCESSFUL"
        assert smtp.sink.rcpt_attempts[to] == 3
        assert len(smtp.sink.to(to)) == 1 and len(smtp.sink.to(other)) == 1  # the other was not resent
        [row] = stack.sql("SELECT attempts, status FROM deliveries WHERE address = $1", to)
        assert row["status"] == "SUCCESSFUL" and row["attempts"] == 3

    def test_channel_not_enabled(self, pinpoint: Any, smtp: SmtpServer, app_id: str) -> None:
        to = unique("nochannel")
        resp = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={"Addresses": {to: {"ChannelType": "EMAIL"}}, "MessageConfiguration": simple("x", "x")},
        )
        assert resp["MessageResponse"]["Result"][to]["DeliveryStatus"] == "PERMANENT_FAILURE"
        assert smtp.sink.to(to) == []


class TestEndpoints:
    def test_endpoint_variables_and_skips(self, pinpoint: Any, smtp: SmtpServer, email_app: str) -> None:
        ann, bob, cat = unique("ann"), unique("bob"), unique("cat")
        pinpoint.update_endpoints_batch(
            ApplicationId=email_app,
            EndpointBatchRequest={
                "Item": [
                    {
                        "Id": "ann",
                        "Address": ann,
                        "ChannelType": "EMAIL",
                        "Attributes": {"City": ["Lyon"]},
                        "User": {"UserId": "u-ann", "UserAttributes": {"FirstName": ["Ann"]}},
                    },
                    {"Id": "bob", "Address": bob, "ChannelType": "EMAIL", "OptOut": "ALL"},
                    {"Id": "cat", "Address": cat, "ChannelType": "EMAIL", "EndpointStatus": "INACTIVE"},
                ]
            },
        )
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Endpoints": {"ann": {}, "bob": {}, "cat": {}, "nobody": {}},
                "MessageConfiguration": simple(
                    "For {{User.UserAttributes.FirstName}}", "Weather in {{Attributes.City.[0]}} for {{Missing.Thing}}!"
                ),
            },
        )
        results = resp["MessageResponse"]["EndpointResult"]
        assert results["ann"]["DeliveryStatus"] == "SUCCESSFUL" and results["ann"]["Address"] == ann
        assert results["bob"]["DeliveryStatus"] == "OPT_OUT"
        assert results["cat"]["DeliveryStatus"] == "PERMANENT_FAILURE"
        assert results["nobody"]["StatusCode"] == 404
        [mail] = smtp.sink.to(ann)
        assert mail.message["Subject"] == "For Ann" and "Weather in Lyon for !" in mail.text
        assert smtp.sink.to(bob) == [] and smtp.sink.to(cat) == []


class TestBadInput:
    def test_more_than_100_recipients(self, pinpoint: Any, email_app: str) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException):
            pinpoint.send_messages(
                ApplicationId=email_app,
                MessageRequest={
                    "Addresses": {f"a{i}@example.com": {"ChannelType": "EMAIL"} for i in range(101)},
                    "MessageConfiguration": simple("x", "x"),
                },
            )

    def test_address_without_channel_type(self, stack: Stack, email_app: str) -> None:
        reply = send(
            stack,
            "POST",
            f"/v1/apps/{email_app}/messages",
            {"Addresses": {"a@example.com": {}}, "MessageConfiguration": simple("x", "x")},
        )
        assert reply.status == 400 and "ChannelType" in reply.body["Message"]

    def test_unparsable_variables_name_the_part(self, pinpoint: Any, smtp: SmtpServer, email_app: str) -> None:
        to = unique("syntax")
        with pytest.raises(ClientError) as exc:
            pinpoint.send_messages(
                ApplicationId=email_app,
                MessageRequest={
                    "Addresses": {to: {"ChannelType": "EMAIL"}},
                    "MessageConfiguration": simple("ok", "line one\n{{ broken"),
                },
            )
        assert "TextPart" in exc.value.response["Error"]["Message"]
        assert "line 2" in exc.value.response["Error"]["Message"]
        assert smtp.sink.to(to) == []

    def test_missing_message_configuration(self, stack: Stack, email_app: str) -> None:
        reply = send(stack, "POST", f"/v1/apps/{email_app}/messages", {"Addresses": {}})
        assert reply.status == 400 and "MessageRequest.MessageConfiguration" in reply.body["Message"]

    def test_blob_must_be_base64(self, stack: Stack, email_app: str) -> None:
        reply = send(
            stack,
            "POST",
            f"/v1/apps/{email_app}/messages",
            {
                "Addresses": {"a@example.com": {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {"EmailMessage": {"RawEmail": {"Data": "%%%not base64"}}},
            },
        )
        assert reply.status == 400 and "RawEmail.Data" in reply.body["Message"]


def test_a_project_may_use_its_own_relay(pinpoint: Any, stack: Stack, smtp: SmtpServer, email_app: str) -> None:
    """`openpoint channels credentials` stores the project's relay (encrypted); its mail goes there."""
    own = SmtpServer().start()
    try:
        env = {
            **os.environ,
            "DATABASE_URL": stack.settings.database_url,
            "OPENPOINT_MASTER_KEY": stack.settings.master_key,
        }
        cli = [sys.executable, "-m", "launch.cli", "channels", "credentials", "--project", email_app]
        done = subprocess.run(
            [*cli, "--channel", "EMAIL", f"SmtpUrl={own.url}"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        bad = subprocess.run([*cli, "--channel", "EMAIL", "Nope=1"], env=env, capture_output=True, text=True)
        assert bad.returncode == 2
        [row] = stack.sql("SELECT secret_ciphertext FROM channels WHERE app_id = $1", email_app)
        assert own.url.encode() not in row["secret_ciphertext"]
        # Pinpoint's own channel writes keep the stored relay.
        pinpoint.update_email_channel(
            ApplicationId=email_app, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": IDENTITY}
        )
        to = unique("relay")
        resp = pinpoint.send_messages(
            ApplicationId=email_app,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {"DefaultMessage": {"Body": "via the project's relay"}},
            },
        )["MessageResponse"]
        assert resp["Result"][to]["DeliveryStatus"] == "SUCCESSFUL"
        assert len(own.sink.to(to)) == 1 and smtp.sink.to(to) == []
    finally:
        own.stop()
