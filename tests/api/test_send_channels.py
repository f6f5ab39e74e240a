"""SendMessages and SendUsersMessages on SMS, voice and templates, through boto3 → gateway →
Temporal → provider SDK → loopback fake of the provider's API."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.fakes.fcm_api import FakeFcm
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack


def _number() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


@pytest.fixture
def sms_app(pinpoint: Any, app_id: str) -> str:
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True, "SenderId": "SHOP"})
    pinpoint.update_voice_channel(ApplicationId=app_id, VoiceChannelRequest={"Enabled": True})
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    return app_id


def _to(twilio: FakeTwilio, number: str) -> list[dict[str, Any]]:
    return [m for m in twilio.messages if m.get("To") == number]


def test_sms_to_addresses_and_endpoints(pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str) -> None:
    raw, ann, bob = _number(), _number(), _number()
    pinpoint.update_endpoints_batch(
        ApplicationId=sms_app,
        EndpointBatchRequest={
            "Item": [
                {"Id": "ann", "Address": ann, "ChannelType": "SMS", "Attributes": {"Plan": ["gold"]}},
                {"Id": "bob", "Address": bob, "ChannelType": "SMS", "OptOut": "ALL"},
            ]
        },
    )
    resp = pinpoint.send_messages(
        ApplicationId=sms_app,
        MessageRequest={
            "Addresses": {raw: {"ChannelType": "SMS", "Substitutions": {"Plan": ["trial"]}}},
            "Endpoints": {"ann": {}, "bob": {}},
            "MessageConfiguration": {
                "SMSMessage": {"Body": "Your plan: {{Attributes.Plan}}{{Plan}}", "OriginationNumber": "+15550000001"}
            },
        },
    )["MessageResponse"]
    assert resp["Result"][raw]["DeliveryStatus"] == "SUCCESSFUL"
    assert resp["Result"][raw]["MessageId"].startswith("SM")
    assert resp["EndpointResult"]["ann"]["DeliveryStatus"] == "SUCCESSFUL"
    assert resp["EndpointResult"]["bob"]["DeliveryStatus"] == "OPT_OUT"

    [to_raw] = _to(twilio_api, raw)
    [to_ann] = _to(twilio_api, ann)
    assert to_raw["Body"] == "Your plan: trial" and to_raw["From"] == "+15550000001"
    assert to_ann["Body"] == "Your plan: gold"
    assert _to(twilio_api, bob) == []
    events = stack.sql("SELECT endpoint_id FROM events WHERE app_id = $1 AND event_type = '_SMS.BUFFERED'", sms_app)
    assert sorted(e["endpoint_id"] for e in events) == sorted([raw, "ann"])


def test_voice_speaks_the_body(pinpoint: Any, twilio_api: FakeTwilio, sms_app: str) -> None:
    number = _number()
    resp = pinpoint.send_messages(
        ApplicationId=sms_app,
        MessageRequest={
            "Addresses": {number: {"ChannelType": "VOICE"}},
            "MessageConfiguration": {
                "VoiceMessage": {
                    "Body": "Your code is 1 2 3",
                    "LanguageCode": "en-US",
                    "VoiceId": "Joanna",
                    "OriginationNumber": "+15550000002",
                }
            },
        },
    )["MessageResponse"]
    assert resp["Result"][number]["DeliveryStatus"] == "SUCCESSFUL"
    [call] = [c for c in twilio_api.calls if c.get("To") == number]
    assert call["From"] == "+15550000002"
    assert "<Say" in call["Twiml"] and "Your code is 1 2 3" in call["Twiml"] and "Joanna" in call["Twiml"]


def test_a_channel_that_is_off_is_refused_per_address(pinpoint: Any, twilio_api: FakeTwilio, app_id: str) -> None:
    number = _number()
    resp = pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Addresses": {number: {"ChannelType": "SMS"}},
            "MessageConfiguration": {"SMSMessage": {"Body": "hi"}},
        },
    )["MessageResponse"]
    assert resp["Result"][number]["DeliveryStatus"] == "PERMANENT_FAILURE"
    assert "not enabled" in resp["Result"][number]["StatusMessage"]
    assert _to(twilio_api, number) == []


def test_users_messages_reach_every_endpoint_of_each_user(
    pinpoint: Any, twilio_api: FakeTwilio, smtp: SmtpServer, sms_app: str
) -> None:
    phone, mail = _number(), f"u-{secrets.token_hex(4)}@example.com"
    user = f"user-{secrets.token_hex(3)}"
    pinpoint.update_endpoints_batch(
        ApplicationId=sms_app,
        EndpointBatchRequest={
            "Item": [
                {"Id": "phone", "Address": phone, "ChannelType": "SMS", "User": {"UserId": user}},
                {
                    "Id": "mail",
                    "Address": mail,
                    "ChannelType": "EMAIL",
                    "User": {"UserId": user, "UserAttributes": {"Name": ["Zoé"]}},
                },
            ]
        },
    )
    resp = pinpoint.send_users_messages(
        ApplicationId=sms_app,
        SendUsersMessageRequest={
            "Users": {user: {"Substitutions": {"Greeting": ["Hello"]}}, "nobody": {}},
            "MessageConfiguration": {"DefaultMessage": {"Body": "{{Greeting}} {{User.UserAttributes.Name}}"}},
        },
    )["SendUsersMessageResponse"]
    assert set(resp["Result"][user]) == {"phone", "mail"}
    assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in resp["Result"][user].values())
    assert resp["Result"]["nobody"] == {}
    [sms] = _to(twilio_api, phone)
    assert sms["Body"] == "Hello Zoé"
    [email] = smtp.sink.to(mail)
    assert "Hello Zoé" in email.text


def test_users_messages_limit(pinpoint: Any, sms_app: str) -> None:
    with pytest.raises(pinpoint.exceptions.BadRequestException):
        pinpoint.send_users_messages(
            ApplicationId=sms_app,
            SendUsersMessageRequest={
                "Users": {f"u{i}": {} for i in range(101)},
                "MessageConfiguration": {"DefaultMessage": {"Body": "x"}},
            },
        )


def test_templates_supply_content_with_defaults_and_pinned_versions(
    pinpoint: Any, twilio_api: FakeTwilio, sms_app: str
) -> None:
    name = f"tpl-{secrets.token_hex(3)}"
    pinpoint.create_sms_template(
        TemplateName=name,
        SMSTemplateRequest={
            "Body": "v1 {{User.UserAttributes.FirstName}} {{Attributes.City}}",
            "DefaultSubstitutions": '{"User.UserAttributes.FirstName": "friend"}',
        },
    )
    # Each version is a whole template: version 2 carries its own defaults.
    pinpoint.update_sms_template(
        TemplateName=name,
        CreateNewVersion=True,
        SMSTemplateRequest={
            "Body": "v2 {{User.UserAttributes.FirstName}}",
            "DefaultSubstitutions": '{"User.UserAttributes.FirstName": "pal"}',
        },
    )
    pinpoint.update_endpoint(
        ApplicationId=sms_app,
        EndpointId="known",
        EndpointRequest={
            "Address": (known := _number()),
            "ChannelType": "SMS",
            "User": {"UserAttributes": {"FirstName": ["Ada"]}},
            "Attributes": {"City": ["Oslo"]},
        },
    )
    anonymous = _number()

    def send(version: str | None, **recipients: Any) -> dict[str, Any]:
        ref: dict[str, str] = {"Name": name}
        if version:
            ref["Version"] = version
        return pinpoint.send_messages(  # type: ignore[no-any-return]
            ApplicationId=sms_app,
            MessageRequest={**recipients, "MessageConfiguration": {}, "TemplateConfiguration": {"SMSTemplate": ref}},
        )["MessageResponse"]

    # Without a version: the active one (still 1); the endpoint's value beats the default.
    send(None, Endpoints={"known": {}}, Addresses={anonymous: {"ChannelType": "SMS"}})
    assert _to(twilio_api, known)[-1]["Body"] == "v1 Ada Oslo"
    assert _to(twilio_api, anonymous)[-1]["Body"] == "v1 friend "
    # A pinned version.
    send("2", Addresses={anonymous: {"ChannelType": "SMS"}})
    assert _to(twilio_api, anonymous)[-1]["Body"] == "v2 pal"
    # A missing template is a NotFound and nothing is sent.
    before = len(twilio_api.messages)
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.send_messages(
            ApplicationId=sms_app,
            MessageRequest={
                "Addresses": {anonymous: {"ChannelType": "SMS"}},
                "MessageConfiguration": {},
                "TemplateConfiguration": {"SMSTemplate": {"Name": "no-such-template"}},
            },
        )
    assert len(twilio_api.messages) == before


def test_a_number_twilio_knows_as_unsubscribed_is_opted_out(
    pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str
) -> None:
    """Twilio refuses a number that texted STOP to it (21610): the endpoint is opted out here
    too, so later sends skip it without asking Twilio again."""
    number = _number()
    twilio_api.fail[number] = (400, 21610)
    pinpoint.update_endpoint(
        ApplicationId=sms_app, EndpointId="stopped", EndpointRequest={"Address": number, "ChannelType": "SMS"}
    )
    request = {"Endpoints": {"stopped": {}}, "MessageConfiguration": {"SMSMessage": {"Body": "hi"}}}
    first = pinpoint.send_messages(ApplicationId=sms_app, MessageRequest=request)["MessageResponse"]
    assert first["EndpointResult"]["stopped"]["DeliveryStatus"] == "OPT_OUT"
    endpoint = pinpoint.get_endpoint(ApplicationId=sms_app, EndpointId="stopped")["EndpointResponse"]
    assert endpoint["OptOut"] == "ALL"
    [event] = stack.sql("SELECT event_type FROM events WHERE app_id = $1 AND endpoint_id = 'stopped'", sms_app)
    assert event["event_type"] == "_SMS.OPTOUT"
    tries = len([a for a in twilio_api.attempts if a.get("To") == number])
    again = pinpoint.send_messages(ApplicationId=sms_app, MessageRequest=request)["MessageResponse"]
    assert again["EndpointResult"]["stopped"]["DeliveryStatus"] == "OPT_OUT"
    assert len([a for a in twilio_api.attempts if a.get("To") == number]) == tries


def test_an_inbound_stop_keeps_later_sends_away(
    pinpoint: Any, stack: Stack, twilio_api: FakeTwilio, sms_app: str
) -> None:
    number = _number()
    pinpoint.update_endpoint(
        ApplicationId=sms_app, EndpointId="texter", EndpointRequest={"Address": number, "ChannelType": "SMS"}
    )
    request = {"Endpoints": {"texter": {}}, "MessageConfiguration": {"SMSMessage": {"Body": "deal of the day"}}}
    assert _send_status(pinpoint, sms_app, request, "texter") == "SUCCESSFUL"
    reply = twilio_api.inbound(
        f"{stack.url}/engagement/twilio/{sms_app}/inbound", from_=number, to="+15550009999", body="STOP"
    )
    assert reply.status_code == 200
    assert _send_status(pinpoint, sms_app, request, "texter") == "OPT_OUT"
    assert len(_to(twilio_api, number)) == 1
    twilio_api.inbound(
        f"{stack.url}/engagement/twilio/{sms_app}/inbound", from_=number, to="+15550009999", body="START"
    )
    assert _send_status(pinpoint, sms_app, request, "texter") == "SUCCESSFUL"
    assert len(_to(twilio_api, number)) == 2


def test_a_token_fcm_no_longer_knows_makes_the_endpoint_inactive(pinpoint: Any, fcm_api: FakeFcm, app_id: str) -> None:
    pinpoint.update_gcm_channel(
        ApplicationId=app_id, GCMChannelRequest={"ServiceJson": fcm_api.service_account(), "Enabled": True}
    )
    token = secrets.token_hex(32)
    pinpoint.update_endpoint(
        ApplicationId=app_id, EndpointId="phone", EndpointRequest={"Address": token, "ChannelType": "GCM"}
    )
    fcm_api.script(token, "UNREGISTERED")
    request = {"Endpoints": {"phone": {}}, "MessageConfiguration": {"GCMMessage": {"Title": "Hi", "Body": "x"}}}
    assert _send_status(pinpoint, app_id, request, "phone") == "PERMANENT_FAILURE"
    endpoint = pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="phone")["EndpointResponse"]
    assert endpoint["EndpointStatus"] == "INACTIVE"
    assert len(fcm_api.refused) >= 1

    def asked() -> int:
        return len(fcm_api.sent) + len(fcm_api.refused)

    before = asked()
    assert _send_status(pinpoint, app_id, request, "phone") == "PERMANENT_FAILURE"
    assert asked() == before  # FCM is not asked again
    # The app registers again (an endpoint write makes it ACTIVE) and messages flow.
    pinpoint.update_endpoint(
        ApplicationId=app_id, EndpointId="phone", EndpointRequest={"Address": token, "ChannelType": "GCM"}
    )
    assert _send_status(pinpoint, app_id, request, "phone") == "SUCCESSFUL"


def _send_status(pinpoint: Any, app_id: str, request: dict[str, Any], endpoint_id: str) -> str:
    resp = pinpoint.send_messages(ApplicationId=app_id, MessageRequest=request)["MessageResponse"]
    return str(resp["EndpointResult"][endpoint_id]["DeliveryStatus"])
