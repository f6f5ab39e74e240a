"""Message variables: Pinpoint's Handlebars templates, run in Jinja2's sandbox.

A template is parsed (templating/handlebars.py), written out as Jinja2 source
(templating/handlebars_jinja.py) and compiled once per text. Jinja2 syntax itself means
nothing when rendering (`{% if %}` is text, as in Pinpoint), but check_template refuses Jinja2
statements, which only text written for the Jinja2 renderer this one replaced would hold.

The sandbox is narrowed further: looking up `a.b` or `a.[0]` reads a dict key, a list item or
a list's `length`, never an attribute of a Python object, so no path reaches Python internals;
the only callables in reach are the helpers (templating/helpers.py). A render is also
bounded: `{{#each}}` takes at most 15 items, all loops together at most MAX_ITERATIONS, and the
output stops at MAX_OUTPUT characters.

Rendering never fails a send: a missing variable prints nothing, a helper that fails prints
nothing, and text that cannot parse (content is checked when it is written) goes out as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar
from functools import lru_cache
from itertools import islice
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from openpoint.errors import BadRequest
from templating.handlebars import parse
from templating.handlebars_jinja import ROOT, RUNTIME, translate
from templating.handlebars_nodes import HandlebarsError
from templating.helpers import HELPERS, text, truthy

MAX_EACH = 15  # Pinpoint's limit on the items `{{#each}}` goes through
MAX_ITERATIONS = 20_000  # loop turns in one render, all loops together
MAX_OUTPUT = 2_000_000  # characters one render produces


class _Exhausted(Exception):
    """The render's loop budget ran out."""


_log = logging.getLogger(__name__)
_TURNS_LEFT: ContextVar[list[int]] = ContextVar("turns_left")


def _clean(value: Any) -> Any:
    return None if isinstance(value, Undefined) else value


def _item(obj: Any, key: Any) -> Any:
    """`obj.key` for template data: a dict key, a list item, a list's or text's length."""
    obj = _clean(obj)
    if isinstance(obj, dict):
        return obj.get(str(key) if isinstance(key, int) else key)
    if isinstance(obj, list | tuple | str) and key == "length":
        return len(obj)
    if isinstance(obj, list | tuple):
        index = key if isinstance(key, int) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.isdigit():
            index = int(key)
        return obj[index] if index is not None and 0 <= index < len(obj) else None
    return None


class _Environment(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        return _item(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _item(obj, argument)


def _lookup(contexts: list[Any], parts: list[str | int]) -> Any:
    """A name inside each/with: the innermost context that has its first part, then the rest."""
    first, rest = parts[0], parts[1:]
    for context in contexts:
        if isinstance(context, dict) and (str(first) if isinstance(first, int) else first) in context:
            value = context[str(first) if isinstance(first, int) else first]
            for part in rest:
                value = _item(value, part)
            return value
    return None


def _turns(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any, int, bool, bool]]:
    """Loop rows (key, item, @index, @first, @last), charged to the render's budget."""
    left = _TURNS_LEFT.get([MAX_ITERATIONS])
    left[0] -= len(items)
    if left[0] < 0:
        raise _Exhausted
    last = len(items) - 1
    return [(key, item, i, i == 0, i == last) for i, (key, item) in enumerate(items)]


def _each(value: Any) -> list[tuple[Any, Any, int, bool, bool]]:
    value = _clean(value)
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        items = [(0, value)] if truthy(value) else []
    return _turns(list(islice(items, MAX_EACH)))


def _section(value: Any, current: Any) -> list[tuple[Any, Any, int, bool, bool]]:
    """`{{#Path}}…{{/Path}}`: once per item of a list, once with a value that is set (with
    `true`, the context stays), not at all otherwise."""
    value = _clean(value)
    if isinstance(value, list | tuple):
        return _each(value)
    if not truthy(value):
        return []
    return _turns([(None, current if value is True else value)])


def _safe(fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*(_clean(a) for a in args), **{k: _clean(v) for k, v in kwargs.items()})
        except Exception:  # a helper that cannot work on its input prints nothing
            return None

    return call


_RUNTIME: dict[str, Any] = {name: _safe(helper.fn) for name, helper in HELPERS.items()}
_RUNTIME |= {
    "each": _each,
    "section": _section,
    "lookup": _lookup,
    "truthy": lambda value: truthy(_clean(value)),
    "raw": lambda value: Markup(text(_clean(value))),
    "word": lambda value, word: word if _clean(value) is None else value,
}


# Handlebars escapes these in `{{x}}` (`{{{x}}}` is left alone); Jinja's autoescape stays on
# behind it for anything that would reach the output some other way.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;", "=": "&#x3D;"}
)


