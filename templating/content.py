"""One recipient's copy of a channel message: variables rendered, overrides applied.

Every provider goes through here so that the precedence rules are the same on every channel:
RawContent replaces the whole message; BodyOverride and TitleOverride replace the body and the
title (subject); substitutions layer per-recipient > channel message > DefaultMessage; the
template's DefaultSubstitutions fill what is still missing.
"""

from __future__ import annotations

from typing import Any

from templating.render import render, variables
from workflows.shared import Recipient

# Content keys that hold text to render, per role; the rest (numbers, flags, maps) pass as is.
BODY_KEYS = ("body", "text")
TITLE_KEYS = ("title", "subject")
HTML_KEYS = ("html",)
TEXT_KEYS = BODY_KEYS + TITLE_KEYS + ("url", "image_url", "image_icon_url", "small_image_icon_url", "media_url")


def context_of(content: dict[str, Any], r: Recipient) -> dict[str, Any]:
    return variables(r.endpoint, *content.get("substitutions", []), r.substitutions, defaults=content.get("defaults"))


def personalise(content: dict[str, Any], r: Recipient) -> dict[str, Any]:
    """`content` with its text rendered for `r`. `raw_content` is set (and wins) when the
    recipient carries RawContent."""
    ctx = context_of(content, r)
    out = {k: v for k, v in content.items() if k not in ("substitutions", "defaults")}
    if "BodyOverride" in r.overrides:
        for k in BODY_KEYS:
            out[k] = r.overrides["BodyOverride"]
        out.pop("html", None)
    if "TitleOverride" in r.overrides:
        for k in TITLE_KEYS:
            out[k] = r.overrides["TitleOverride"]
    for k in TEXT_KEYS:
        if isinstance(out.get(k), str):
            out[k] = render(out[k], ctx)
    for k in HTML_KEYS:
        if isinstance(out.get(k), str):
            out[k] = render(out[k], ctx, html=True)
    if isinstance(out.get("data"), dict):
        out["data"] = {k: render(v, ctx) if isinstance(v, str) else v for k, v in out["data"].items()}
    if "RawContent" in r.overrides:
        out["raw_content"] = r.overrides["RawContent"]
    elif isinstance(out.get("raw_content"), str):
        out["raw_content"] = render(out["raw_content"], ctx)
    return out
