"""The CUSTOM channel end to end through the delivery mechanism: a loopback HTTPS receiver that
checks signatures as a user's would, real PostgreSQL for the delivery log and events."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from channels.deliverer import Deliverer
from channels.webhook import WebhookProvider
from launch.processes import free_port
from openpoint.settings import Settings
from openpoint.vault import Vault
from rules.webhooks import verify_webhook
from tests.fakes.webhook_receiver import WebhookReceiver as Receiver
from workflows.shared import DeliveryBatch, DeliveryResult, Recipient

VAULT = Vault(secrets.token_bytes(32))
SECRET = "whsec-test-" + secrets.token_hex(8)
LOOPBACK = "127.0.0.0/8"


@pytest.fixture
def receiver(tls_cert: tuple[Path, Path]) -> Iterator[Receiver]:
    with Receiver(SECRET, tls_cert) as r:
        yield r


@pytest.fixture
def trust(tls_cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_cert[0]))


def deliverer(engine: Any, trust: ssl.SSLContext, *, allowed: str = LOOPBACK) -> Deliverer:
    settings = Settings(webhook_signing_secret=SECRET, webhook_allowed_networks=allowed, webhook_timeout_seconds=5)
    return Deliverer(engine, VAULT, {"CUSTOM": WebhookProvider(settings, VAULT, tls=trust)})


def custom_batch(
    url: str, *recipients: Recipient, data: str = "{}", attributes: dict[str, str] | None = None
) -> DeliveryBatch:
    return DeliveryBatch(
        app_id=secrets.token_hex(16),
        channel="CUSTOM",
        source="campaign",
        source_id=secrets.token_hex(4),
        content={"url": url, "data": data},
        recipients=list(recipients),
        max_attempts=3,
        attributes=attributes or {},
    )


def recipient(address: str, endpoint_id: str | None = None, **fields: Any) -> Recipient:
    return Recipient(key=f"wf-{secrets.token_hex(4)}/0/{address}", address=address, endpoint_id=endpoint_id, **fields)


async def run(deliverer: Deliverer, batch: DeliveryBatch, attempt: int = 1) -> list[DeliveryResult]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(DeliveryActivities(deliverer).deliver_batch, batch)


async def events(engine: Any, app_id: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT event_type, endpoint_id FROM events WHERE app_id = :a ORDER BY endpoint_id"), {"a": app_id}
        )
        return [(row[0], row[1]) for row in rows]


async def test_each_recipient_gets_its_own_signed_post(engine: Any, trust: ssl.SSLContext, receiver: Receiver) -> None:
    ada = recipient(
        "user-ada",
        "ep-ada",
        endpoint={"ChannelType": "CUSTOM", "Address": "user-ada", "Attributes": {"FirstName": ["Ada"]}},
    )
    grace = recipient("user-grace", "ep-grace", endpoint={"Attributes": {"FirstName": ["Grace"]}})
    overridden = recipient("+15550100", overrides={"BodyOverride": '{"text": "just for you"}'})
    batch = custom_batch(
        receiver.url,
        ada,
        grace,
        overridden,
        data='{"text": "Hello {{Attributes.FirstName}}"}',
        attributes={"campaign_id": "cmp-1", "treatment_id": "0", "campaign_activity_id": "act-1"},
    )

    results = await run(deliverer(engine, trust), batch)

    assert [(r.delivery_status, r.status_code, r.message_id) for r in results] == [
        ("SUCCESSFUL", 200, "rcv-1"),
        ("SUCCESSFUL", 200, "rcv-2"),
        ("SUCCESSFUL", 200, "rcv-3"),
    ]
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [ada.key, grace.key, overridden.key]
    for r in receiver.requests:
        assert verify_webhook(SECRET, r.headers["X-OpenPoint-Signature"], r.body)
        assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", r.headers["X-OpenPoint-Signature"])
        assert r.headers["Content-Type"] == "application/json"
    first = receiver.requests[0].json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.pop("ScheduledTime"))
    assert first == {
        "Message": {},
        "Data": '{"text": "Hello Ada"}',
        "ApplicationId": batch.app_id,
        "CampaignId": "cmp-1",
        "TreatmentId": "0",
        "ActivityId": "act-1",
        "Endpoints": {"ep-ada": {"ChannelType": "CUSTOM", "Address": "user-ada", "Attributes": {"FirstName": ["Ada"]}}},
    }
    assert receiver.requests[1].json()["Data"] == '{"text": "Hello Grace"}'
    last = receiver.requests[2].json()
    assert last["Data"] == '{"text": "just for you"}'
    assert last["Endpoints"] == {"+15550100": {"ChannelType": "CUSTOM", "Address": "+15550100"}}
    assert await events(engine, batch.app_id) == [
        ("_custom.send", "+15550100"),
        ("_custom.send", "ep-ada"),
        ("_custom.send", "ep-grace"),
    ]


async def test_a_503_is_retried_and_delivered_once(engine: Any, trust: ssl.SSLContext, receiver: Receiver) -> None:
    receiver.answers.append((503, "busy", {}))
    batch = custom_batch(receiver.url, recipient("user-1", "ep-1"))
    d = deliverer(engine, trust)

    with pytest.raises(ApplicationError) as exc:
        await run(d, batch)
    assert exc.value.type == "TransientDeliveryError" and "HTTP 503: busy" in exc.value.message
    results = await run(d, batch, attempt=2)
    again = await run(d, batch, attempt=3)  # a finished delivery is not sent again

    assert results[0].delivery_status == again[0].delivery_status == "SUCCESSFUL"
    key = batch.recipients[0].key
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [key, key]
    assert receiver.accepted == [key]
    assert await events(engine, batch.app_id) == [("_custom.send", "ep-1")]


async def test_a_4xx_is_a_permanent_failure(engine: Any, trust: ssl.SSLContext, receiver: Receiver) -> None:
    receiver.answers.append((400, "unknown user", {}))
    batch = custom_batch(receiver.url, recipient("nobody", "ep-x"))

    [result] = await run(deliverer(engine, trust), batch)

    assert (result.delivery_status, result.status_code) == ("PERMANENT_FAILURE", 400)
    assert result.status_message == "The webhook answered HTTP 400: unknown user"
    assert await events(engine, batch.app_id) == [("_custom.failure", "ep-x")]


async def test_redirects_are_not_followed(engine: Any, trust: ssl.SSLContext, receiver: Receiver) -> None:
    receiver.answers.append((302, "", {"Location": "https://127.0.0.1:1/elsewhere"}))
    [result] = await run(deliverer(engine, trust), custom_batch(receiver.url, recipient("u", "ep-r")))
    assert result.delivery_status == "PERMANENT_FAILURE" and "redirects are not followed" in result.status_message
    assert len(receiver.requests) == 1


class Listener:
    """Counts TCP connections, to show that a refused webhook is never connected to."""

    def __init__(self) -> None:
        self.connections = 0

    def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Listener, int]]:
    counter, port = Listener(), free_port()
    servers = [await asyncio.start_server(counter.accept, host, port) for host in ("127.0.0.1", "::1")]
    yield counter, port
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/hook",
        "https://localhost:{port}/hook",
        "https://[::1]:{port}/hook",
        "https://[::ffff:127.0.0.1]:{port}/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
async def test_private_addresses_are_refused_without_connecting(
    engine: Any, trust: ssl.SSLContext, listener: tuple[Listener, int], url: str
) -> None:
    counter, port = listener
    batch = custom_batch(url.format(port=port), recipient("u1", "ep-1"), recipient("u2", "ep-2"))

    results = await run(deliverer(engine, trust, allowed=""), batch)

    for result in results:
        assert (result.delivery_status, result.status_code) == ("PERMANENT_FAILURE", 400)
        assert re.fullmatch(
            r"refused: \S+ is in a private network \((loopback|private|link-local)\)", result.status_message
        )
    assert counter.connections == 0
    assert await events(engine, batch.app_id) == [("_custom.failure", "ep-1"), ("_custom.failure", "ep-2")]


async def test_only_https_webhooks_are_called(engine: Any, trust: ssl.SSLContext) -> None:
    # (Lambda functions never reach the webhook provider: channels/custom.py invokes them.)
    [result] = await run(deliverer(engine, trust), custom_batch("http://hooks.example.com/x", recipient("u", "ep-l")))
    assert result.delivery_status == "PERMANENT_FAILURE"
    assert "A webhook's URL must be https://" in result.status_message


@pytest.fixture
async def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """`hooks.example` resolves to loopback once, then to a private address (DNS rebinding)."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
        if host != "hooks.example":
            return await real(host, port, **kwargs)
        lookups.append(host)
        ip = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    yield lookups


@pytest.mark.usefixtures("rebinding_dns")
async def test_tls_checks_the_webhook_name_not_the_address(
    engine: Any, trust: ssl.SSLContext, receiver: Receiver
) -> None:
    batch = custom_batch(f"https://hooks.example:{receiver.port}/x", recipient("u", "ep-n"))
    with pytest.raises(ApplicationError) as exc:  # the certificate names 127.0.0.1 only
        await run(deliverer(engine, trust), batch)
    assert "hooks.example" in exc.value.message and "certificate" in exc.value.message
    assert receiver.requests == []


async def test_requests_go_to_the_address_that_was_checked(
    engine: Any, rebinding_dns: list[str], receiver: Receiver
) -> None:
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE  # the name is not in the test cert
    batch = custom_batch(f"https://hooks.example:{receiver.port}/x", recipient("u1", "ep-1"), recipient("u2", "ep-2"))

    results = await run(deliverer(engine, unverified), batch)

    assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
    assert rebinding_dns == ["hooks.example"]  # looked up once; a second answer is never used
    assert [r.headers["Host"] for r in receiver.requests] == [f"hooks.example:{receiver.port}"] * 2