def _plain_output(value: Any) -> Any:
    return value if isinstance(value, Markup) else text(_clean(value))


def _html_output(value: Any) -> Any:
    return value if isinstance(value, Markup) else Markup(text(_clean(value)).translate(_ESCAPES))


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    finalize = _html_output if autoescape else _plain_output
    env = _Environment(autoescape=autoescape, finalize=finalize, keep_trailing_newline=True)
    env.globals.clear()  # range, dict, lipsum...: nothing a template should reach
    env.globals[RUNTIME] = _RUNTIME
    return env


_ENVS = {False: _environment(False), True: _environment(True)}


def to_jinja(source: str) -> str:
    """The Jinja2 source a template runs as; HandlebarsError if it cannot parse."""
    return translate(parse(source))


@lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Any:
    return _ENVS[html].from_string(to_jinja(source))


# A Jinja2 statement such as `{% if x %}`: Pinpoint would send it as text, but text written for
# the Jinja2 renderer this one replaced is better refused than sent with its tags showing.
_JINJA_STATEMENT = re.compile(r"\{%[-+]?\s*[A-Za-z_]\w*[^\n]*?%\}")


def check_template(source: str, field: str) -> None:
    """Refuse text that cannot parse, naming the line (used when content is written)."""
    statement = _JINJA_STATEMENT.search(source)
    if statement is not None:
        line = source.count("\n", 0, statement.start()) + 1
        reason = f"{statement.group(0)} is Jinja2 syntax; templates use Handlebars, such as {{{{#if x}}}}…{{{{/if}}}}"
        raise BadRequest(f"Invalid value for {field}: line {line}: {reason}.")
    try:
        _compile(source, False)
    except HandlebarsError as e:
        raise BadRequest(f"Invalid value for {field}: line {e.line}: {e.reason}.") from None
    except TemplateSyntaxError as e:  # the translator's output should always compile
        raise BadRequest(f"Invalid value for {field}: line {e.lineno}: {e.message}.") from None
    except (RecursionError, SyntaxError):  # Python's own nesting limits, kept out of reach by ours
        raise BadRequest(f"Invalid value for {field}: line 1: the template is nested too deeply.") from None


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
    """`source` with the variables of `ctx` (see `variables`) in place; `html` escapes them."""
    if source is None:
        return None
    if "{{" not in source:
        return source
    try:
        template = _compile(source, html)
    except (HandlebarsError, TemplateError, RecursionError, SyntaxError):
        return source
    data = {k: v for k, v in ctx.items() if not k.startswith(RUNTIME)}
    pieces: list[str] = []
    size = 0
    budget = _TURNS_LEFT.set([MAX_ITERATIONS])
    try:
        for piece in template.generate({**data, ROOT: data}):
            pieces.append(piece)
            size += len(piece)
            if size >= MAX_OUTPUT:
                break
    except _Exhausted:
        pass  # a template that loops without end goes out as far as it got
    except Exception:  # never fail a send over its text; what rendered goes out
        _log.exception("rendering a template failed")
    finally:
        _TURNS_LEFT.reset(budget)
    return "".join(pieces)[:MAX_OUTPUT]
