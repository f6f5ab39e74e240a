"""Twilio calling the gateway back: signed delivery reports and inbound STOP / START, posted the
way Twilio posts them (form fields, X-Twilio-Signature) by the Twilio fake."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest

from openpoint.vault import Vault
from store import channels as channels_store
from tests.fakes.twilio_api import FakeTwilio
from tests.stack import Stack

OUR_NUMBER = "+15550000100"


def number() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


def seed_delivery(
    stack: Stack, app_id: str, channel: str, address: str, *, endpoint_id: str | None = None
) -> tuple[str, str]:
    """A delivery the worker handed to Twilio: (its message SID, the status callback URL)."""
    sid = ("SM" if channel == "SMS" else "CA") + secrets.token_hex(16)
    stack.sql(
        "INSERT INTO deliveries (idempotency_key, app_id, channel, address, endpoint_id, source, source_id,"
        " status, status_code, message_id, context)"
        " VALUES ($1, $2, $3, $4, $5, 'campaign', 'camp-1', 'SUCCESSFUL', 200, $6, $7::jsonb)",
        f"wf-{secrets.token_hex(4)}/0/{address}",
        app_id,
        channel,
        address,
        endpoint_id,
        sid,
        json.dumps({"campaign_id": "camp-1", "treatment_id": "0"}),
    )
    return sid, f"{stack.url}/engagement/twilio/status"


def status_params(sid: str, status: str, to: str, **extra: str) -> dict[str, str]:
    ids = (
        {"MessageSid": sid, "MessageStatus": status} if sid.startswith("SM") else {"CallSid": sid, "CallStatus": status}
    )
    return {**ids, "To": to, "From": OUR_NUMBER, "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", **extra}


def events(stack: Stack, app_id: str) -> list[Any]:
    return stack.sql(
        "SELECT endpoint_id, event_type, attributes FROM events WHERE app_id = $1 ORDER BY endpoint_id", app_id
    )


def attributes(row: Any) -> dict[str, str]:
    value = row["attributes"]
    return json.loads(value) if isinstance(value, str) else dict(value)


class TestStatusCallback:
    def test_a_sent_message_reported_delivered_becomes_sms_success(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str
    ) -> None:
        pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
        to = number()
        resp = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "SMS"}},
                "MessageConfiguration": {"SMSMessage": {"Body": "hello", "OriginationNumber": OUR_NUMBER}},
            },
        )["MessageResponse"]
        sid = resp["Result"][to]["MessageId"]

        assert twilio_api.report(sid, "delivered").status_code == 204

        [success] = [e for e in events(stack, app_id) if e["event_type"] == "_SMS.SUCCESS"]
        assert success["endpoint_id"] == to
        got = attributes(success)
        assert got["message_id"] == sid and got["record_status"] == "delivered"
        assert got["destination_phone_number"] == to and got["origination_phone_number"] == OUR_NUMBER

    @pytest.mark.parametrize(
        ("channel", "status", "event_type"),
        [
            ("SMS", "undelivered", "_SMS.FAILURE"),
            ("SMS", "failed", "_SMS.FAILURE"),
            ("VOICE", "completed", "_voice.success"),
            ("VOICE", "no-answer", "_voice.failure"),
        ],
    )
    def test_outcomes_are_tied_to_the_delivery(
        self, stack: Stack, twilio_api: FakeTwilio, app_id: str, channel: str, status: str, event_type: str
    ) -> None:
        to = number()
        sid, url = seed_delivery(stack, app_id, channel, to, endpoint_id="ep-1")
        reply = twilio_api.post_signed(url, status_params(sid, status, to, ErrorCode="30003"))
        assert reply.status_code == 204
        [event] = events(stack, app_id)
        assert (event["endpoint_id"], event["event_type"]) == ("ep-1", event_type)
        got = attributes(event)
        assert got["campaign_id"] == "camp-1" and got["treatment_id"] == "0"
        assert got["message_id"] == sid and got["record_status"] == status and got["error_code"] == "30003"

    def test_a_bad_signature_is_refused_and_writes_nothing(
        self, stack: Stack, twilio_api: FakeTwilio, app_id: str
    ) -> None:
        to = number()
        sid, url = seed_delivery(stack, app_id, "SMS", to)
        reply = twilio_api.post_signed(url, status_params(sid, "delivered", to), token="someone-else's-token")
        assert reply.status_code == 403
        assert events(stack, app_id) == []

    def test_a_retried_callback_is_recorded_once(self, stack: Stack, twilio_api: FakeTwilio, app_id: str) -> None:
        to = number()
        sid, url = seed_delivery(stack, app_id, "SMS", to)
        for _ in range(3):
            assert twilio_api.post_signed(url, status_params(sid, "delivered", to)).status_code == 204
        assert [e["event_type"] for e in events(stack, app_id)] == ["_SMS.SUCCESS"]

    def test_interim_statuses_and_unknown_messages_write_nothing(
        self, stack: Stack, twilio_api: FakeTwilio, app_id: str
    ) -> None:
        to = number()
        sid, url = seed_delivery(stack, app_id, "SMS", to)
        assert twilio_api.post_signed(url, status_params(sid, "sent", to)).status_code == 204
        unknown = "SM" + secrets.token_hex(16)
        assert twilio_api.post_signed(url, status_params(unknown, "delivered", to)).status_code == 204
        assert events(stack, app_id) == []

    def test_a_project_with_its_own_account_is_verified_with_its_token(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str
    ) -> None:
        pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
        own_sid, own_token = twilio_api.add_account()
        vault = Vault(base64.b64decode(stack.settings.master_key))
        secret = channels_store.merged_secret(
            vault, app_id, "SMS", None, {"TwilioAccountSid": own_sid, "TwilioAuthToken": own_token}
        )
        stack.sql(
            "UPDATE channels SET secret_ciphertext = $1 WHERE app_id = $2 AND channel_type = 'SMS'", secret, app_id
        )
        to = number()
        sid, url = seed_delivery(stack, app_id, "SMS", to)
        assert twilio_api.post_signed(url, status_params(sid, "delivered", to)).status_code == 403
        assert twilio_api.post_signed(url, status_params(sid, "delivered", to), token=own_token).status_code == 204
        assert [e["event_type"] for e in events(stack, app_id)] == ["_SMS.SUCCESS"]


class TestInbound:
    @pytest.fixture
    def phones(self, pinpoint: Any, app_id: str) -> str:
        """Two SMS endpoints share one number; other endpoints must not be touched."""
        phone = number()
        for endpoint_id, address, channel in (
            ("phone-1", phone, "SMS"),
            ("phone-2", phone, "SMS"),
            ("other-phone", number(), "SMS"),
            ("mail", f"{secrets.token_hex(4)}@example.com", "EMAIL"),
        ):
            pinpoint.update_endpoint(
                ApplicationId=app_id,
                EndpointId=endpoint_id,
                EndpointRequest={"Address": address, "ChannelType": channel},
            )
        return phone

    @staticmethod
    def opt_outs(pinpoint: Any, app_id: str) -> dict[str, str]:
        return {
            e: pinpoint.get_endpoint(ApplicationId=app_id, EndpointId=e)["EndpointResponse"].get("OptOut", "NONE")
            for e in ("phone-1", "phone-2", "other-phone", "mail")
        }

    def test_stop_opts_the_number_out_and_unstop_back_in(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str, phones: str
    ) -> None:
        url = f"{stack.url}/engagement/twilio/{app_id}/inbound"
        reply = twilio_api.inbound(url, from_=phones, to=OUR_NUMBER, body=" stop ")
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
        assert "<Response" in reply.text and "<Message" not in reply.text
        assert self.opt_outs(pinpoint, app_id) == {
            "phone-1": "ALL",
            "phone-2": "ALL",
            "other-phone": "NONE",
            "mail": "NONE",
        }
        stopped = events(stack, app_id)
        assert [(e["endpoint_id"], e["event_type"]) for e in stopped] == [
            ("phone-1", "_SMS.OPTOUT"),
            ("phone-2", "_SMS.OPTOUT"),
        ]
        got = attributes(stopped[0])
        assert got["keyword"] == "STOP" and got["message_body"] == " stop "
        assert got["destination_phone_number"] == phones and got["origination_phone_number"] == OUR_NUMBER

        assert twilio_api.inbound(url, from_=phones, to=OUR_NUMBER, body="UNSTOP").status_code == 200
        assert set(self.opt_outs(pinpoint, app_id).values()) == {"NONE"}
        assert sorted(e["event_type"] for e in events(stack, app_id)) == [
            "_SMS.OPTIN",
            "_SMS.OPTIN",
            "_SMS.OPTOUT",
            "_SMS.OPTOUT",
        ]

    def test_other_messages_change_nothing(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str, phones: str
    ) -> None:
        url = f"{stack.url}/engagement/twilio/{app_id}/inbound"
        assert twilio_api.inbound(url, from_=phones, to=OUR_NUMBER, body="please stop by later").status_code == 200
        assert set(self.opt_outs(pinpoint, app_id).values()) == {"NONE"}
        assert events(stack, app_id) == []

    def test_a_bad_signature_is_refused(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str, phones: str
    ) -> None:
        url = f"{stack.url}/engagement/twilio/{app_id}/inbound"
        reply = twilio_api.inbound(url, from_=phones, to=OUR_NUMBER, body="STOP", token="forged")
        assert reply.status_code == 403
        assert set(self.opt_outs(pinpoint, app_id).values()) == {"NONE"}
        assert events(stack, app_id) == []

    def test_an_unknown_project_is_not_found(self, stack: Stack, twilio_api: FakeTwilio) -> None:
        url = f"{stack.url}/engagement/twilio/{secrets.token_hex(16)}/inbound"
        assert twilio_api.inbound(url, from_=number(), to=OUR_NUMBER, body="STOP").status_code == 404
