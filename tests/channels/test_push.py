"""Push delivery end to end through the delivery mechanism: the real firebase-admin SDK against a
loopback FCM + OAuth fake, httpx over HTTP/2 + TLS against a loopback APNs (hypercorn), the
delivery log and endpoints in real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import secrets
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from channels.apns import ApnsProvider
from channels.deliverer import Deliverer, Provider
from channels.fcm import FcmProvider
from launch.processes import free_port
from openpoint.settings import Settings
from openpoint.vault import Vault
from store import apps as apps_store
from store import channels as channels_store
from tests.conftest import self_signed_cert
from tests.fakes.apns_api import FakeApns
from tests.fakes.fcm_api import FakeFcm
from workflows.shared import DeliveryBatch, DeliveryResult, Recipient

VAULT = Vault(secrets.token_bytes(32))
CAMPAIGN = {"campaign_id": "c-1", "treatment_id": "0", "campaign_activity_id": "act-1"}


@pytest.fixture(scope="module")
def apns_api(tls_cert: tuple[Path, Path]) -> Iterator[FakeApns]:
    with FakeApns(*tls_cert) as fake:
        yield fake


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The certificate (and key) an APNs certificate-auth channel presents."""
    return self_signed_cert(Path(tmp_path_factory.mktemp("apns-client")))


@pytest.fixture(scope="module")
def apns_cert_api(tls_cert: tuple[Path, Path], client_cert: tuple[Path, Path]) -> Iterator[FakeApns]:
    with FakeApns(*tls_cert, client_ca=client_cert[0]) as fake:
        yield fake


@pytest.fixture(scope="module")
def trust(tls_cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_cert[0]))


class Project:
    """A project with one push channel and its device endpoints, written straight to the DB."""

    def __init__(self, engine: Any, channel: str, providers: dict[str, Provider]) -> None:
        self.engine, self.channel = engine, channel
        self.app_id = secrets.token_hex(16)
        self.deliverer = Deliverer(engine, VAULT, providers)
        self.run = secrets.token_hex(4)

    async def create(self, settings: dict[str, Any], credentials: dict[str, Any]) -> Project:
        async with self.engine.begin() as conn:
            await apps_store.create(conn, app_id=self.app_id, name=f"push-{self.run}")
            secret = channels_store.merged_secret(VAULT, self.app_id, self.channel, None, credentials)
            await channels_store.put(conn, self.app_id, self.channel, enabled=True, settings=settings, secret=secret)
        return self

    async def device(self, token: str | None = None, **context: str) -> Recipient:
        token = token or secrets.token_hex(32)
        endpoint_id = f"ep-{token[:12]}"
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO endpoints (app_id, id, address, channel_type, endpoint_status, opt_out, cohort_id)"
                    " VALUES (:a, :i, :t, :c, 'ACTIVE', 'NONE', 0)"
                ),
                {"a": self.app_id, "i": endpoint_id, "t": token, "c": self.channel},
            )
        endpoint = {"Id": endpoint_id, "Attributes": {"Team": ["Blue"]}}
        key = f"wf-{self.run}/0/{endpoint_id}"
        return Recipient(key=key, address=token, endpoint_id=endpoint_id, endpoint=endpoint, context=context)

    def batch(self, content: dict[str, Any], *recipients: Recipient, **attributes: str) -> DeliveryBatch:
        return DeliveryBatch(
            app_id=self.app_id,
            channel=self.channel,
            source="campaign" if attributes else "direct",
            source_id=self.run,
            content=content,
            recipients=list(recipients),
            max_attempts=3,
            attributes=attributes,
        )

    async def deliver(self, batch: DeliveryBatch, attempt: int = 1) -> list[DeliveryResult]:
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, attempt=attempt)
        return await env.run(DeliveryActivities(self.deliverer).deliver_batch, batch)

    async def endpoint_status(self, r: Recipient) -> str:
        async with self.engine.connect() as conn:
            sql = "SELECT endpoint_status FROM endpoints WHERE app_id = :a AND id = :i"
            return str((await conn.execute(text(sql), {"a": self.app_id, "i": r.endpoint_id})).scalar_one())

    async def events(self, r: Recipient) -> list[tuple[str, dict[str, Any]]]:
        async with self.engine.connect() as conn:
            sql = "SELECT event_type, attributes FROM events WHERE app_id = :a AND endpoint_id = :i ORDER BY event_time"
            return [(row[0], row[1]) for row in await conn.execute(text(sql), {"a": self.app_id, "i": r.endpoint_id})]


