"""Message templates as plain rules: names, types, sizes, default substitutions and versions."""

from __future__ import annotations

import json
import re
from typing import Any

from openpoint.errors import BadRequest
from rules.bounds import shown, version_number

# The CRUD paths spell the type in lower case, the versions and active-version paths in upper
# case; either spelling is accepted everywhere.
TYPES = ("EMAIL", "SMS", "PUSH", "VOICE", "INAPP")
MAX_VERSIONS = 5_000
MAX_TEMPLATES = 20_000
LATEST = "latest"  # UpdateTemplateActiveVersion's word for the newest existing version

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
PUSH_PLATFORMS = ("ADM", "APNS", "Baidu", "Default", "GCM")
# The push members that are rendered per recipient (Default has no RawContent).
PUSH_RENDERED = ("Title", "Body", "Url", "RawContent")
# What each type's characters are counted over, and the most it may hold.
_PARTS: dict[str, tuple[tuple[str, ...], int]] = {
    "EMAIL": (("Subject", "HtmlPart", "TextPart"), 600_000),
    "SMS": (("Body",), 1_600),
    "VOICE": (("Body",), 10_000),
    "INAPP": (("Content", "CustomConfig", "Layout"), 200_000),
}
PUSH_LIMIT, ADM_LIMIT = 4_000, 6_000
# An in-app message holds up to 5 items ("modals"): a carousel's pages, one for other layouts.
MAX_IN_APP_ITEMS = 5
# Colours are hex, as Pinpoint's console writes them and the SDKs parse them: #RGB or #RRGGBB.
_COLOUR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
# The colour members of one in-app item, by their path within it.
IN_APP_COLOURS = (
    ("BackgroundColor",),
    ("HeaderConfig", "TextColor"),
    ("BodyConfig", "TextColor"),
    ("PrimaryBtn", "DefaultConfig", "BackgroundColor"),
    ("PrimaryBtn", "DefaultConfig", "TextColor"),
    ("SecondaryBtn", "DefaultConfig", "BackgroundColor"),
    ("SecondaryBtn", "DefaultConfig", "TextColor"),
)


def template_type(raw: str, field: str = "template-type") -> str:
    upper = raw.upper()
    if upper not in TYPES:
        raise BadRequest(f"Invalid value for {field}: '{raw}' is not one of {', '.join(TYPES)}.")
    return upper


def check_name(name: str, field: str = "template-name") -> None:
    if not _NAME.fullmatch(name):
        raise BadRequest(
            f"Invalid value for {field}: a template name starts with a letter or digit and has at most "
            "128 letters, digits, underscores and hyphens."
        )


def _characters(value: Any) -> int:
    """Characters of every string inside a member (in-app content is nested)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(k) + _characters(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_characters(v) for v in value)
    return 0


def _check_size(members: dict[str, Any], names: tuple[str, ...], limit: int, path: str, what: str) -> None:
    sizes = {name: _characters(members.get(name)) for name in names}
    total = sum(sizes.values())
    if total > limit:
        largest = max(sizes, key=lambda n: sizes[n])
        raise BadRequest(
            f"Invalid value for {path}.{largest}: {what} holds {total:,} characters; the limit is {limit:,}."
        )


def check_size(ttype: str, request: dict[str, Any], field: str) -> None:
    """Pinpoint's per-type quotas; the error names the largest part of what is too big."""
    if ttype == "PUSH":
        for platform in PUSH_PLATFORMS:
            part = request.get(platform) or {}
            limit = ADM_LIMIT if platform == "ADM" else PUSH_LIMIT
            _check_size(part, tuple(part), limit, f"{field}.{platform}", f"the {platform} part")
        return
    names, limit = _PARTS[ttype]
    _check_size(request, names, limit, field, f"the {ttype.lower()} template")


def is_colour(value: Any) -> bool:
    return isinstance(value, str) and _COLOUR.fullmatch(value) is not None


