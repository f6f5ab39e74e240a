"""The in-app template editor's form as plain functions: form fields ⇄ InAppTemplateRequest, an
API error's member path ⇄ the field it names, and the message card the preview draws.

Each item ("modal") of the message is a flat set of fields named `c{i}.{key}` (`c0.header.text`,
`c1.primary.android.link`); a member group (HeaderConfig, PrimaryBtn.DefaultConfig, ...) is sent
only when one of its typed fields is filled, so an untouched item part is left out as boto3
leaves it. Values are sent as typed: CreateInAppTemplate's own checks (botocore's model, then
rules.templates.check_in_app) refuse them, and the page shows that error by the field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rules.templates import MAX_IN_APP_ITEMS, is_colour
from wire.model import shape

_REQUEST = shape("InAppTemplateRequest")
_ITEM = _REQUEST.members["Content"].member
LAYOUTS: list[str] = list(_REQUEST.members["Layout"].enum)
ALIGNMENTS: list[str] = list(_ITEM.members["HeaderConfig"].members["Alignment"].enum)
ACTIONS: list[str] = list(_ITEM.members["PrimaryBtn"].members["Android"].members["ButtonAction"].enum)
LAYOUT_LABELS = {
    "BOTTOM_BANNER": "Bottom banner",
    "TOP_BANNER": "Top banner",
    "OVERLAYS": "Overlay (full screen)",
    "MOBILE_FEED": "Mobile feed (a window in front of the page)",
    "MIDDLE_BANNER": "Middle banner",
    "CAROUSEL": "Carousel (up to 5 items)",
}
MAX_RADIUS = 40  # px the preview draws a button's corner with at most
_INTEGER = re.compile(r"-?\d{1,9}")


@dataclass(frozen=True)
class Member:
    key: str  # the form field's name within an item: c{i}.{key}
    path: tuple[str, ...]  # the member within an InAppMessageContent
    label: str
    kind: str = "text"  # text, textarea, colour, align, action, number
    counts: bool = True  # a value in it alone sends its group (selects with a default do not)
    section: str = "main"  # main, primary, secondary: where the editor shows it


def _button(prefix: str, member: str, name: str) -> list[Member]:
    def m(key: str, path: tuple[str, ...], label: str, kind: str = "text", counts: bool = True) -> Member:
        return Member(f"{prefix}.{key}", (member, *path), label, kind, counts, section=prefix)

    out = [
        m("text", ("DefaultConfig", "Text"), f"{name} button text"),
        m("action", ("DefaultConfig", "ButtonAction"), "Action", "action", False),
        m("link", ("DefaultConfig", "Link"), "Link"),
        m("bg", ("DefaultConfig", "BackgroundColor"), "Background colour", "colour"),
        m("color", ("DefaultConfig", "TextColor"), "Text colour", "colour"),
        m("radius", ("DefaultConfig", "BorderRadius"), "Corner radius (px)", "number"),
    ]
    for platform, label in (("Android", "Android"), ("IOS", "iOS"), ("Web", "Web")):
        low = platform.lower()
        out += [
            m(f"{low}.action", (platform, "ButtonAction"), f"{label} action", "action"),
            m(f"{low}.link", (platform, "Link"), f"{label} link"),
        ]
    return out


ITEM_MEMBERS: list[Member] = [
    Member("header.text", ("HeaderConfig", "Header"), "Header"),
    Member("header.align", ("HeaderConfig", "Alignment"), "Header alignment", "align", False),
    Member("header.color", ("HeaderConfig", "TextColor"), "Header colour", "colour"),
    Member("body.text", ("BodyConfig", "Body"), "Body", "textarea"),
    Member("body.align", ("BodyConfig", "Alignment"), "Body alignment", "align", False),
    Member("body.color", ("BodyConfig", "TextColor"), "Body colour", "colour"),
    Member("image", ("ImageUrl",), "Image URL"),
    Member("bg", ("BackgroundColor",), "Background colour", "colour"),
    *_button("primary", "PrimaryBtn", "Primary"),
    *_button("secondary", "SecondaryBtn", "Secondary"),
]
_BY_PATH = {m.path: m for m in ITEM_MEMBERS}
COMMON = ("TemplateDescription", "CustomConfig", "tags")


def item_count(form: Any) -> int:
    """How many items the form holds (its `items` field, kept within 1..MAX_IN_APP_ITEMS)."""
    raw = str(form.get("items", "1"))
    return max(1, min(MAX_IN_APP_ITEMS, int(raw))) if raw.isdigit() else 1


def _pairs(raw: str, field: str) -> tuple[dict[str, str], str | None]:
    """`key=value` lines (CustomConfig, tags) as a map, or the line that is not one."""
    out: dict[str, str] = {}
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return out, f"Line {n} of {field} is not key=value."
        out[key.strip()] = value.strip()
    return out, None


def request_fields(form: Any, *, with_tags: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The InAppTemplateRequest the form stands for, and the fields the form itself could not
    read (a CustomConfig or tags line that is not key=value)."""
    fields: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if layout := str(form.get("Layout", "")):
        fields["Layout"] = layout
    if description := str(form.get("TemplateDescription", "")).strip():
        fields["TemplateDescription"] = description
    for name in ("CustomConfig", "tags") if with_tags else ("CustomConfig",):
        pairs, problem = _pairs(str(form.get(name, "")), name)
        if problem:
            errors[name] = problem
        elif pairs:
            fields[name] = pairs
    content = [_item(form, i) for i in range(item_count(form))]
    if any(content):
        fields["Content"] = content
    return fields, errors


