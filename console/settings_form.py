"""The Settings pages' forms as requests, and the API's errors back onto their fields (pure).

General: the form's fields are named by their member paths in WriteApplicationSettingsRequest
(`Limits.Daily`, `QuietTime.Start` ...), so an error naming a member lands by its field. The form
holds the whole of each group: an empty group clears it (UpdateApplicationSettings replaces the
members it names). Numbers are passed through as typed when they are not integers, so that the
model's decoding refuses them with the API's own message.

Channels: the model's members of each channel request; credentials (and Baidu's API key) are
masked: never filled in a form, left empty to keep the stored value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wire.model import operation

_INTEGER = re.compile(r"-?\d{1,12}")

LIMITS = ("Daily", "Total", "MessagesPerSecond", "MaximumDuration", "Session")
JOURNEY_LIMITS = ("DailyCap", "TotalCap", "TimeframeCap.Cap", "TimeframeCap.Days")
GENERAL_FIELDS = (
    "QuietTime.Start",
    "QuietTime.End",
    *(f"Limits.{n}" for n in LIMITS),
    "CampaignHook.LambdaFunctionName",
    "CampaignHook.Mode",
    *(f"JourneyLimits.{n}" for n in JOURNEY_LIMITS),
    "CloudWatchMetricsEnabled",
    "EventTaggingEnabled",
)
FLAGS = ("CloudWatchMetricsEnabled", "EventTaggingEnabled")


def _number(text: str) -> int | str:
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else text


def _nested(values: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        _nested(values.setdefault(head, {}), rest, value)
    else:
        values[head] = value


def settings_fields(form: dict[str, str], stored: dict[str, Any]) -> dict[str, Any]:
    """The form as a WriteApplicationSettingsRequest (before the model's decoding). A hook's
    WebUrl, which the form does not show, is kept."""
    body: dict[str, Any] = {"QuietTime": {}, "Limits": {}, "CampaignHook": {}, "JourneyLimits": {}}
    for path in GENERAL_FIELDS:
        if path in FLAGS:
            body[path] = form.get(path) == "on"
            continue
        text = form.get(path, "").strip()
        if not text:
            continue
        numeric = path.startswith(("Limits.", "JourneyLimits."))
        _nested(body, path, _number(text) if numeric else text)
    hook = body["CampaignHook"]
    web_url = (stored.get("CampaignHook") or {}).get("WebUrl")
    if web_url:
        hook["WebUrl"] = web_url
    if not hook.get("LambdaFunctionName") and not web_url:
        hook.pop("Mode", None)  # a mode without a hook means nothing
    return body


def settings_form(stored: dict[str, Any]) -> dict[str, str]:
    """The stored settings as the form's values."""
    form: dict[str, str] = {}
    for path in GENERAL_FIELDS:
        value: Any = stored
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if path in FLAGS:
            form[path] = "on" if value else ""
        else:
            form[path] = "" if value is None else str(value)
    return form


def field_of(message: str, fields: tuple[str, ...] | list[str]) -> str:
    """The field whose member path the API's message names (the longest that matches, so
    `Limits.Daily` before `Limits`); "" when it names none (shown above the form)."""
    best = ""
    for path in fields:
        if re.search(rf"\.{re.escape(path)}(?![\w.])", message) and len(path) > len(best):
            best = path
    if best:
        return best
    # A group's own error ("...QuietTime: Start and End go together"): its first field.
    for path in fields:
        group = path.split(".")[0]
        if re.search(rf"\.{re.escape(group)}(?![\w.])", message):
            return path
    return ""


# -- channels -----------------------------------------------------------------------------------

LONG = frozenset({"ServiceJson", "Certificate", "PrivateKey", "TokenKey"})


@dataclass(frozen=True)
class ChannelField:
    name: str
    masked: bool  # a credential: never sent to the browser
    long: bool  # a document or key: a textarea
    required: bool


def channel_fields(suffix: str, secrets: tuple[str, ...], channel_type: str) -> list[ChannelField]:
    """The members of Update{suffix}'s request but Enabled, in the model's order."""
    shape = operation("Update" + suffix).payload_shape
    assert shape is not None
    required = set(shape.required_members)
    masked = set(secrets) | ({"ApiKey"} if channel_type == "BAIDU" else set())
    return [
        ChannelField(name, name in masked, name in LONG, name in required)
        for name in shape.members
        if name != "Enabled"
    ]


def channel_fields_request(
    fields: list[ChannelField],
    form: dict[str, str],
    stored_settings: dict[str, Any],
    stored_secrets: dict[str, Any],
    *,
    enabled: bool,
) -> dict[str, Any]:
    """The channel request (before the model's decoding). A field left empty is left out (the
    stored value is kept), except that a setting shown in the form and emptied is sent empty,
    and a required credential left empty is filled from the stored one, on the server."""
    body: dict[str, Any] = {"Enabled": enabled}
    for f in fields:
        text = form.get(f.name, "")
        text = text if f.long else text.strip()
        if text:
            body[f.name] = text
        elif f.masked:
            kept = stored_secrets.get(f.name, stored_settings.get(f.name))
            if f.required and kept:
                body[f.name] = kept
        elif f.name in stored_settings:
            body[f.name] = stored_settings[f.name] if f.name not in form else ""
    return body
