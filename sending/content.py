"""The first stage of a send: each channel's content (`DeliveryBatch.content`), from the message
configuration and the templates it names, with the project's channel settings applied.

Two message shapes exist. Campaigns, event triggers and journeys carry a campaign's
MessageConfiguration (`message_contents`); SendMessages and SendUsersMessages carry a
DirectMessageConfiguration (`direct_contents`, which also refuses bad content before anything
is sent). rules/messages.py builds the content of each shape; this module reads what it needs.
Gateway-safe: it reads the store and imports no provider or activity code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import NotFound
from rules.messages import EMAIL, Template, campaign_content, channel_content, rendered_fields, template_ref
from store import channels as channels_store
from store import templates as templates_store
from templating.render import check_template

# What a campaign treatment may send on: the channels with a provider, and CUSTOM (a webhook or
# Lambda function, which needs no channel settings).
CAMPAIGN_CHANNELS = ("EMAIL", "SMS", "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "CUSTOM")
CUSTOM = "CUSTOM"

TemplateRef = tuple[str, str, str | None]  # (template type, name, version or None: the active one)


async def enabled_channels(conn: AsyncConnection, app_id: str) -> dict[str, dict[str, Any]]:
    """The project's enabled channels (their `channels` rows) by channel type."""
    return {row["channel_type"]: row for row in await channels_store.all_of(conn, app_id) if row["enabled"]}


async def load_template(conn: AsyncConnection, ref: TemplateRef | None) -> Template | None:
    """The template version `ref` names, or None when it names none or there is no such one (a
    campaign then sends without it; a direct send refuses the request: `direct_contents`)."""
    if ref is None:
        return None
    found = await templates_store.resolve(conn, *ref)
    if found is None:
        return None
    return Template(found["name"], found["content"], found["default_substitutions"])


def with_sender(content: dict[str, Any], email_channel: Mapping[str, Any] | None) -> dict[str, Any]:
    """EMAIL content with its From: the message's own, else the project's email channel's
    FromAddress."""
    settings = (email_channel or {}).get("settings") or {}
    return {**content, "from": content.get("from") or settings.get("FromAddress")}


async def message_contents(
    conn: AsyncConnection,
    app_id: str,
    channels: Iterable[str],
    *,
    config: dict[str, Any],
    templates: dict[str, Any],
    custom_uri: str | None = None,
    enabled: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any] | None]:
    """The content of a campaign-shaped message (`config`: a MessageConfiguration; `templates`:
    a TemplateConfiguration) on each of `channels`, None where it has none: the channel is off
    for the project, or the message says nothing for it. CUSTOM needs `custom_uri` (the
    webhook or Lambda function) and no channel settings. `enabled`: the project's enabled
    channels when the caller has them already."""
    if enabled is None:
        enabled = await enabled_channels(conn, app_id)
    loaded: dict[TemplateRef, Template | None] = {}
    out: dict[str, dict[str, Any] | None] = {}
    for channel in channels:
        if channel != CUSTOM and channel not in enabled:
            out[channel] = None
            continue
        ref = template_ref(templates, channel)
        if ref is not None and ref not in loaded:  # the push channels share one template
            loaded[ref] = await load_template(conn, ref)
        content = campaign_content(config, channel, loaded.get(ref) if ref else None, custom_uri)
        if content is not None and channel == EMAIL:
            content = with_sender(content, enabled[EMAIL])
        out[channel] = content
    return out


async def direct_contents(
    conn: AsyncConnection, channels: Iterable[str], *, config: dict[str, Any], templates: dict[str, Any], field: str
) -> dict[str, dict[str, Any] | None]:
    """The content of a direct send (`config`: a DirectMessageConfiguration; `templates`: its
    TemplateConfiguration) on each of `channels`, None where the request has none. A template
    the request names that does not exist, or content that does not parse as a template, is
    refused (NotFound, BadRequest naming `field`'s member) before anything is sent. The email
    From is left to `with_sender`: only a request that sends email needs the channel."""
    out: dict[str, dict[str, Any] | None] = {}
    for channel in channels:
        ref = template_ref(templates, channel)
        template = await load_template(conn, ref)
        if ref is not None and template is None:
            version = f" version {ref[2]}" if ref[2] else ""
            raise NotFound(f"Template {ref[1]}{version} of type {ref[0]} was not found.")
        content = channel_content(config, channel, template, field)
        if content is not None:
            for text, part in rendered_fields(content, field):
                check_template(text, part)
        out[channel] = content
    return out