def _item(form: Any, i: int) -> dict[str, Any]:
    values = {m.path: str(form.get(f"c{i}.{m.key}", "")).replace("\r\n", "\n").strip() for m in ITEM_MEMBERS}
    sent_groups = {m.path[:-1] for m in ITEM_MEMBERS if m.counts and values[m.path]}
    item: dict[str, Any] = {}
    for m in ITEM_MEMBERS:
        value = values[m.path]
        if not value or m.path[:-1] not in sent_groups:
            continue
        node = item
        for part in m.path[:-1]:
            node = node.setdefault(part, {})
        # A corner radius that is a number is sent as one; anything else as typed, for the
        # model's check to refuse by its member path.
        node[m.path[-1]] = int(value) if m.kind == "number" and _INTEGER.fullmatch(value) else value
    return item


def form_values(content: dict[str, Any]) -> dict[str, str]:
    """The form's fields for a stored in-app template version (its content)."""
    values: dict[str, str] = {
        "Layout": str(content.get("Layout") or ""),
        "TemplateDescription": str(content.get("TemplateDescription") or ""),
        "CustomConfig": "\n".join(f"{k}={v}" for k, v in (content.get("CustomConfig") or {}).items()),
    }
    items = content.get("Content") or [{}]
    values["items"] = str(max(1, min(MAX_IN_APP_ITEMS, len(items))))
    for i, item in enumerate(items[:MAX_IN_APP_ITEMS]):
        for m in ITEM_MEMBERS:
            node: Any = item
            for part in m.path:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                values[f"c{i}.{m.key}"] = str(node)
    return values


_ITEM_PATH = re.compile(r"\.Content\[(\d+)\]((?:\.\w+)*)")


def field_of(message: str) -> str:
    """The form field an API error is about, by the member path it names (a group's missing
    member: the group's first field, as `...HeaderConfig.TextColor` names the colour)."""
    found = _ITEM_PATH.search(message)
    if found:
        i, path = int(found.group(1)), tuple(p for p in found.group(2).split(".") if p)
        for length in range(len(path), 0, -1):
            member = _BY_PATH.get(path[:length]) or next(
                (m for m in ITEM_MEMBERS if m.path[:length] == path[:length]), None
            )
            if member is not None:
                return f"c{i}.{member.key}"
        return f"c{i}"
    for name in ("Layout", "TemplateDescription", "CustomConfig", "tags", "Content"):
        if re.search(rf"\.{name}\b", message):
            return "items" if name == "Content" else name
    return "name" if "template-name" in message else "form"


def colour(value: Any) -> str | None:
    """A colour the preview may draw: a hex one, else none (the card's default)."""
    return value if is_colour(value) else None


def card(content: dict[str, Any]) -> dict[str, Any]:
    """What the preview draws: the layout and, per item, its text (escaped by the template),
    alignments, hex colours only, the image's address (shown as text: the console loads no
    outside image) and its buttons."""
    layout = content.get("Layout") if content.get("Layout") in LAYOUTS else "BOTTOM_BANNER"
    items = content.get("Content") or []
    if layout != "CAROUSEL":
        items = items[:1]
    return {"layout": layout, "items": [_card_item(item) for item in items[:MAX_IN_APP_ITEMS]]}


def _card_item(item: dict[str, Any]) -> dict[str, Any]:
    header, body = item.get("HeaderConfig") or {}, item.get("BodyConfig") or {}
    buttons = []
    for member in ("PrimaryBtn", "SecondaryBtn"):
        config = (item.get(member) or {}).get("DefaultConfig") or {}
        if config.get("Text"):
            radius = config.get("BorderRadius")
            buttons.append(
                {
                    "text": config["Text"],
                    "action": config.get("ButtonAction") or "",
                    "bg": colour(config.get("BackgroundColor")),
                    "color": colour(config.get("TextColor")),
                    "radius": min(radius, MAX_RADIUS) if isinstance(radius, int) and radius >= 0 else None,
                    "primary": member == "PrimaryBtn",
                }
            )
    return {
        "header": header.get("Header") or "",
        "header_align": (header.get("Alignment") or "LEFT").lower(),
        "header_color": colour(header.get("TextColor")),
        "body": body.get("Body") or "",
        "body_align": (body.get("Alignment") or "LEFT").lower(),
        "body_color": colour(body.get("TextColor")),
        "image": item.get("ImageUrl") or "",
        "bg": colour(item.get("BackgroundColor")),
        "buttons": buttons,
    }
