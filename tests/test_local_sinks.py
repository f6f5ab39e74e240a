"""`make run`'s local sinks: with no provider configured, every channel's messages land as files
under the data directory, and Twilio's delivery reports come back as standard events.

The dev stack runs as `make run` runs it (launch/ sinks on threads, worker and gateway as child
processes configured only through their environment), on the session's PostgreSQL and
Temporal server (DATABASE_URL / TEMPORAL_ADDRESS make it start neither of its own).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import boto3
import httpx
import pytest
from botocore.config import Config

from launch.dev import DevStack
from launch.postgres import EmbeddedPostgres
from launch.processes import free_port
from launch.push_sinks import DEV_KEY_ID, DEV_TEAM_ID
from launch.server import SinkError
from launch.sinks import LocalSinks, SinkPorts
from openpoint.settings import Settings
from store.db import plain_dsn
from store.migrate import upgrade

T = TypeVar("T")
# Providers a developer's shell may configure; the sinks stand in only for unset ones.
PROVIDER_VARIABLES = (
    "OPENPOINT_SMTP_URL",
    "OPENPOINT_TWILIO_ACCOUNT_SID",
    "OPENPOINT_TWILIO_AUTH_TOKEN",
    "OPENPOINT_TWILIO_API_URL",
    "OPENPOINT_TWILIO_FROM",
    "OPENPOINT_FCM_API_URL",
    "OPENPOINT_APNS_API_URL",
    "OPENPOINT_APNS_SANDBOX_API_URL",
    "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS",
    "OPENPOINT_PUBLIC_URL",
    "OPENPOINT_MASTER_KEY",
    "SSL_CERT_FILE",
)


def _wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"no {what} within {timeout:g}s"
        time.sleep(0.2)


def _files(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _events(database_url: str, app_id: str) -> list[str]:
    async def fetch() -> list[str]:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            rows = await conn.fetch("SELECT event_type FROM events WHERE app_id = $1 ORDER BY event_time", app_id)
        finally:
            await conn.close()
        return [r["event_type"] for r in rows]

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def dev_database(pg_server: EmbeddedPostgres) -> str:
    """A database of its own: the session stack's outbox dispatcher would otherwise also hand this
    stack's campaign commands to the session's worker, which does not trust the sinks' CA."""
    url = pg_server.create_database(f"openpoint_sinks_{secrets.token_hex(4)}")
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def dev(dev_database: str, temporal_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data_dir = tmp_path_factory.mktemp("dev-data")
    with pytest.MonkeyPatch.context() as env:
        for name in PROVIDER_VARIABLES:
            env.delenv(name, raising=False)
        for name, value in {
            "DATABASE_URL": dev_database,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_TASK_QUEUE": f"openpoint-dev-{secrets.token_hex(4)}",
            "OPENPOINT_HOST": "127.0.0.1",
            "OPENPOINT_PORT": str(free_port()),
            "OPENPOINT_DATA_DIR": str(data_dir),
            "OPENPOINT_SMTP_PORT": str(free_port()),
            "OPENPOINT_TWILIO_SINK_PORT": str(free_port()),
            "OPENPOINT_FCM_SINK_PORT": str(free_port()),
            "OPENPOINT_APNS_SINK_PORT": str(free_port()),
            "OPENPOINT_WEBHOOK_SINK_PORT": str(free_port()),
        }.items():
            env.setenv(name, value)
        stack = DevStack(Settings())
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def client(dev: DevStack) -> Any:
    key_id, secret = dev.key
    return boto3.client(
        "pinpoint",
        endpoint_url=dev.gateway_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


@pytest.fixture
def project(client: Any) -> str:
    app = client.create_app(CreateApplicationRequest={"Name": f"sinks-{secrets.token_hex(3)}"})
    return str(app["ApplicationResponse"]["Id"])


def _send(client: Any, app_id: str, address: str, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    result = client.send_messages(
        ApplicationId=app_id,
        MessageRequest={"Addresses": {address: {"ChannelType": channel}}, "MessageConfiguration": message},
    )["MessageResponse"]["Result"][address]
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    return dict(result)


def test_sms_lands_in_a_file_and_its_delivery_report_is_an_event(
    client: Any, dev: DevStack, project: str, dev_database: str
) -> None:
    # What the AWS SDK's SMS example does, on a fresh clone with no Twilio account.
    client.update_sms_channel(ApplicationId=project, SMSChannelRequest={"Enabled": True})
    phone = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    result = _send(
        client, project, phone, "SMS", {"SMSMessage": {"Body": "Your code is 1234", "MessageType": "TRANSACTIONAL"}}
    )

    folder = dev.data_dir / "sms"
    [sms] = _wait_for("SMS file", lambda: [m for m in _files(folder) if m["to"] == phone])
    assert sms["body"] == "Your code is 1234"
    assert sms["sid"] == result["MessageId"]
    assert sms["from"] == "+15005550006"  # OPENPOINT_TWILIO_FROM, set by the dev stack
    assert sms["status_callback"] == f"{dev.gateway_url}/engagement/twilio/status"

    # The sink's signed status report comes back through the gateway's Twilio hook; repeats of
    # it (the sink reports the final status more than once) are recorded once.
    _wait_for("_SMS.SUCCESS", lambda: "_SMS.SUCCESS" in _events(dev_database, project))
    assert _events(dev_database, project).count("_SMS.SUCCESS") == 1


def test_email_lands_in_an_eml_file(client: Any, dev: DevStack, project: str) -> None:
    identity = "arn:aws:ses:us-east-1:000000000000:identity/example.com"
    client.update_email_channel(
        ApplicationId=project,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": identity, "Enabled": True},
    )
    to = f"{secrets.token_hex(4)}@example.com"
    message = {"EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Hi"}, "TextPart": {"Data": "Hello there"}}}}
    _send(client, project, to, "EMAIL", message)
    _wait_for("an .eml file", lambda: [p for p in (dev.data_dir / "mail").glob("*.eml") if to in p.read_text()])


