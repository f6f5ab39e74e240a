"""What every push platform's payload shares: Pinpoint's `pinpoint` data, in the shape the
Pinpoint and Amplify SDKs read.

Pinpoint tells the app which campaign or journey a notification came from, where a tap leads
and the request's Context under one `pinpoint` object: iOS apps find it nested
(`data.pinpoint.campaign.campaign_id`), Android apps flattened into FCM's string map
(`pinpoint.campaign.campaign_id`). Journeys are the exception on Android: the SDK reads
`pinpoint` as a JSON string holding `{"journey": {...}}`. Direct sends carry the campaign id
`_DIRECT`, which the SDKs need to treat the message as Pinpoint's.
"""

from __future__ import annotations

from typing import Any

from channels.deliverer import Outcome, Send
from workflows.shared import DeliveryBatch, Recipient

DIRECT_CAMPAIGN = "_DIRECT"
_CAMPAIGN_KEYS = ("campaign_id", "treatment_id", "campaign_activity_id")
_JOURNEY_KEYS = ("journey_id", "journey_activity_id")


def source(batch: DeliveryBatch) -> tuple[str, dict[str, str]]:
    """("campaign" | "journey", its ids) for the notification's origin."""
    attrs = batch.attributes
    if attrs.get("journey_id") and not attrs.get("campaign_id"):
        return "journey", {k: attrs[k] for k in _JOURNEY_KEYS if attrs.get(k)}
    ids = {k: attrs[k] for k in _CAMPAIGN_KEYS if attrs.get(k)}
    return "campaign", ids or {"campaign_id": DIRECT_CAMPAIGN}


def tap_action(content: dict[str, Any]) -> tuple[str, str | None]:
    """(OPEN_APP | DEEP_LINK | URL, the link): what a tap on the notification does. A link
    action without a link opens the app, as Pinpoint's default does."""
    action = content.get("action") or "OPEN_APP"
    url = content.get("url") or None
    if action in ("DEEP_LINK", "URL") and url:
        return action, url
    return "OPEN_APP", None


def strings(values: dict[str, Any]) -> dict[str, str]:
    """A data map as push services take it: every value a string."""
    return {str(k): v if isinstance(v, str) else str(v) for k, v in values.items() if v is not None}


def refusing(outcome: Outcome) -> Send:
    """A sender that answers every recipient with `outcome` (the channel cannot send at all)."""

    async def refuse(r: Recipient) -> Outcome:
        return outcome

    return refuse
