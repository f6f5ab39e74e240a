"""Direct sends: choosing each channel's content from a DirectMessageConfiguration (and the
template a TemplateConfiguration names), and the per-recipient checks Pinpoint applies before
anything is sent.

The content handed to a provider (`DeliveryBatch.content`) uses these keys:
- every channel: `substitutions` (message-level maps, lowest precedence first) and `defaults`
  (the template's DefaultSubstitutions);
- EMAIL: from, reply_to, envelope_from, subject, text, html, headers, raw (base64 MIME);
- SMS: body, message_type, origination_number, sender_id, keyword, media_url;
- VOICE: body, language_code, voice_id, origination_number;
- push (GCM, APNS*, ADM, BAIDU): title, body, action, url, image_url, image_icon_url,
  small_image_icon_url, sound, data, silent_push, raw_content, priority, time_to_live,
  collapse_key, restricted_package_name, badge, category, thread_id, media_url, apns_push_type.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from openpoint.errors import BadRequest
from rules.engagement import channel_family

MAX_RECIPIENTS = 100
EMAIL = "EMAIL"

# Which template kind serves each channel family, and its key in TemplateConfiguration.
TEMPLATE_KINDS = {
    "EMAIL": ("EMAIL", "EmailTemplate"),
    "SMS": ("SMS", "SMSTemplate"),
    "VOICE": ("VOICE", "VoiceTemplate"),
    "PUSH": ("PUSH", "PushTemplate"),
}

# The platform message member of DirectMessageConfiguration / the push template, per channel.
PUSH_MEMBERS = {
    "GCM": ("GCMMessage", "GCM"),
    "APNS": ("APNSMessage", "APNS"),
    "APNS_SANDBOX": ("APNSMessage", "APNS"),
    "APNS_VOIP": ("APNSMessage", "APNS"),
    "APNS_VOIP_SANDBOX": ("APNSMessage", "APNS"),
    "ADM": ("ADMMessage", "ADM"),
    "BAIDU": ("BaiduMessage", "Baidu"),
}

# Pinpoint member -> content key, for the members that are copied as they are.
_PUSH_KEYS = {
    "Title": "title",
    "Body": "body",
    "Action": "action",
    "Url": "url",
    "ImageUrl": "image_url",
    "ImageIconUrl": "image_icon_url",
    "SmallImageIconUrl": "small_image_icon_url",
    "Sound": "sound",
    "Data": "data",
    "SilentPush": "silent_push",
    "RawContent": "raw_content",
    "Priority": "priority",
    "TimeToLive": "time_to_live",
    "CollapseKey": "collapse_key",
    "CollapseId": "collapse_key",
    "RestrictedPackageName": "restricted_package_name",
    "Badge": "badge",
    "Category": "category",
    "ThreadId": "thread_id",
    "MediaUrl": "media_url",
    "APNSPushType": "apns_push_type",
}
_SMS_KEYS = {
    "Body": "body",
    "MessageType": "message_type",
    "OriginationNumber": "origination_number",
    "SenderId": "sender_id",
    "Keyword": "keyword",
    "MediaUrl": "media_url",
}
_VOICE_KEYS = {
    "Body": "body",
    "LanguageCode": "language_code",
    "VoiceId": "voice_id",
    "OriginationNumber": "origination_number",
}
_EMAIL_TEMPLATE_KEYS = {"Subject": "subject", "TextPart": "text", "HtmlPart": "html", "Headers": "headers"}

# The content keys that are rendered, and how a syntax error names them.
RENDERED = {
    "subject": "Subject",
    "text": "TextPart",
    "html": "HtmlPart",
    "body": "Body",
    "title": "Title",
    "url": "Url",
    "raw_content": "RawContent",
}


@dataclass(frozen=True)
class Template:
    """A resolved template version: its request members and parsed DefaultSubstitutions."""

    name: str
    content: dict[str, Any]
    defaults: dict[str, str]


def _copy(source: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    return {keys[k]: v for k, v in source.items() if k in keys and v is not None}


def template_ref(templates: dict[str, Any], channel: str) -> tuple[str, str, str | None] | None:
    """(template type, name, version) that TemplateConfiguration names for `channel`, if any."""
    kind = TEMPLATE_KINDS.get(channel_family(channel))
    if kind is None:
        return None
    ref = templates.get(kind[1])
    if not ref or not ref.get("Name"):
        return None
    return kind[0], ref["Name"], ref.get("Version")


def channel_content(
    config: dict[str, Any], channel: str, template: Template | None, field: str
) -> dict[str, Any] | None:
    """The content for `channel`: the template's, overlaid member by member by the request's
    own message for that channel; None when neither says anything for it."""
    family = channel_family(channel)
    default = config.get("DefaultMessage") or {}
    layers: list[dict[str, list[str]]] = [default.get("Substitutions") or {}]
    base: dict[str, Any] = {}
    if family == "EMAIL":
        content = _email(config, template, field, layers)
    elif family == "SMS":
        sms = config.get("SMSMessage") or {}
        layers.append(sms.get("Substitutions") or {})
        if template:
            base = _copy(template.content, _SMS_KEYS)
        content = {**base, **_copy(sms, _SMS_KEYS)}
    elif family == "VOICE":
        voice = config.get("VoiceMessage") or {}
        layers.append(voice.get("Substitutions") or {})
        if template:
            base = _copy(template.content, _VOICE_KEYS)
        content = {**base, **_copy(voice, _VOICE_KEYS)}
    elif family == "PUSH":
        member, template_member = PUSH_MEMBERS[channel]
        generic = config.get("DefaultPushNotificationMessage") or {}
        platform = config.get(member) or {}
        layers += [generic.get("Substitutions") or {}, platform.get("Substitutions") or {}]
        if template:
            base = {
                **_copy(template.content.get("Default") or {}, _PUSH_KEYS),
                **_copy(template.content.get(template_member) or {}, _PUSH_KEYS),
            }
        content = {**base, **_copy(generic, _PUSH_KEYS), **_copy(platform, _PUSH_KEYS)}
    else:
        return None
    if content is None:
        return None
    main = "text" if family == "EMAIL" else "body"
    if main not in content and "html" not in content and default.get("Body") is not None:
        content[main] = default["Body"]
    if not any(k in content for k in ("text", "html", "raw", "body", "raw_content")) and not content.get("silent_push"):
        return None
    content["substitutions"] = layers
    content["defaults"] = template.defaults if template else {}
    return content


def _email(
    config: dict[str, Any], template: Template | None, field: str, layers: list[dict[str, list[str]]]
) -> dict[str, Any] | None:
    email = config.get("EmailMessage") or {}
    layers.append(email.get("Substitutions") or {})
    content: dict[str, Any] = _copy(template.content, _EMAIL_TEMPLATE_KEYS) if template else {}
    if email.get("FromAddress"):
        content["from"] = email["FromAddress"]
    if email.get("ReplyToAddresses"):
        content["reply_to"] = email["ReplyToAddresses"]
    if email.get("FeedbackForwardingAddress"):
        content["envelope_from"] = email["FeedbackForwardingAddress"]
    if "RawEmail" in email and email["RawEmail"].get("Data"):
        content["raw"] = base64.b64encode(email["RawEmail"]["Data"]).decode()
        return content
    simple = email.get("SimpleEmail")
    if simple:
        for member, key in (("Subject", "subject"), ("TextPart", "text"), ("HtmlPart", "html")):
            if (simple.get(member) or {}).get("Data") is not None:
                content[key] = simple[member]["Data"]
        if simple.get("Headers"):
            content["headers"] = simple["Headers"]
        if content.get("text") is None and content.get("html") is None:
            raise BadRequest(f"Invalid value for {field}.EmailMessage.SimpleEmail: it needs a TextPart or an HtmlPart.")
    elif email.get("Body") is not None:
        content["text"] = email["Body"]
    for i, h in enumerate(content.get("headers", [])):
        if not h.get("Name") or len(h["Name"]) > 126 or len(h.get("Value", "")) > 870:
            raise BadRequest(
                f"Invalid value for {field}.EmailMessage.SimpleEmail.Headers[{i}]: "
                "a header has a Name of 1 to 126 characters and a Value of at most 870."
            )
    return content


def rendered_fields(content: dict[str, Any], field: str) -> list[tuple[str, str]]:
    """The (text, field name) pairs of `content` that are rendered, for syntax checks."""
    return [(content[k], f"{field}.{v}") for k, v in RENDERED.items() if isinstance(content.get(k), str)]


def check_recipient_count(addresses: int, endpoints: int, field: str) -> None:
    total = addresses + endpoints
    if total == 0:
        raise BadRequest(f"Invalid value for {field}: name at least one address or endpoint.")
    if total > MAX_RECIPIENTS:
        raise BadRequest(f"Invalid value for {field}: at most {MAX_RECIPIENTS} addresses and endpoints per request.")


# Campaign messages (MessageConfiguration) use other shapes than direct sends: push platforms
# share `Message`, email is CampaignEmailMessage, there are no message-level substitutions.
_CAMPAIGN_PUSH_KEYS = {**_PUSH_KEYS, "ImageSmallIconUrl": "small_image_icon_url", "JsonBody": "json_body"}
_CAMPAIGN_EMAIL_KEYS = {
    "Title": "subject",
    "HtmlBody": "html",
    "Body": "text",
    "Headers": "headers",
    "FromAddress": "from",
}


def campaign_content(
    config: dict[str, Any], channel: str, template: Template | None, custom_uri: str | None = None
) -> dict[str, Any] | None:
    """The content a campaign treatment sends on `channel`: its template's, overlaid by the
    treatment's MessageConfiguration; None when it has nothing for that channel."""
    family = channel_family(channel)
    content: dict[str, Any]
    if family == "CUSTOM":
        if not custom_uri:
            return None
        content = {"url": custom_uri, "data": (config.get("CustomMessage") or {}).get("Data")}
    elif family == "EMAIL":
        base = _copy(template.content, _EMAIL_TEMPLATE_KEYS) if template else {}
        content = {**base, **_copy(config.get("EmailMessage") or {}, _CAMPAIGN_EMAIL_KEYS)}
    elif family == "SMS":
        base = _copy(template.content, _SMS_KEYS) if template else {}
        content = {**base, **_copy(config.get("SMSMessage") or {}, _SMS_KEYS)}
    elif family == "PUSH":
        member, template_member = PUSH_MEMBERS[channel]
        base = {}
        if template:
            base = {
                **_copy(template.content.get("Default") or {}, _PUSH_KEYS),
                **_copy(template.content.get(template_member) or {}, _PUSH_KEYS),
            }
        content = {
            **base,
            **_copy(config.get("DefaultMessage") or {}, _CAMPAIGN_PUSH_KEYS),
            **_copy(config.get(member) or {}, _CAMPAIGN_PUSH_KEYS),
        }
        json_body = content.pop("json_body", None)
        if json_body:
            # JsonBody is the data payload as a JSON object in a string; providers want a map.
            try:
                parsed = json.loads(json_body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                content["data"] = {**{k: v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}}
    else:
        return None
    if family != "CUSTOM" and not any(k in content for k in ("text", "html", "body", "raw_content")):
        if not content.get("silent_push"):
            return None
    content["substitutions"] = []
    content["defaults"] = template.defaults if template else {}
    return content