def test_twilio_sink_answers_a_repeated_create_once(dev: DevStack) -> None:
    assert dev.sinks is not None and dev.sinks.twilio is not None
    sid = "AC" + "5" * 32
    url = f"{dev.sinks.twilio.url}/2010-04-01/Accounts/{sid}/Messages.json"
    to = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    form = {"To": to, "From": "+15005550006", "Body": "once"}
    headers = {"I-Twilio-Idempotency-Token": secrets.token_hex(8)}
    first = httpx.post(url, data=form, headers=headers, auth=(sid, "token"))
    again = httpx.post(url, data=form, headers=headers, auth=(sid, "token"))
    assert first.status_code == again.status_code == 201
    assert first.json()["sid"] == again.json()["sid"]
    assert [m["sid"] for m in _files(dev.data_dir / "sms") if m["to"] == to] == [first.json()["sid"]]
    assert httpx.post(url, data=form, auth=("AC" + "6" * 32, "token")).status_code == 401  # not its account


def test_voice_lands_in_a_file_and_reports_success(client: Any, dev: DevStack, project: str, dev_database: str) -> None:
    client.update_voice_channel(ApplicationId=project, VoiceChannelRequest={"Enabled": True})
    phone = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    message = {"VoiceMessage": {"Body": "Your code is 5678", "LanguageCode": "en-US", "VoiceId": "Joanna"}}
    _send(client, project, phone, "VOICE", message)

    [call] = _wait_for("voice file", lambda: [m for m in _files(dev.data_dir / "voice") if m["to"] == phone])
    assert call["spoken"] == "Your code is 5678"
    assert 'voice="Polly.Joanna"' in call["twiml"]
    _wait_for("_voice.success", lambda: "_voice.success" in _events(dev_database, project))


def test_gcm_push_lands_in_a_file(client: Any, dev: DevStack, project: str) -> None:
    assert dev.sinks is not None and dev.sinks.credentials is not None
    service_json = dev.sinks.credentials.fcm_service_json.read_text()
    client.update_gcm_channel(ApplicationId=project, GCMChannelRequest={"ServiceJson": service_json, "Enabled": True})
    token = "fcm-" + secrets.token_hex(16)
    message = {"GCMMessage": {"Title": "Hello", "Body": "from OpenPoint", "Action": "OPEN_APP"}}
    _send(client, project, token, "GCM", message)

    [push] = _wait_for("FCM file", lambda: [m for m in _files(dev.data_dir / "push") if m.get("token") == token])
    assert push["service"] == "FCM"
    assert push["message"]["data"]["pinpoint.notification.title"] == "Hello"
    assert push["message"]["data"]["pinpoint.notification.body"] == "from OpenPoint"


@pytest.mark.parametrize(("operation", "member", "environment"), [
    ("update_apns_channel", "APNSChannelRequest", "production"),
    ("update_apns_sandbox_channel", "APNSSandboxChannelRequest", "sandbox"),
])  # fmt: skip
def test_apns_push_lands_in_a_file(
    client: Any, dev: DevStack, project: str, operation: str, member: str, environment: str
) -> None:
    assert dev.sinks is not None and dev.sinks.credentials is not None
    request = {
        "TokenKey": dev.sinks.credentials.apns_token_key.read_text(),
        "TokenKeyId": DEV_KEY_ID,
        "TeamId": DEV_TEAM_ID,
        "BundleId": "com.example.shop",
        "DefaultAuthenticationMethod": "TOKEN",
        "Enabled": True,
    }
    getattr(client, operation)(ApplicationId=project, **{member: request})
    token = secrets.token_hex(32)
    channel = "APNS" if environment == "production" else "APNS_SANDBOX"
    _send(client, project, token, channel, {"APNSMessage": {"Title": "Hi", "Body": "there", "Badge": 3}})

    [push] = _wait_for("APNs file", lambda: [m for m in _files(dev.data_dir / "push") if m.get("token") == token])
    assert push["service"] == "APNs"
    assert push["environment"] == environment
    assert push["http_version"] == "2"  # APNs speaks only HTTP/2, over TLS the worker trusts
    assert push["auth"] == "token"
    assert push["headers"]["apns-topic"] == "com.example.shop"
    assert push["payload"]["aps"] == {"alert": {"title": "Hi", "body": "there"}, "badge": 3}


