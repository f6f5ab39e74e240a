"""SMS and VOICE through the twilio SDK against the loopback Twilio fake, driven through the one
delivery mechanism (Deliverer.deliver_batch) with real PostgreSQL."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from channels.deliverer import Deliverer, Provider
from channels.twilio import SmsProvider, VoiceProvider, twilio_voice
from launch.processes import free_port
from openpoint.settings import Settings
from openpoint.vault import Vault
from store import apps as apps_store
from store import channels as channels_store
from tests.fakes.twilio_api import FakeTwilio
from workflows.shared import DeliveryBatch, DeliveryResult, Recipient

VAULT = Vault(secrets.token_bytes(32))
PUBLIC_URL = "https://openpoint.example"
STATUS_URL = f"{PUBLIC_URL}/engagement/twilio/status"


def number() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


@pytest.fixture
async def app_id(engine: Any) -> str:
    app = secrets.token_hex(16)
    async with engine.begin() as conn:
        await apps_store.create(conn, app_id=app, name="twilio-test")
    return app


def settings_for(twilio: FakeTwilio, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "twilio_api_url": twilio.url,
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_from": "+15550009999",
        "public_url": PUBLIC_URL,
        **overrides,
    }
    return Settings(**values)


def deliverer(engine: Any, settings: Settings) -> Deliverer:
    providers: dict[str, Provider] = {"SMS": SmsProvider(settings), "VOICE": VoiceProvider(settings)}
    return Deliverer(engine, VAULT, providers)


def batch(app_id: str, channel: str, content: dict[str, Any], *recipients: Recipient) -> DeliveryBatch:
    return DeliveryBatch(
        app_id=app_id,
        channel=channel,
        source="direct",
        source_id=secrets.token_hex(4),
        content=content,
        recipients=list(recipients),
        max_attempts=3,
        attributes={"campaign_id": "c-1"},
    )


def recipient(address: str, **fields: Any) -> Recipient:
    return Recipient(key=f"wf-{secrets.token_hex(4)}/0/{address}", address=address, **fields)


async def deliver(d: Deliverer, b: DeliveryBatch, attempt: int = 1) -> list[DeliveryResult]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(DeliveryActivities(d).deliver_batch, b)


async def events_of(engine: Any, app_id: str) -> list[Any]:
    async with engine.connect() as conn:
        query = text("SELECT endpoint_id, event_type, attributes FROM events WHERE app_id = :a ORDER BY endpoint_id")
        return list((await conn.execute(query, {"a": app_id})).mappings())


async def save_channel(engine: Any, app_id: str, channel: str, settings: dict[str, Any], **secret: str) -> None:
    async with engine.begin() as conn:
        ciphertext = channels_store.merged_secret(VAULT, app_id, channel, None, secret)
        await channels_store.put(conn, app_id, channel, enabled=True, settings=settings, secret=ciphertext)


class TestSms:
    async def test_each_recipient_gets_their_copy_with_a_status_callback(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        ann, raw = number(), number()
        content = {
            "body": "Hi {{Attributes.Name}}, your code is {{Code}}",
            "origination_number": "+15550000001",
            "substitutions": [{"Code": ["A1"]}],
            "message_type": "TRANSACTIONAL",
        }
        b = batch(
            app_id,
            "SMS",
            content,
            recipient(ann, endpoint_id="ann", endpoint={"Attributes": {"Name": ["Ann"]}}),
            recipient(raw, substitutions={"Code": ["B2"]}),
        )
        results = await deliver(deliverer(engine, settings_for(twilio_api)), b)

        [to_ann], [to_raw] = twilio_api.to(ann), twilio_api.to(raw)
        assert to_ann["Body"] == "Hi Ann, your code is A1"
        assert to_raw["Body"] == "Hi , your code is B2"
        assert to_ann["From"] == "+15550000001" and to_ann["StatusCallback"] == STATUS_URL
        assert to_ann["headers"]["i-twilio-idempotency-token"] == b.recipients[0].key
        assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
        assert [r.message_id for r in results] == [to_ann["sid"], to_raw["sid"]]
        events = await events_of(engine, app_id)
        assert [(e["endpoint_id"], e["event_type"]) for e in events] == sorted(
            [("ann", "_SMS.BUFFERED"), (raw, "_SMS.BUFFERED")]
        )
        assert all(e["attributes"]["campaign_id"] == "c-1" for e in events)

    @pytest.mark.parametrize(
        ("content", "channel_settings", "twilio_from", "expected"),
        [
            ({"origination_number": "+15550000002"}, {"ShortCode": "12345"}, "", {"From": "+15550000002"}),
            ({"sender_id": "ACME"}, {"ShortCode": "12345"}, "", {"From": "ACME"}),
            ({}, {"ShortCode": "12345", "SenderId": "SHOP"}, "", {"From": "12345"}),
            ({}, {"SenderId": "SHOP"}, "+15550000003", {"From": "SHOP"}),
            ({}, {}, "MG" + "1" * 32, {"MessagingServiceSid": "MG" + "1" * 32}),
        ],
    )
    async def test_the_sender(
        self,
        engine: Any,
        app_id: str,
        twilio_api: FakeTwilio,
        content: dict[str, str],
        channel_settings: dict[str, str],
        twilio_from: str,
        expected: dict[str, str],
    ) -> None:
        await save_channel(engine, app_id, "SMS", channel_settings)
        to = number()
        b = batch(app_id, "SMS", {"body": "hello", **content}, recipient(to))
        await deliver(deliverer(engine, settings_for(twilio_api, twilio_from=twilio_from)), b)
        [sent] = twilio_api.to(to)
        assert {k: sent.get(k) for k in ("From", "MessagingServiceSid") if k in sent} == expected

    async def test_media_becomes_an_mms(self, engine: Any, app_id: str, twilio_api: FakeTwilio) -> None:
        to = number()
        content = {"body": "look", "media_url": "https://cdn.example/{{Pic}}.png", "substitutions": [{"Pic": ["cat"]}]}
        await deliver(deliverer(engine, settings_for(twilio_api)), batch(app_id, "SMS", content, recipient(to)))
        [sent] = twilio_api.to(to)
        assert sent["MediaUrl"] == "https://cdn.example/cat.png"

    async def test_a_project_sends_with_its_own_account(self, engine: Any, app_id: str, twilio_api: FakeTwilio) -> None:
        sid, token = twilio_api.add_account()
        await save_channel(engine, app_id, "SMS", {}, TwilioAccountSid=sid, TwilioAuthToken=token)
        to = number()
        [result] = await deliver(
            deliverer(engine, settings_for(twilio_api)), batch(app_id, "SMS", {"body": "hi"}, recipient(to))
        )
        assert result.delivery_status == "SUCCESSFUL"
        assert [m["account"] for m in twilio_api.to(to)] == [sid]

    async def test_credentials_twilio_refuses_fail_permanently(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        to = number()
        settings = settings_for(twilio_api, twilio_auth_token="not-the-token")
        [result] = await deliver(deliverer(engine, settings), batch(app_id, "SMS", {"body": "hi"}, recipient(to)))
        assert (result.delivery_status, result.status_code) == ("PERMANENT_FAILURE", 401)
        assert result.status_message.startswith("Twilio 20003")
        assert twilio_api.to(to) == []

    async def test_without_an_account_nothing_is_sent(self, engine: Any, app_id: str, twilio_api: FakeTwilio) -> None:
        to = number()
        settings = settings_for(twilio_api, twilio_account_sid="", twilio_auth_token="")
        [result] = await deliver(deliverer(engine, settings), batch(app_id, "SMS", {"body": "hi"}, recipient(to)))
        assert result.delivery_status == "PERMANENT_FAILURE" and "No Twilio account" in result.status_message
        assert [a for a in twilio_api.attempts if a["To"] == to] == []


class TestErrors:
    @pytest.mark.parametrize(("status", "code"), [(503, 20503), (429, 20429)])
    async def test_transient_errors_are_retried_and_send_once(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio, status: int, code: int
    ) -> None:
        to, other = number(), number()
        twilio_api.script(to, (status, code))
        d = deliverer(engine, settings_for(twilio_api))
        b = batch(app_id, "SMS", {"body": "retry me"}, recipient(to), recipient(other))
        with pytest.raises(ApplicationError) as exc:
            await deliver(d, b)
        assert exc.value.type == "TransientDeliveryError" and not exc.value.non_retryable
        results = await deliver(d, b, attempt=2)

        assert [r.delivery_status for r in results] == ["SUCCESSFUL", "SUCCESSFUL"]
        assert len(twilio_api.to(to)) == 1 and len(twilio_api.to(other)) == 1
        tokens = {a["headers"]["i-twilio-idempotency-token"] for a in twilio_api.attempts if a["To"] == to}
        assert tokens == {b.recipients[0].key}

    async def test_transient_errors_on_the_last_attempt_are_temporary_failures(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        to = number()
        twilio_api.script(to, (503, 20503))
        b = batch(app_id, "SMS", {"body": "x"}, recipient(to))
        [result] = await deliver(deliverer(engine, settings_for(twilio_api)), b, attempt=b.max_attempts)
        assert (result.delivery_status, result.status_code) == ("TEMPORARY_FAILURE", 503)
        assert [e["event_type"] for e in await events_of(engine, app_id)] == ["_SMS.FAILURE"]

    async def test_an_unreachable_api_is_transient(self, engine: Any, app_id: str, twilio_api: FakeTwilio) -> None:
        settings = settings_for(twilio_api, twilio_api_url=f"http://127.0.0.1:{free_port()}")
        with pytest.raises(ApplicationError) as exc:
            await deliver(deliverer(engine, settings), batch(app_id, "SMS", {"body": "x"}, recipient(number())))
        assert exc.value.type == "TransientDeliveryError"
        assert "Twilio unreachable" in str(exc.value)

    async def test_a_refusal_is_recorded_and_not_retried(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        bad = number()
        twilio_api.fail[bad] = (400, 21211)
        d = deliverer(engine, settings_for(twilio_api))
        b = batch(app_id, "SMS", {"body": "x"}, recipient(bad, endpoint_id="bad"))
        [result] = await deliver(d, b)
        again = await deliver(d, b, attempt=2)

        assert (result.delivery_status, result.status_code) == ("PERMANENT_FAILURE", 400)
        assert result.status_message == "Twilio 21211: Invalid 'To' Phone Number"
        assert again == [result]
        assert len([a for a in twilio_api.attempts if a["To"] == bad]) == 1
        [event] = await events_of(engine, app_id)
        assert (event["endpoint_id"], event["event_type"]) == ("bad", "_SMS.FAILURE")

    async def test_an_unsubscribed_recipient_is_an_opt_out(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        stopped = number()
        twilio_api.fail[stopped] = (400, 21610)
        b = batch(app_id, "SMS", {"body": "x"}, recipient(stopped))
        [result] = await deliver(deliverer(engine, settings_for(twilio_api)), b)
        assert (result.delivery_status, result.status_code) == ("OPT_OUT", 400)
        assert result.status_message.startswith("Twilio 21610: Attempt to send to unsubscribed recipient")


class TestVoice:
    async def test_a_call_speaks_the_personalised_body(self, engine: Any, app_id: str, twilio_api: FakeTwilio) -> None:
        to = number()
        content = {
            "body": "Bonjour {{Name}} <3 & bye",
            "voice_id": "Lea",
            "language_code": "fr-fr",
            "origination_number": "+15550000004",
        }
        b = batch(app_id, "VOICE", content, recipient(to, endpoint_id="e1", substitutions={"Name": ["Zoé"]}))
        [result] = await deliver(deliverer(engine, settings_for(twilio_api)), b)

        [call] = twilio_api.to(to)
        assert call["From"] == "+15550000004"
        assert (
            '<Response><Say language="fr-FR" voice="Polly.Lea">Bonjour Zoé &lt;3 &amp; bye</Say></Response>'
            in call["Twiml"]
        )
        assert call["StatusCallback"] == STATUS_URL and call["StatusCallbackEvent"] == "completed"
        assert call["headers"]["i-twilio-idempotency-token"] == b.recipients[0].key
        assert result.delivery_status == "SUCCESSFUL" and result.message_id == call["sid"]
        assert call["sid"].startswith("CA")
        assert [e["event_type"] for e in await events_of(engine, app_id)] == ["_voice.send"]

    async def test_a_messaging_service_cannot_place_calls(
        self, engine: Any, app_id: str, twilio_api: FakeTwilio
    ) -> None:
        to = number()
        settings = settings_for(twilio_api, twilio_from="MG" + "2" * 32)
        [result] = await deliver(deliverer(engine, settings), batch(app_id, "VOICE", {"body": "hi"}, recipient(to)))
        assert result.delivery_status == "PERMANENT_FAILURE" and "caller number" in result.status_message
        assert twilio_api.to(to) == []


@pytest.mark.parametrize(
    ("voice_id", "language_code", "expected"),
    [
        ("Joanna", "en-US", ("Polly.Joanna", "en-US")),
        ("matthew", None, ("Polly.Matthew", None)),
        ("Polly.Amy-Neural", "en-gb", ("Polly.Amy-Neural", "en-GB")),
        ("woman", "en-US", ("woman", "en-US")),
        (None, "de-DE", ("Polly.Vicki", "de-DE")),
        (None, None, ("Polly.Joanna", "en-US")),
        (None, "xx-YY", (None, "xx-YY")),
    ],
)
def test_pinpoint_voices_map_to_twilio(
    voice_id: str | None, language_code: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert twilio_voice(voice_id, language_code) == expected
