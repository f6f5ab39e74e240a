"""Whether a message may go to an endpoint at all, before content, quiet time or limits: the
checks every send makes (campaigns, event triggers, journeys, direct sends to endpoints).

The reasons carry the names of a campaign's ExecutionMetrics (PINPOINT.md §4.4); other senders
answer them in their own words (a direct send's OPT_OUT result, a journey step's outcome).

Rules where Pinpoint is silent [impl]:
- The checks run in one order and the first that fails names the reason: opted out, inactive,
  no channel, no address. An endpoint that is both inactive and without an address is INACTIVE.
- A custom channel (CustomDeliveryConfiguration, a DELIVERY hook) takes the endpoint types it
  names, or every endpoint when it names none; the endpoint's own channel serves the others.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

OPT_OUT = "ENDPOINT_OPT_OUT"
INACTIVE = "ENDPOINT_INACTIVE"
MISSING_CHANNEL = "ENDPOINT_MISSING_CHANNEL"
MISSING_ADDRESS = "ENDPOINT_MISSING_ADDRESS"
CHANNEL_MISMATCH = "ENDPOINT_CHANNEL_MISMATCH"  # the message has no content for the endpoint's channel
CUSTOM = "CUSTOM"

Row = TypeVar("Row", bound=Mapping[str, Any])


def unreachable(row: Mapping[str, Any], *, needs_channel: bool = True) -> str | None:
    """Why no message can go to this endpoint (a row of `endpoints`), or None when one can.
    `needs_channel`: an endpoint without a ChannelType is refused here (campaigns); a sender
    that picks the channel itself (a journey's custom activity, a direct send) passes False."""
    if row["opt_out"] == "ALL":
        return OPT_OUT
    if row["endpoint_status"] != "ACTIVE":
        return INACTIVE
    if needs_channel and not row["channel_type"]:
        return MISSING_CHANNEL
    if not row["address"]:
        return MISSING_ADDRESS
    return None


def reachable(rows: Sequence[Row]) -> tuple[list[Row], str | None]:
    """The endpoints of one recipient (a journey participant, a user) a message may go to, and,
    when there are none, why: MISSING_ADDRESS when some endpoint lacks only an address, else
    OPT_OUT when every endpoint opted out, else INACTIVE. The channel is not checked: the
    caller chose the rows by channel."""
    reasons = [unreachable(r, needs_channel=False) for r in rows]
    ok = [r for r, why in zip(rows, reasons, strict=True) if why is None]
    if ok or not rows:
        return ok, None
    if MISSING_ADDRESS in reasons:
        return ok, MISSING_ADDRESS
    return ok, OPT_OUT if all(why == OPT_OUT for why in reasons) else INACTIVE


def sending_channel(channel_type: str | None, custom_uri: str | None, custom_types: Collection[str] | None) -> str:
    """The channel a message goes on for an endpoint of `channel_type`: CUSTOM when a custom
    channel is configured and takes that endpoint type (`custom_types` None: every type), else
    the endpoint's own."""
    channel = channel_type or ""
    if custom_uri and (custom_types is None or channel in custom_types):
        return CUSTOM
    return channel
