"""Instants as the journey code meets them (datetimes from the store, ISO strings from the
workflows) and an endpoint's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rules.instants import parse_instant
from rules.timezones import estimate_timezone


def instant(value: Any) -> datetime:
    """A stored datetime or an ISO-8601 string as an aware UTC datetime (naive: UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_instant(str(value))
    assert parsed is not None, value
    return parsed.astimezone(UTC)


def endpoint_zone(row: dict[str, Any], definition: dict[str, Any]) -> str | None:
    """The endpoint's time zone, estimated when it has none and the journey allows it."""
    endpoint = {
        "ChannelType": row.get("channel_type"),
        "Address": row.get("address"),
        "Demographic": row.get("demographic") or {},
        "Location": row.get("location") or {},
    }
    return estimate_timezone(endpoint, definition.get("TimezoneEstimationMethods") or [])
