"""Campaign limits (PINPOINT.md §4.4 "Limits", §5 app settings `Limits`; the model's CampaignLimits
documentation).

`limits` is a campaign's CampaignLimits, `app_limits` the project's `Limits` from its settings.

Rules where Pinpoint is silent [impl]:
- Per member, the campaign's value wins when it is set; otherwise the project's applies
  (`effective_limits`). The console copies project defaults into new campaigns, so this is the
  same outcome for campaigns created there.
- A Daily or Total of 0, or none at all, means no cap (the model bounds them 0..100 and gives 0 no
  other meaning).
- Daily counts this campaign's messages to the endpoint in the 24 hours before the run; Total
  counts every time a run targeted the endpoint, sent or not (quiet time included), §0.8.
- MessagesPerSecond paces batch starts: a batch of n messages is followed by n / rate seconds.
- MaximumDuration counts from the run's scheduled start (per time-zone wave for local-time runs);
  delivery may start up to and including that instant.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

UNLIMITED = sys.maxsize  # what `remaining` says when no cap applies
_MEMBERS = ("Daily", "Total", "MessagesPerSecond", "MaximumDuration", "Session")


def effective_limits(limits: dict[str, Any] | None, app_limits: dict[str, Any] | None) -> dict[str, int]:
    """The CampaignLimits that govern a campaign: its own values over the project's defaults
    (§4.4 Limits: "app settings `Limits` gives the defaults"; §5)."""
    own, defaults = limits or {}, app_limits or {}
    merged = {name: own[name] if own.get(name) is not None else defaults.get(name) for name in _MEMBERS}
    return {name: int(value) for name, value in merged.items() if value is not None}


def _left(cap: int | None, used: int) -> int:
    return UNLIMITED if not cap else max(0, cap - used)


def remaining(
    limits: dict[str, Any] | None, app_limits: dict[str, Any] | None, *, sent_today: int, total_targeted: int
) -> int:
    """How many more messages this campaign may give one endpoint now (UNLIMITED when uncapped),
    given what it sent the endpoint in the last 24 hours and how often it has targeted it
    (§4.4 Limits `Daily`, `Total`; §0.8: Total counts targeting)."""
    effective = effective_limits(limits, app_limits)
    return min(_left(effective.get("Daily"), sent_today), _left(effective.get("Total"), total_targeted))


def may_target(
    limits: dict[str, Any] | None, app_limits: dict[str, Any] | None, *, sent_today: int, total_targeted: int
) -> bool:
    """Whether a run may target the endpoint at all (`remaining` above 0)."""
    return remaining(limits, app_limits, sent_today=sent_today, total_targeted=total_targeted) > 0


def batch_interval(messages_per_second: int | None, batch_size: int) -> float:
    """Seconds from one batch's start to the next so sending keeps to MessagesPerSecond (0 when
    there is no rate: as fast as the channel allows). §4.4 Limits `MessagesPerSecond`."""
    if batch_size < 0:
        raise ValueError("batch_size must not be negative.")
    if not messages_per_second:
        return 0.0
    if messages_per_second < 0:
        raise ValueError("messages_per_second must be positive.")
    return batch_size / messages_per_second


def delivery_deadline(limits: dict[str, Any] | None, scheduled_start: datetime) -> datetime | None:
    """The last instant a run may still attempt delivery, or None without a MaximumDuration
    (§4.4 Limits `MaximumDuration`: seconds after the scheduled start)."""
    duration = (limits or {}).get("MaximumDuration")
    return None if duration is None else scheduled_start + timedelta(seconds=duration)


def within_maximum_duration(limits: dict[str, Any] | None, scheduled_start: datetime, now: datetime) -> bool:
    """Whether a run that was scheduled for `scheduled_start` may still deliver at `now`. Pass the
    effective limits (campaign over project)."""
    deadline = delivery_deadline(limits, scheduled_start)
    return deadline is None or now <= deadline
