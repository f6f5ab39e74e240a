"""Checks for the settings shared by projects, campaigns and journeys: quiet time, limits, hooks."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from openpoint.errors import BadRequest
from rules.lambdas import check_function_name

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# CampaignLimits bounds from the model's documentation.
_CAMPAIGN_LIMITS = {
    "Daily": (0, 100),
    "Total": (0, 100),
    "Session": (0, 100),
    "MessagesPerSecond": (1, 20_000),
    "MaximumDuration": (60, 86_400 * 366),
}


def check_quiet_time(qt: dict[str, Any], field: str) -> None:
    for part in ("Start", "End"):
        value = qt.get(part)
        if value is not None and not _HHMM.match(value):
            raise BadRequest(f"Invalid value for {field}.{part}: '{value}' is not HH:MM (24-hour).")
    if ("Start" in qt) != ("End" in qt):
        raise BadRequest(f"Invalid value for {field}: Start and End go together.")


def check_campaign_limits(limits: dict[str, Any], field: str) -> None:
    for name, value in limits.items():
        low, high = _CAMPAIGN_LIMITS.get(name, (0, 2**31 - 1))
        if not low <= value <= high:
            raise BadRequest(f"Invalid value for {field}.{name}: must be between {low} and {high}.")


def check_journey_limits(limits: dict[str, Any], field: str) -> None:
    for name in ("DailyCap", "TotalCap"):
        if limits.get(name, 0) < 0:
            raise BadRequest(f"Invalid value for {field}.{name}: must not be negative.")
    cap = limits.get("TimeframeCap")
    if cap is not None:
        for name in ("Cap", "Days"):
            if cap.get(name, 0) < 0:
                raise BadRequest(f"Invalid value for {field}.TimeframeCap.{name}: must not be negative.")


def check_hook(hook: dict[str, Any], field: str) -> None:
    """A CampaignHook calls a web URL or a Lambda function (LambdaFunctionName, a name or ARN)."""
    url = hook.get("WebUrl")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise BadRequest(f"Invalid value for {field}.WebUrl: '{url}' is not an http(s) URL.")
    if hook.get("LambdaFunctionName") is not None:
        check_function_name(hook["LambdaFunctionName"], f"{field}.LambdaFunctionName")


def effective_hook(campaign_hook: dict[str, Any] | None, app_hook: dict[str, Any] | None) -> tuple[str, str] | None:
    """(target, mode) of the hook a campaign runs with: its own when it names one, else the
    project's default (CampaignHook in the application settings). The target is the Lambda
    function when the hook names one, else the WebUrl; the mode FILTER unless DELIVERY."""
    for hook in (campaign_hook or {}, app_hook or {}):
        target = hook.get("LambdaFunctionName") or hook.get("WebUrl")
        if target:
            return str(target), "DELIVERY" if hook.get("Mode") == "DELIVERY" else "FILTER"
    return None
