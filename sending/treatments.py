"""What each treatment of a campaign sends in a run: its message, templates, custom channel and
the content per channel (sending.content), read once per page or trigger batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rules.campaign_runs import DEFAULT_TREATMENT
from rules.settings import effective_hook
from sending.content import CAMPAIGN_CHANNELS, CUSTOM, enabled_channels, message_contents


@dataclass
class Treatment:
    """One treatment's sending setup for a run: its message, templates and channel content."""

    id: str
    config: dict[str, Any]
    templates: dict[str, Any]
    custom_uri: str | None
    custom_types: frozenset[str] | None
    contents: dict[str, dict[str, Any] | None]


async def campaign_treatments(
    conn: AsyncConnection, app_id: str, definition: dict[str, Any], app_settings: dict[str, Any]
) -> list[Treatment]:
    """The default treatment's setup and each additional treatment's, in that order."""
    custom = definition.get("CustomDeliveryConfiguration")
    hook = effective_hook(definition.get("Hook"), app_settings.get("CampaignHook"))
    delivery_hook = False
    if hook is not None and hook[1] == "DELIVERY":
        delivery_hook = True
        # The hook delivers instead of the channels (Pinpoint's DELIVERY mode, the custom
        # channel's ancestor): every endpoint goes to it as to a custom channel.
        custom = {"DeliveryUri": hook[0]}
    enabled = await enabled_channels(conn, app_id)
    out = []
    for t in [{**definition, "Id": DEFAULT_TREATMENT}, *(definition.get("AdditionalTreatments") or [])]:
        own_custom = custom if delivery_hook else t.get("CustomDeliveryConfiguration") or custom
        types = (own_custom or {}).get("EndpointTypes")
        setup = Treatment(
            id=t["Id"],
            config=t.get("MessageConfiguration") or {},
            templates=t.get("TemplateConfiguration") or {},
            custom_uri=(own_custom or {}).get("DeliveryUri"),
            custom_types=frozenset(types) if types else None,
            contents={},
        )
        setup.contents = await message_contents(
            conn,
            app_id,
            CAMPAIGN_CHANNELS,
            config=setup.config,
            templates=setup.templates,
            custom_uri=setup.custom_uri,
            enabled=enabled,
        )
        custom_content = setup.contents.get(CUSTOM)
        if custom_content is not None and delivery_hook:
            # A DELIVERY hook's event carries the treatment's MessageConfiguration instead of Data.
            custom_content["message_configuration"] = setup.config
        out.append(setup)
    return out
