"""SendOTPMessage and VerifyOTPMessage through boto3 → gateway → Temporal → Twilio SDK → the
loopback fake of Twilio, whose received messages are what the user's phone would show."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.fakes.twilio_api import FakeTwilio
from tests.stack import Stack

SENDER = "+12065550100"


def _number() -> str:
    return "+1206" + str(secrets.randbelow(10**7)).zfill(7)


def _ref() -> str:
    return "ref-" + secrets.token_hex(4)


@pytest.fixture
def sms_app(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
    return app_id


def _send(pinpoint: Any, app: str, destination: str, reference: str, **extra: Any) -> dict[str, Any]:
    params = {
        "BrandName": "ExampleCorp",
        "Channel": "SMS",
        "DestinationIdentity": destination,
        "OriginationIdentity": SENDER,
        "ReferenceId": reference,
        **extra,
    }
    return pinpoint.send_otp_message(  # type: ignore[no-any-return]
        ApplicationId=app, SendOTPMessageRequestParameters=params
    )["MessageResponse"]


def _verify(pinpoint: Any, app: str, destination: str, reference: str, otp: str) -> bool:
    out = pinpoint.verify_otp_message(
        ApplicationId=app,
        VerifyOTPMessageRequestParameters={"DestinationIdentity": destination, "Otp": otp, "ReferenceId": reference},
    )
    return bool(out["VerificationResponse"]["Valid"])


def _last_sms(twilio: FakeTwilio, number: str) -> dict[str, Any]:
    return [m for m in twilio.messages if m.get("To") == number][-1]


def _code(sms: dict[str, Any], length: int = 6) -> str:
    found = re.findall(rf"\b\d{{{length}}}\b", sms["Body"])
    assert len(found) == 1, sms["Body"]
    return str(found[0])


def _wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def _rows(stack: Stack, app: str) -> list[Any]:
    return stack.sql("SELECT * FROM otp_codes WHERE app_id = $1", app)


class TestSend:
    def test_sms_carries_the_code_and_it_verifies_once(
        self, pinpoint: Any, twilio_api: FakeTwilio, sms_app: str
    ) -> None:
        number, ref = _number(), _ref()
        resp = _send(pinpoint, sms_app, number, ref)
        assert resp["ApplicationId"] == sms_app
        assert resp["Result"][number]["DeliveryStatus"] == "SUCCESSFUL"
        assert resp["Result"][number]["MessageId"].startswith("SM")
        sms = _last_sms(twilio_api, number)
        assert sms["From"] == SENDER
        assert re.fullmatch(r"This is your One Time Password: \d{6} from ExampleCorp", sms["Body"])
        code = _code(sms)
        assert _verify(pinpoint, sms_app, number, ref, code) is True
        assert _verify(pinpoint, sms_app, number, ref, code) is False

    def test_length_and_language(self, pinpoint: Any, twilio_api: FakeTwilio, sms_app: str) -> None:
        number, ref = _number(), _ref()
        _send(pinpoint, sms_app, number, ref, CodeLength=8, Language="es-US")
        sms = _last_sms(twilio_api, number)
        assert re.fullmatch(r"Esta es su contraseña de un solo uso: \d{8} de ExampleCorp", sms["Body"])
        assert _verify(pinpoint, sms_app, number, ref, _code(sms, 8))

    def test_only_a_hash_is_stored(self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str) -> None:
        number, ref = _number(), _ref()
        sent = _send(pinpoint, sms_app, number, ref, AllowedAttempts=4)
        code = _code(_last_sms(twilio_api, number))
        # The workflow's history (kept by Temporal, shown in its Web UI) has it only sealed.
        handle = stack.temporal.get_workflow_handle(f"otp-{sms_app}-{sent['RequestId']}")
        history = stack.run(handle.fetch_history())
        inputs = b"".join(
            p.data
            for e in history.events
            for p in [
                *e.workflow_execution_started_event_attributes.input.payloads,
                *e.activity_task_scheduled_event_attributes.input.payloads,
            ]
        ).decode()
        assert number in inputs and '"sealed":' in inputs  # the recipient is there, readable
        assert code not in inputs
        [row] = _rows(stack, sms_app)
        assert (row["reference_id"], row["destination"], row["attempts_left"]) == (ref, number, 4)
        assert len(row["code_hash"]) == 32
        assert code not in repr(dict(row)) and code.encode() not in row["code_hash"]
        # Nor does the delivery log or any event keep the text.
        deliveries = stack.sql("SELECT * FROM deliveries WHERE app_id = $1", sms_app)
        events = stack.sql("SELECT * FROM events WHERE app_id = $1", sms_app)
        assert deliveries and all(code not in repr(dict(r)) for r in deliveries + events)
        assert deliveries[0]["source"] == "otp"

    def test_a_new_send_replaces_the_code(
        self, pinpoint: Any, twilio_api: FakeTwilio, stack: Stack, sms_app: str
    ) -> None:
        number, ref = _number(), _ref()
        _send(pinpoint, sms_app, number, ref)
        first = _code(_last_sms(twilio_api, number))
        _send(pinpoint, sms_app, number, ref)
        second = _code(_last_sms(twilio_api, number))
        assert len(_rows(stack, sms_app)) == 1
        if first != second:
            assert _verify(pinpoint, sms_app, number, ref, first) is False
        assert _verify(pinpoint, sms_app, number, ref, second) is True

    def test_sms_template(self, pinpoint: Any, twilio_api: FakeTwilio, sms_app: str) -> None:
        name = "otp-" + secrets.token_hex(4)
        pinpoint.create_sms_template(
            TemplateName=name,
            SMSTemplateRequest={
                "Body": "{{brand}}: {{otp}} is your code, valid {{validityPeriod}} minutes. {{Team}}",
                "DefaultSubstitutions": '{"Team": "The team"}',
            },
        )
        number, ref = _number(), _ref()
        _send(pinpoint, sms_app, number, ref, TemplateId=name, ValidityPeriod=10)
        sms = _last_sms(twilio_api, number)
        assert re.fullmatch(r"ExampleCorp: \d{6} is your code, valid 10 minutes\. The team", sms["Body"])
        assert _verify(pinpoint, sms_app, number, ref, _code(sms))

    def test_channel_not_enabled(self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, app_id: str) -> None:
        number = _number()
        resp = _send(pinpoint, app_id, number, _ref())
        assert resp["Result"][number]["DeliveryStatus"] == "PERMANENT_FAILURE"
        assert "not enabled" in resp["Result"][number]["StatusMessage"]
        assert _rows(stack, app_id) == [] and twilio_api.to(number) == []


class TestSendRefused:
    @pytest.mark.parametrize(
        ("change", "member"),
        [
            ({"Channel": "EMAIL"}, "Channel"),
            ({"CodeLength": 4}, "CodeLength"),
            ({"CodeLength": 9}, "CodeLength"),
            ({"ValidityPeriod": 61}, "ValidityPeriod"),
            ({"ValidityPeriod": 1}, "ValidityPeriod"),
            ({"AllowedAttempts": 6}, "AllowedAttempts"),
            ({"AllowedAttempts": 0}, "AllowedAttempts"),
            ({"BrandName": "A brand name too long"}, "BrandName"),
            ({"ReferenceId": "r" * 49}, "ReferenceId"),
            ({"DestinationIdentity": "206-555-0142"}, "DestinationIdentity"),
        ],
    )
    def test_bad_parameter(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str, change: dict[str, Any], member: str
    ) -> None:
        number = _number()
        with pytest.raises(pinpoint.exceptions.BadRequestException, match=f"SendOTPMessageRequestParameters.{member}"):
            _send(pinpoint, sms_app, number, _ref(), **change)
        assert _rows(stack, sms_app) == [] and twilio_api.to(number) == []

    def test_a_dlt_template_id_keeps_the_default_text(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str
    ) -> None:
        """Pinpoint's TemplateId is an Indian DLT registration id: code carried over with one
        still sends, with the default text, and the ids stay on the delivery's events."""
        number, ref = _number(), _ref()
        _send(pinpoint, sms_app, number, ref, TemplateId="1107160000000012345", EntityId="1101160000000054321")
        sms = _last_sms(twilio_api, number)
        assert re.fullmatch(r"This is your One Time Password: \d{6} from ExampleCorp", sms["Body"])
        [event] = stack.sql("SELECT attributes FROM events WHERE app_id = $1 AND event_type = '_SMS.BUFFERED'", sms_app)
        assert '"dlt_template_id": "1107160000000012345"' in event["attributes"]

    def test_template_without_the_code(self, pinpoint: Any, stack: Stack, sms_app: str) -> None:
        name = "otp-" + secrets.token_hex(4)
        pinpoint.create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "Hello from {{brand}}"})
        with pytest.raises(pinpoint.exceptions.BadRequestException, match="TemplateId"):
            _send(pinpoint, sms_app, _number(), _ref(), TemplateId=name)
        assert _rows(stack, sms_app) == []

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            _send(pinpoint, "0" * 32, _number(), _ref())


