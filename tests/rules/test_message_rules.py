"""Choosing each channel's content from a DirectMessageConfiguration and a template."""

from __future__ import annotations

import pytest

from openpoint.errors import BadRequest
from rules.messages import Template, channel_content, rendered_fields, template_ref

F = "MessageRequest.MessageConfiguration"


def test_sms_message_wins_over_default_message() -> None:
    config = {
        "DefaultMessage": {"Body": "default", "Substitutions": {"A": ["1"]}},
        "SMSMessage": {
            "Body": "sms",
            "MessageType": "TRANSACTIONAL",
            "OriginationNumber": "+15550001111",
            "Substitutions": {"B": ["2"]},
        },
    }
    content = channel_content(config, "SMS", None, F)
    assert content is not None
    assert content["body"] == "sms" and content["message_type"] == "TRANSACTIONAL"
    assert content["origination_number"] == "+15550001111"
    # Lowest precedence first: DefaultMessage, then the channel's own message.
    assert content["substitutions"] == [{"A": ["1"]}, {"B": ["2"]}]


def test_default_message_body_serves_every_channel() -> None:
    config = {"DefaultMessage": {"Body": "hello"}}
    for channel in ("SMS", "VOICE", "GCM", "APNS"):
        content = channel_content(config, channel, None, F)
        assert content is not None and content["body"] == "hello", channel
    email = channel_content(config, "EMAIL", None, F)
    assert email is not None and email["text"] == "hello"


def test_no_content_for_a_channel_is_none() -> None:
    assert channel_content({"SMSMessage": {"Body": "x"}}, "EMAIL", None, F) is None
    assert channel_content({"EmailMessage": {"Body": "x"}}, "GCM", None, F) is None
    assert channel_content({"SMSMessage": {"Body": "x"}}, "CUSTOM", None, F) is None


def test_push_layers_platform_over_default_push() -> None:
    config = {
        "DefaultPushNotificationMessage": {
            "Title": "generic",
            "Body": "generic body",
            "Action": "OPEN_APP",
            "Data": {"k": "v"},
        },
        "GCMMessage": {"Title": "android", "Priority": "high", "TimeToLive": 60, "CollapseKey": "c"},
        "APNSMessage": {"Title": "ios", "Badge": 3, "CollapseId": "ios-c"},
    }
    gcm = channel_content(config, "GCM", None, F)
    apns = channel_content(config, "APNS_SANDBOX", None, F)
    assert gcm is not None and apns is not None
    assert gcm["title"] == "android" and gcm["body"] == "generic body" and gcm["priority"] == "high"
    assert gcm["time_to_live"] == 60 and gcm["collapse_key"] == "c" and gcm["data"] == {"k": "v"}
    assert apns["title"] == "ios" and apns["badge"] == 3 and apns["collapse_key"] == "ios-c"


def test_silent_push_needs_no_body() -> None:
    content = channel_content({"GCMMessage": {"SilentPush": True, "Data": {"sync": "1"}}}, "GCM", None, F)
    assert content is not None and content["silent_push"] is True


def test_template_supplies_content_and_inline_members_override_it() -> None:
    template = Template(
        "welcome", {"Subject": "Hi {{Name}}", "HtmlPart": "<p>Hi</p>", "TextPart": "Hi"}, {"Name": "you"}
    )
    config = {"EmailMessage": {"FromAddress": "a@example.com"}}
    content = channel_content(config, "EMAIL", template, F)
    assert content is not None
    assert content["subject"] == "Hi {{Name}}" and content["html"] == "<p>Hi</p>" and content["text"] == "Hi"
    assert content["from"] == "a@example.com" and content["defaults"] == {"Name": "you"}

    inline = {"EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Override"}, "TextPart": {"Data": "t"}}}}
    content = channel_content(inline, "EMAIL", template, F)
    assert content is not None and content["subject"] == "Override" and content["html"] == "<p>Hi</p>"


def test_push_template_platform_section_over_default_section() -> None:
    template = Template(
        "p", {"Default": {"Title": "T", "Body": "B"}, "GCM": {"Body": "android B"}, "APNS": {"Sound": "ping"}}, {}
    )
    gcm = channel_content({}, "GCM", template, F)
    apns = channel_content({}, "APNS", template, F)
    assert gcm is not None and gcm["title"] == "T" and gcm["body"] == "android B"
    assert apns is not None and apns["body"] == "B" and apns["sound"] == "ping"


def test_template_ref_per_channel_family() -> None:
    config = {"SMSTemplate": {"Name": "otp", "Version": "3"}, "PushTemplate": {"Name": "push"}}
    assert template_ref(config, "SMS") == ("SMS", "otp", "3")
    assert template_ref(config, "APNS_VOIP") == ("PUSH", "push", None)
    assert template_ref(config, "EMAIL") is None
    assert template_ref(config, "CUSTOM") is None


def test_simple_email_needs_a_part() -> None:
    with pytest.raises(BadRequest, match="TextPart or an HtmlPart"):
        channel_content({"EmailMessage": {"SimpleEmail": {"Subject": {"Data": "s"}}}}, "EMAIL", None, F)


def test_rendered_fields_name_the_member() -> None:
    content = channel_content({"SMSMessage": {"Body": "{{x}}"}}, "SMS", None, F)
    assert content is not None
    assert rendered_fields(content, F) == [("{{x}}", f"{F}.Body")]