# --- FCM -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fcm(fcm_api: FakeFcm) -> FcmProvider:
    return FcmProvider(Settings(fcm_api_url=fcm_api.url))


async def gcm_project(engine: Any, fcm: FcmProvider, credentials: dict[str, Any]) -> Project:
    return await Project(engine, "GCM", {"GCM": fcm}).create({}, credentials)


CARD = {
    "title": "Hello",
    "body": "Go {{Attributes.Team}}",
    "action": "DEEP_LINK",
    "url": "myapp://offers/{{Attributes.Team}}",
    "image_url": "https://img.example/big.png",
    "image_icon_url": "https://img.example/icon.png",
    "small_image_icon_url": "https://img.example/small.png",
    "sound": "chime",
    "data": {"offer": "42"},
    "priority": "high",
    "time_to_live": 3600,
    "collapse_key": "offers",
    "restricted_package_name": "com.example.app",
}


class TestFcm:
    async def test_a_batch_sends_pinpoint_shaped_data_messages_with_one_oauth_token(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        account = fcm_api.service_account()
        project = await gcm_project(engine, fcm, {"ServiceJson": account})
        a, b = await project.device(userId="u-1"), await project.device()
        tokens_before = fcm_api.tokens_issued

        results = await project.deliver(project.batch(CARD, a, b, **CAMPAIGN))

        assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
        project_id = json.loads(account)["project_id"]
        assert all(r.message_id and r.message_id.startswith(f"projects/{project_id}/messages/") for r in results)
        assert fcm_api.tokens_issued == tokens_before + 1  # one OAuth token served the batch
        [sent] = fcm_api.sent_to(a.address)
        assert "notification" not in sent  # a data message: the Pinpoint SDK displays it
        assert sent["data"] == {
            "pinpoint.campaign.campaign_id": "c-1",
            "pinpoint.campaign.treatment_id": "0",
            "pinpoint.campaign.campaign_activity_id": "act-1",
            "pinpoint.notification.silentPush": "0",
            "pinpoint.notification.title": "Hello",
            "pinpoint.notification.body": "Go Blue",
            "pinpoint.notification.imageUrl": "https://img.example/big.png",
            "pinpoint.notification.imageIconUrl": "https://img.example/icon.png",
            "pinpoint.notification.imageSmallIconUrl": "https://img.example/small.png",
            "pinpoint.notification.sound": "chime",
            "pinpoint.deeplink": "myapp://offers/Blue",
            "pinpoint.jsonBody": '{"offer": "42"}',
            "pinpoint.userId": "u-1",
        }
        assert sent["android"] == {
            "collapse_key": "offers",
            "priority": "high",
            "ttl": "3600s",
            "restricted_package_name": "com.example.app",
        }
        assert fcm_api.sent_to(b.address)[0]["data"].get("pinpoint.userId") is None
        for r in (a, b):
            [(event, attributes)] = await project.events(r)
            assert event == "_push.send" and attributes["campaign_id"] == "c-1"

        again = await project.deliver(project.batch({"body": "Later"}, await project.device()))
        assert again[0].delivery_status == "SUCCESSFUL"
        assert fcm_api.tokens_issued == tokens_before + 1  # and the next batch too

    async def test_a_silent_direct_push_carries_only_data(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        r = await project.device()
        content = {"title": "unseen", "silent_push": True, "data": {"sync": "now"}}
        [result] = await project.deliver(project.batch(content, r))
        assert result.delivery_status == "SUCCESSFUL"
        [sent] = fcm_api.sent_to(r.address)
        assert set(sent) == {"token", "data"}
        assert sent["data"] == {
            "pinpoint.campaign.campaign_id": "_DIRECT",
            "pinpoint.notification.silentPush": "1",
            "pinpoint.jsonBody": '{"sync": "now"}',
        }

    async def test_a_journey_push_names_its_journey_as_the_sdk_reads_it(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        r = await project.device()
        batch = project.batch({"body": "Step 2", "action": "URL", "url": "https://example.com/x"}, r)
        batch.attributes = {"journey_id": "j-1", "journey_activity_id": "a-2"}
        await project.deliver(batch)
        data = fcm_api.sent_to(r.address)[0]["data"]
        assert json.loads(data["pinpoint"]) == {"journey": {"journey_id": "j-1", "journey_activity_id": "a-2"}}
        assert data["pinpoint.url"] == "https://example.com/x" and "pinpoint.openApp" not in data

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (  # the legacy shape Pinpoint documented
                {
                    "notification": {"title": "T", "body": "B", "sound": "default", "android_channel_id": "news"},
                    "data": {"k": "v", "n": 1},
                    "priority": "high",
                    "time_to_live": 60,
                },
                {
                    "notification": {"title": "T", "body": "B"},
                    "data": {"k": "v", "n": "1"},
                    "android": {
                        "priority": "high",
                        "ttl": "60s",
                        "notification": {"sound": "default", "channel_id": "news"},
                    },
                },
            ),
            (  # an FCM v1 message; its own target is replaced by the recipient's
                {"message": {"topic": "all", "notification": {"title": "T"}, "android": {"direct_boot_ok": True}}},
                {"notification": {"title": "T"}, "android": {"direct_boot_ok": True}},
            ),
        ],
    )
    async def test_raw_content_replaces_the_message(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm, raw: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        r = dataclasses.replace(await project.device(), overrides={"RawContent": json.dumps(raw)})
        [result] = await project.deliver(project.batch(CARD, r))
        assert result.delivery_status == "SUCCESSFUL" and result.message_id
        assert fcm_api.sent_to(r.address) == [{**expected, "token": r.address}]

    async def test_a_throttled_message_is_retried_and_arrives_once(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        busy, calm = await project.device(), await project.device()
        fcm_api.script(busy.address, "QUOTA_EXCEEDED")
        batch = project.batch({"body": "Hi"}, busy, calm)
        with pytest.raises(ApplicationError) as exc:
            await project.deliver(batch)
        assert exc.value.type == "TransientDeliveryError" and "QUOTA_EXCEEDED" in str(exc.value)
        results = await project.deliver(batch, attempt=2)
        assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
        assert len(fcm_api.sent_to(busy.address)) == 1 and len(fcm_api.sent_to(calm.address)) == 1

    async def test_fcm_out_of_reach_is_a_transient_failure(self, engine: Any, fcm_api: FakeFcm) -> None:
        unreachable = FcmProvider(Settings(fcm_api_url=f"http://127.0.0.1:{free_port()}"))
        project = await gcm_project(engine, unreachable, {"ServiceJson": fcm_api.service_account()})
        with pytest.raises(ApplicationError) as exc:
            await project.deliver(project.batch({"body": "Hi"}, await project.device()))
        assert exc.value.type == "TransientDeliveryError" and "FCM unreachable" in str(exc.value)

    async def test_a_503_is_retried_by_firebase_admin_and_arrives_once(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        r = await project.device()
        fcm_api.script(r.address, "UNAVAILABLE")
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "SUCCESSFUL" and len(fcm_api.sent_to(r.address)) == 1

    @pytest.mark.parametrize(
        ("reply", "status", "inactive"),
        [("UNREGISTERED", 404, True), ("INVALID_TOKEN", 400, True), ("INVALID_ARGUMENT", 400, False)],
    )
    async def test_a_refused_token_fails_permanently(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm, reply: str, status: int, inactive: bool
    ) -> None:
        project = await gcm_project(engine, fcm, {"ServiceJson": fcm_api.service_account()})
        r = await project.device()
        fcm_api.script(r.address, reply)
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "PERMANENT_FAILURE" and result.status_code == status
        assert reply.split("_")[0] in result.status_message
        assert await project.endpoint_status(r) == ("INACTIVE" if inactive else "ACTIVE")
        assert [e for e, _ in await project.events(r)] == ["_push.failure"]
        assert fcm_api.sent_to(r.address) == []

    async def test_a_legacy_server_key_cannot_send(self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm) -> None:
        project = await gcm_project(engine, fcm, {"ApiKey": "AAAA-legacy"})
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "PERMANENT_FAILURE" and "legacy" in result.status_message
        assert "ServiceJson" in result.status_message and fcm_api.sent_to(r.address) == []

    async def test_a_service_account_google_does_not_know_is_refused(
        self, engine: Any, fcm: FcmProvider, fcm_api: FakeFcm
    ) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        account = json.loads(fcm_api.service_account())
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        account["private_key"] = stranger.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        project = await gcm_project(engine, fcm, {"ServiceJson": json.dumps(account)})
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "PERMANENT_FAILURE" and "service account" in result.status_message
        assert any("Signature" in g for g in fcm_api.rejected_grants) and fcm_api.sent_to(r.address) == []


# --- APNs ------------------------------------------------------------------------------------


def apns_settings(url: str, sandbox_url: str = "https://127.0.0.1:9") -> Settings:
    return Settings(apns_api_url=url, apns_sandbox_api_url=sandbox_url)


async def apns_project(engine: Any, provider: ApnsProvider, credentials: dict[str, Any], **settings: str) -> Project:
    return await Project(engine, provider.channel, {provider.channel: provider}).create(
        {"BundleId": "com.example.app", **settings}, credentials
    )


async def token_project(engine: Any, fake: FakeApns, provider: ApnsProvider) -> Project:
    team_id, key_id, key = fake.token_key()
    return await apns_project(engine, provider, {"TokenKey": key}, TeamId=team_id, TokenKeyId=key_id)


@pytest.fixture(scope="module")
def apns(apns_api: FakeApns, trust: ssl.SSLContext) -> ApnsProvider:
    return ApnsProvider(apns_settings(apns_api.url), "APNS", tls=trust)


class TestApns:
    async def test_token_auth_sends_an_alert_over_http2(
        self, engine: Any, apns: ApnsProvider, apns_api: FakeApns
    ) -> None:
        project = await token_project(engine, apns_api, apns)
        a, b = await project.device(userId="u-1"), await project.device()
        content = {
            **CARD,
            "badge": 3,
            "category": "OFFER",
            "thread_id": "t-1",
            "media_url": "https://img.example/v.mp4",
        }
        before = time.time()

        results = await project.deliver(project.batch(content, a, b, **CAMPAIGN))

        assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
        [sent] = apns_api.sent_to(a.address)
        assert sent["http_version"] == "2"
        headers = sent["headers"]
        assert results[0].message_id == headers["apns-id"] == str(uuid.UUID(headers["apns-id"]))
        assert headers["apns-push-type"] == "alert" and headers["apns-priority"] == "10"
        assert headers["apns-topic"] == "com.example.app" and headers["apns-collapse-id"] == "offers"
        assert int(before) + 3600 <= int(headers["apns-expiration"]) <= time.time() + 3600
        assert sent["payload"] == {
            "aps": {
                "alert": {"title": "Hello", "body": "Go Blue"},
                "sound": "chime",
                "badge": 3,
                "category": "OFFER",
                "thread-id": "t-1",
                "mutable-content": 1,
            },
            "data": {
                "pinpoint": {"campaign": CAMPAIGN, "deeplink": "myapp://offers/Blue", "userId": "u-1"},
                "jsonBody": {"offer": "42"},
                "media-url": "https://img.example/v.mp4",
            },
        }
        # One provider token, verified by the fake with the key's public half, signs the batch.
        assert apns_api.sent_to(b.address)[0]["headers"]["authorization"] == headers["authorization"]
        assert [e for e, _ in await project.events(a)] == ["_push.send"]

    async def test_the_apns_id_is_the_same_on_every_attempt(
        self, engine: Any, apns: ApnsProvider, apns_api: FakeApns
    ) -> None:
        project = await token_project(engine, apns_api, apns)
        r = await project.device()
        apns_api.script(r.address, "ServiceUnavailable")
        batch = project.batch({"body": "Hi"}, r)
        with pytest.raises(ApplicationError):
            await project.deliver(batch)
        [result] = await project.deliver(batch, attempt=2)
        assert result.delivery_status == "SUCCESSFUL"
        [refused] = apns_api.refused[-1:]
        [sent] = apns_api.sent_to(r.address)
        assert refused["headers"]["apns-id"] == sent["headers"]["apns-id"] == result.message_id

    async def test_a_silent_push_is_a_background_push(
        self, engine: Any, apns: ApnsProvider, apns_api: FakeApns
    ) -> None:
        project = await token_project(engine, apns_api, apns)
        r = await project.device()
        await project.deliver(project.batch({"title": "unseen", "silent_push": True, "data": {"sync": "now"}}, r))
        [sent] = apns_api.sent_to(r.address)
        assert sent["headers"]["apns-push-type"] == "background" and sent["headers"]["apns-priority"] == "5"
        assert sent["payload"] == {
            "aps": {"content-available": 1},
            "data": {"pinpoint": {"campaign": {"campaign_id": "_DIRECT"}}, "jsonBody": {"sync": "now"}},
        }

    async def test_raw_content_is_the_payload(self, engine: Any, apns: ApnsProvider, apns_api: FakeApns) -> None:
        project = await token_project(engine, apns_api, apns)
        raw = {"aps": {"content-available": 1}, "mine": {"x": 1}}
        r = dataclasses.replace(await project.device(), overrides={"RawContent": json.dumps(raw)})
        await project.deliver(project.batch(CARD, r))
        [sent] = apns_api.sent_to(r.address)
        assert sent["payload"] == raw and sent["headers"]["apns-push-type"] == "background"

    async def test_a_voip_sandbox_channel_uses_the_sandbox_and_the_voip_topic(
        self, engine: Any, apns_api: FakeApns, trust: ssl.SSLContext
    ) -> None:
        voip = ApnsProvider(
            apns_settings("https://127.0.0.1:9", sandbox_url=apns_api.url), "APNS_VOIP_SANDBOX", tls=trust
        )
        project = await token_project(engine, apns_api, voip)
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Call"}, r))
        assert result.delivery_status == "SUCCESSFUL"
        headers = apns_api.sent_to(r.address)[0]["headers"]
        assert headers["apns-topic"] == "com.example.app.voip" and headers["apns-push-type"] == "voip"

    @pytest.mark.parametrize(
        ("reason", "status", "inactive"),
        [("Unregistered", 410, True), ("BadDeviceToken", 400, True), ("PayloadTooLarge", 413, False)],
    )
    async def test_a_refused_device_fails_permanently(
        self, engine: Any, apns: ApnsProvider, apns_api: FakeApns, reason: str, status: int, inactive: bool
    ) -> None:
        project = await token_project(engine, apns_api, apns)
        r = await project.device()
        apns_api.script(r.address, reason)
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "PERMANENT_FAILURE" and result.status_code == status
        assert reason in result.status_message
        assert await project.endpoint_status(r) == ("INACTIVE" if inactive else "ACTIVE")
        assert [e for e, _ in await project.events(r)] == ["_push.failure"]

    async def test_a_token_key_apple_does_not_know_is_refused(
        self, engine: Any, apns: ApnsProvider, apns_api: FakeApns
    ) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        project = await apns_project(engine, apns, {"TokenKey": stranger.decode()}, TeamId="TEAM", TokenKeyId="KEY")
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "PERMANENT_FAILURE" and "InvalidProviderToken" in result.status_message
        assert await project.endpoint_status(r) == "ACTIVE"

    async def test_certificate_auth_presents_the_channel_certificate(
        self, engine: Any, apns_cert_api: FakeApns, trust: ssl.SSLContext, client_cert: tuple[Path, Path]
    ) -> None:
        provider = ApnsProvider(apns_settings(apns_cert_api.url), "APNS", tls=trust)
        cert, key = (p.read_text() for p in client_cert)
        project = await apns_project(
            engine, provider, {"Certificate": cert, "PrivateKey": key}, DefaultAuthenticationMethod="CERTIFICATE"
        )
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Hi"}, r))
        assert result.delivery_status == "SUCCESSFUL"
        [sent] = apns_cert_api.sent_to(r.address)
        assert "authorization" not in sent["headers"] and sent["http_version"] == "2"

    async def test_a_certificate_apns_does_not_trust_gets_nothing_through(
        self, engine: Any, apns_cert_api: FakeApns, trust: ssl.SSLContext, tmp_path: Path
    ) -> None:
        provider = ApnsProvider(apns_settings(apns_cert_api.url), "APNS", tls=trust)
        cert, key = (p.read_text() for p in self_signed_cert(tmp_path))
        project = await apns_project(engine, provider, {"Certificate": cert, "PrivateKey": key})
        r = await project.device()
        [result] = await project.deliver(project.batch({"body": "Hi"}, r), attempt=3)  # the last attempt
        assert result.delivery_status == "TEMPORARY_FAILURE" and "APNs unreachable" in result.status_message
        assert apns_cert_api.sent_to(r.address) == []


def test_send_messages_reaches_fcm_through_the_gateway(pinpoint: Any, app_id: str, fcm_api: FakeFcm) -> None:
    """The worker the stack runs registers the GCM provider with the channel the gateway stored."""
    pinpoint.update_gcm_channel(
        ApplicationId=app_id,
        GCMChannelRequest={
            "ServiceJson": fcm_api.service_account(),
            "Enabled": True,
            "DefaultAuthenticationMethod": "TOKEN",
        },
    )
    token = secrets.token_hex(32)
    response = pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Addresses": {token: {"ChannelType": "GCM"}},
            "Context": {"origin": "test"},
            "MessageConfiguration": {"GCMMessage": {"Title": "Hi", "Body": "There"}},
        },
    )
    result = response["MessageResponse"]["Result"][token]
    assert result["DeliveryStatus"] == "SUCCESSFUL" and result["MessageId"].startswith("projects/")
    [sent] = fcm_api.sent_to(token)
    assert sent["data"]["pinpoint.notification.title"] == "Hi" and sent["data"]["pinpoint.origin"] == "test"
