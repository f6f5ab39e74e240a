"""The campaign wizard's Review section: what a WriteCampaignRequest will do, in words (pure).

Read from the request the form builds, not from the fields, so it says what the API will get."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _content(t: Mapping[str, Any]) -> str:
    for member, ref in (t.get("TemplateConfiguration") or {}).items():
        version = f", version {ref.get('Version')}" if ref.get("Version") else ", its active version"
        return f"{member.replace('Template', '')} template {ref.get('Name') or '(none chosen)'}{version}"
    for member, message in (t.get("MessageConfiguration") or {}).items():
        first = message.get("Title") or message.get("Body") or message.get("Data") or ""
        return f"{member.replace('Message', '')} message: {first[:80]}" if first else f"{member} (empty)"
    return "no message yet"


def _when(s: Mapping[str, Any]) -> str:
    frequency, start = s.get("Frequency") or "ONCE", s.get("StartTime") or "(no start time)"
    at = "as soon as it is saved" if start == "IMMEDIATE" else f"from {start}"
    if frequency == "EVENT":
        kind = ((s.get("EventFilter") or {}).get("Dimensions") or {}).get("EventType") or {}
        events = ", ".join(kind.get("Values") or []) or "any event"
        text = f"When an endpoint's event arrives ({events}), {at}"
    elif frequency == "ONCE":
        text = "Once, " + ("now" if start == "IMMEDIATE" else f"at {start}")
    else:
        text = f"{frequency.capitalize()}, {at}"
    if s.get("EndTime"):
        text += f", until {s['EndTime']}"
    if s.get("IsLocalTime"):
        text += ", in each endpoint's local time"
    if s.get("Timezone"):
        text += f" (time zone {s['Timezone']})"
    return text


def review(request: Mapping[str, Any], segments: Mapping[str, str]) -> list[tuple[str, str]]:
    """What will be saved, in words (the Review section): read from the request itself, so it
    says what the API will get, not what the fields seemed to say."""
    s = request.get("Schedule") or {}
    segment = segments.get(request.get("SegmentId") or "", request.get("SegmentId") or "(none chosen)")
    version = request.get("SegmentVersion")
    out = [
        ("Name", request.get("Name") or "(no name)"),
        ("Segment", f"{segment}, " + (f"version {version}" if version else "its latest version")),
        ("Schedule", _when(s)),
    ]
    quiet = s.get("QuietTime") or {}
    if quiet:
        out.append(("Quiet time", f"{quiet.get('Start', '?')} to {quiet.get('End', '?')}"))
    limits = request.get("Limits") or {}
    out.append(("Limits", "; ".join(f"{k} {v}" for k, v in limits.items()) or "the project's"))
    additional = request.get("AdditionalTreatments") or []
    holdout = request.get("HoldoutPercent")
    sizes = [t.get("SizePercent") for t in additional]
    numbers = all(isinstance(n, int) for n in [*sizes, holdout or 0])
    rest = 100 - sum(n for n in [*sizes, holdout or 0] if isinstance(n, int)) if numbers else None
    share = f" ({rest}%)" if additional and rest is not None else ""
    out.append(("Holdout", f"{holdout}%" if holdout is not None else "none"))
    out.append((f"Default treatment{share}", _content(request)))
    for i, t in enumerate(additional, start=1):
        name = f": {t['TreatmentName']}" if t.get("TreatmentName") else ""
        size = t.get("SizePercent")
        share = f"{size}%" if size not in (None, "") else "no share given"
        out.append((f"Treatment {i}{name} ({share})", _content(t)))
    return out