class TestVerify:
    def _sent(self, pinpoint: Any, twilio: FakeTwilio, app: str, **extra: Any) -> tuple[str, str, str]:
        number, ref = _number(), _ref()
        _send(pinpoint, app, number, ref, **extra)
        return number, ref, _code(_last_sms(twilio, number))

    def test_wrong_codes_spend_attempts(
        self, pinpoint: Any, twilio_api: FakeTwilio, stack: Stack, sms_app: str
    ) -> None:
        number, ref, code = self._sent(pinpoint, twilio_api, sms_app, AllowedAttempts=2)
        assert _verify(pinpoint, sms_app, number, ref, _wrong(code)) is False
        assert _rows(stack, sms_app)[0]["attempts_left"] == 1
        assert _verify(pinpoint, sms_app, number, ref, _wrong(code)) is False
        assert _verify(pinpoint, sms_app, number, ref, code) is False
        assert _rows(stack, sms_app) == []

    def test_right_code_after_a_wrong_one(self, pinpoint: Any, twilio_api: FakeTwilio, sms_app: str) -> None:
        number, ref, code = self._sent(pinpoint, twilio_api, sms_app)
        assert _verify(pinpoint, sms_app, number, ref, _wrong(code)) is False
        assert _verify(pinpoint, sms_app, number, ref, code) is True

    def test_concurrent_guesses_cannot_exceed_the_limit(
        self, pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str
    ) -> None:
        number, ref, code = self._sent(pinpoint, twilio_api, sms_app, AllowedAttempts=5)
        clients = [stack.client() for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda c: _verify(c, sms_app, number, ref, _wrong(code)), clients))
        assert results == [False] * 8
        assert _verify(pinpoint, sms_app, number, ref, code) is False

    def test_expired_code(self, pinpoint: Any, twilio_api: FakeTwilio, stack: Stack, sms_app: str) -> None:
        number, ref, code = self._sent(pinpoint, twilio_api, sms_app)
        stack.sql("UPDATE otp_codes SET expires_at = now() - interval '1 second' WHERE app_id = $1", sms_app)
        assert _verify(pinpoint, sms_app, number, ref, code) is False

    def test_other_reference_or_destination(self, pinpoint: Any, twilio_api: FakeTwilio, sms_app: str) -> None:
        number, ref, code = self._sent(pinpoint, twilio_api, sms_app)
        assert _verify(pinpoint, sms_app, number, _ref(), code) is False
        assert _verify(pinpoint, sms_app, _number(), ref, code) is False
        assert _verify(pinpoint, sms_app, number, ref, code) is True

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException):
            _verify(pinpoint, "0" * 32, _number(), _ref(), "123456")
