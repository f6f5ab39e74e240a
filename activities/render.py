"""Message variables, rendered with Jinja2's sandbox.

Pinpoint writes variables in Handlebars form, `{{Attributes.City}}` or
`{{User.UserAttributes.Name.[0]}}`; Jinja2 reads the dotted form as it is, and `.[n]` is
rewritten to `[n]`. Attribute values are lists in Pinpoint; a bare list renders as its values
joined by ", " (one value renders as itself). A variable with no value renders as empty text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from openpoint.errors import BadRequest

_INDEX = re.compile(r"\.\[(\d+)\]")
_BRACKET_NAME = re.compile(r"\.\[([^\]\d][^\]]*)\]")


def _finalize(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else value


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    # ChainableUndefined: `{{User.UserAttributes.Missing}}` renders empty instead of failing.
    return ImmutableSandboxedEnvironment(
        undefined=ChainableUndefined, autoescape=autoescape, finalize=_finalize, keep_trailing_newline=True
    )


_ENVS = {False: _environment(False), True: _environment(True)}


def to_jinja(source: str) -> str:
    source = _INDEX.sub(r"[\1]", source)
    return _BRACKET_NAME.sub(lambda m: f"[{m.group(1)!r}]", source)


@lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Any:
    return _ENVS[html].from_string(to_jinja(source))


def check_template(source: str, field: str) -> None:
    """Refuse text that cannot parse, naming the line (used when content is written)."""
    try:
        _compile(source, False)
    except TemplateSyntaxError as e:
        raise BadRequest(f"Invalid value for {field}: line {e.lineno}: {e.message}.") from None


def variables(
    endpoint: dict[str, Any], *layers: dict[str, list[str]], defaults: dict[str, str] | None = None
) -> dict[str, Any]:
    """The variable context: the endpoint, overlaid by substitution maps, lowest first; a
    template's DefaultSubstitutions fill only the variables still without a value.

    A key may be dotted (`User.UserAttributes.FirstName`); it then names that path in the
    endpoint data.
    """
    ctx: dict[str, Any] = {k: v for k, v in endpoint.items()}
    ctx.setdefault("EndpointId", endpoint.get("Id"))
    for layer in layers:
        for key, values in layer.items():
            _put(ctx, key, values)
    for key, value in (defaults or {}).items():
        if _get(ctx, key) in (None, "", []):
            _put(ctx, key, value)
    return ctx


def _get(ctx: dict[str, Any], key: str) -> Any:
    node: Any = ctx
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _put(ctx: dict[str, Any], key: str, value: Any) -> None:
    node = ctx
    *parents, leaf = key.split(".")
    for part in parents:
        child = node.get(part)
        node[part] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node[leaf] = value


def render(source: str | None, ctx: dict[str, Any], *, html: bool = False) -> str | None:
    if source is None:
        return None
    if "{{" not in source and "{%" not in source:
        return source
    try:
        return str(_compile(source, html).render(ctx))
    except TemplateError:
        # Content is checked when written; text that still fails goes out as written rather
        # than failing the send.
        return source