def _member(item: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = item
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    return node


def check_in_app(request: dict[str, Any], field: str) -> None:
    """An InAppTemplateRequest's items: at most MAX_IN_APP_ITEMS, colours in hex, button corners
    not negative (the SDKs draw what the template says, so a colour they cannot parse would
    fail on the device, not here)."""
    items = request.get("Content") or []
    if len(items) > MAX_IN_APP_ITEMS:
        raise BadRequest(
            f"Invalid value for {field}.Content: an in-app message holds at most {MAX_IN_APP_ITEMS} items "
            f"(a carousel's pages); this one has {len(items)}."
        )
    for i, item in enumerate(items):
        for path in IN_APP_COLOURS:
            value = _member(item, path)
            if value is not None and not is_colour(value):
                raise BadRequest(
                    f"Invalid value for {field}.Content[{i}].{'.'.join(path)}: '{shown(str(value))}' is not a "
                    "colour; write it in hex as #RRGGBB or #RGB."
                )
        for button in ("PrimaryBtn", "SecondaryBtn"):
            radius = _member(item, (button, "DefaultConfig", "BorderRadius"))
            if isinstance(radius, int) and radius < 0:
                raise BadRequest(
                    f"Invalid value for {field}.Content[{i}].{button}.DefaultConfig.BorderRadius: {radius} is negative."
                )


def rendered_fields(ttype: str, request: dict[str, Any], field: str) -> list[tuple[str, str]]:
    """The (text, field name) pairs rendered per recipient, for syntax checks. In-app templates
    support no variables."""
    if ttype == "PUSH":
        return [
            (part[name], f"{field}.{platform}.{name}")
            for platform in PUSH_PLATFORMS
            for part in [request.get(platform) or {}]
            for name in PUSH_RENDERED
            if part.get(name)
        ]
    if ttype == "INAPP":
        return []
    return [(request[name], f"{field}.{name}") for name in _PARTS[ttype][0] if request.get(name)]


def parse_substitutions(raw: str | None, field: str) -> dict[str, str]:
    """DefaultSubstitutions: a JSON object sent as a string. Values are the text a variable
    falls back to, so they must be scalars."""
    if raw is None or not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise BadRequest(f"Invalid value for {field}: it must be a JSON object encoded as a string.") from None
    if not isinstance(parsed, dict):
        raise BadRequest(f"Invalid value for {field}: it must be a JSON object encoded as a string.")
    out: dict[str, str] = {}
    for key, value in parsed.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            raise BadRequest(f"Invalid value for {field}.{key}: a default is a string, number or boolean.")
    return out


def parse_version(raw: str, field: str = "version") -> int:
    """Version identifiers are decimal strings starting at "1"."""
    number = version_number(raw)
    if number is None:
        raise BadRequest(f"Invalid value for {field}: '{shown(raw)}' is not a template version.")
    return number


def update_target(
    *, create_new_version: bool, version: int | None, latest_existing: int, last_assigned: int, count: int
) -> tuple[int, bool]:
    """The version an update writes and whether it is new: a new version takes the next number
    never used; otherwise the latest existing version is overwritten, and a `version` sent with
    it must name that one (so two editors cannot silently overwrite each other)."""
    if create_new_version:
        if version is not None:
            raise BadRequest("Invalid value for version: leave it out when create-new-version is true.")
        if count >= MAX_VERSIONS:
            raise BadRequest(
                f"Invalid value for create-new-version: a template holds at most {MAX_VERSIONS:,} versions."
            )
        return last_assigned + 1, True
    if version is not None and version != latest_existing:
        raise BadRequest(
            f"Invalid value for version: {version} is not the latest version ({latest_existing}) of the template."
        )
    return latest_existing, False


def check_version_delete(version: int, active: int) -> None:
    # [impl] Pinpoint documents no behaviour here; refusing keeps "GET without version returns the
    # active version" true for as long as the template exists.
    if version == active:
        raise BadRequest(
            f"Invalid value for version: {version} is the active version; make another version active first."
        )