def test_custom_channel_campaign_lands_in_webhook_files(client: Any, dev: DevStack, project: str) -> None:
    assert dev.sinks is not None and dev.sinks.webhook is not None
    client.update_endpoints_batch(
        ApplicationId=project,
        EndpointBatchRequest={
            "Item": [
                {"Id": f"d{i}", "Address": f"device-{i}", "ChannelType": "CUSTOM", "Attributes": {"Name": [f"N{i}"]}}
                for i in range(2)
            ]
        },
    )
    segment = client.create_segment(
        ApplicationId=project,
        WriteSegmentRequest={
            "Name": "devices",
            "Dimensions": {"Attributes": {"Name": {"AttributeType": "INCLUSIVE", "Values": ["N0", "N1"]}}},
        },
    )["SegmentResponse"]["Id"]
    uri = f"{dev.sinks.webhook.url}/hooks/{project}"
    client.create_campaign(
        ApplicationId=project,
        WriteCampaignRequest={
            "Name": "to the webhook sink",
            "SegmentId": segment,
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "CustomDeliveryConfiguration": {"DeliveryUri": uri, "EndpointTypes": ["CUSTOM"]},
            "MessageConfiguration": {"CustomMessage": {"Data": "hello {{Attributes.Name}}"}},
        },
    )

    def mine() -> list[dict[str, Any]]:
        found = [m for m in _files(dev.data_dir / "webhook") if m["path"] == f"/hooks/{project}"]
        return found if len(found) == 2 else []

    hooks = _wait_for("two webhook files", mine)
    assert sorted(h["payload"]["Data"] for h in hooks) == ["hello N0", "hello N1"]
    assert {h["payload"]["ApplicationId"] for h in hooks} == {project}


def test_webhook_sink_refuses_what_is_not_signed(dev: DevStack) -> None:
    assert dev.sinks is not None and dev.sinks.webhook is not None and dev.sinks.tls is not None
    trust = ssl.create_default_context(cafile=dev.sinks.tls.ca)
    reply = httpx.post(f"{dev.sinks.webhook.url}/x", json={"Data": "forged"}, verify=trust)
    assert reply.status_code == 401


def test_configured_providers_get_no_sink(tmp_path: Path) -> None:
    configured = {
        "OPENPOINT_SMTP_URL": "smtp://relay.example:25",
        "OPENPOINT_TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "OPENPOINT_FCM_API_URL": "https://fcm.googleapis.com",
        "OPENPOINT_APNS_API_URL": "https://api.push.apple.com",
        "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8",
    }
    ports = SinkPorts(*(free_port() for _ in range(5)))
    sinks = LocalSinks(tmp_path, configured, webhook_secret="s", ports=ports)
    try:
        sinks.start()
        env = sinks.env()
    finally:
        sinks.stop()
    assert (sinks.mail, sinks.twilio, sinks.fcm, sinks.apns) == (None, None, None, None)
    assert not any(
        name.startswith(("OPENPOINT_SMTP", "OPENPOINT_TWILIO", "OPENPOINT_FCM", "OPENPOINT_APNS")) for name in env
    )
    # The webhook sink is a receiver, there whatever is configured; only its address is added.
    assert env["OPENPOINT_WEBHOOK_ALLOWED_NETWORKS"] == "10.0.0.0/8,127.0.0.1/32"


@pytest.mark.parametrize(("taken_by", "name"), [("smtp", "SMTP"), ("fcm", "FCM")])
def test_a_taken_port_is_a_clear_error_and_stop_is_safe(tmp_path: Path, taken_by: str, name: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = SinkPorts(*(port if field == taken_by else free_port() for field in SinkPorts.__dataclass_fields__))
        sinks = LocalSinks(tmp_path, {}, webhook_secret="s", ports=ports)
        with pytest.raises(SinkError, match=f"{name} sink cannot listen on 127.0.0.1:{port}"):
            sinks.start()
        sinks.stop()  # the sinks started before it stop; the others never started
    assert sinks.webhook is None
    if sinks.twilio is not None:
        assert not sinks.twilio._thread.is_alive()
