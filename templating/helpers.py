"""Pinpoint's message-template helpers as plain functions, and how values print.

Each helper takes the values its arguments resolved to (None for a variable with no value) and
its hash options as keyword arguments spelled as in Pinpoint (`includeZero`, `outputFormat`).
A helper that cannot work on what it was given raises; the renderer prints nothing in its place.

Pinpoint attributes are lists. Where a helper wants one value, a list stands for its values
joined by ", ", the way a bare list prints, so `{{upper Attributes.Name}}` and
`{{upper Attributes.Name.[0]}}` agree for one-valued attributes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from templating.dates import format_date, in_zone, parse_date, zone

MAX_WIDTH = 10_000  # the widest padding or abbreviation a helper makes
MAX_TEXT = 1_000_000  # the longest text one helper call may produce
_NUMBER = re.compile(r"\s*-?\d{1,60}(?:\.\d{1,60})?\s*")
_MATH = Context(prec=34, Emax=999, Emin=-999, traps=[InvalidOperation, DivisionByZero, Overflow])


def text(value: Any) -> str:
    """How a value prints: lists as their values joined by ", ", missing values and objects
    as nothing, booleans and whole numbers as JavaScript prints them."""
    if value is None or isinstance(value, dict):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value)
    if isinstance(value, int) and abs(value) >= 10**4000:
        return ""  # Python refuses to print integers this long
    return str(value)


def truthy(value: Any, include_zero: bool = False) -> bool:
    """Handlebars' test: missing, false, empty text, 0 and empty lists are false."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value == 0:
        return include_zero
    return bool(value)


def _number(value: Any) -> Decimal:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        number = Decimal(value.strip())
    else:
        raise ValueError("not a number")
    if not number.is_finite():
        raise ValueError("not a number")
    return number


def _maybe_number(value: Any) -> Decimal | None:
    try:
        return _number(value)
    except ValueError:
        return None


def _int(value: Any, ceiling: int = MAX_WIDTH) -> int:
    number = _number(value)
    if number != number.to_integral_value() or not 0 <= number <= ceiling:
        raise ValueError("not a whole number in range")
    return int(number)


def _decimal_text(d: Decimal) -> str:
    out = f"{d.normalize(_MATH):f}"
    return "0" if out in ("-0", "0") else out


# Conditionals. Inline they print `yes` or `no` (true or false by default); as a block or a
# sub-expression the same call decides which branch renders.


def _choose(result: bool, yes: Any, no: Any) -> Any:
    return yes if result else no


def _compare(a: Any, b: Any) -> int:
    """Numbers (or text that reads as one) compare as numbers, anything else as text."""
    x, y = _maybe_number(a), _maybe_number(b)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    if a is None or b is None:
        raise ValueError("nothing to compare")
    s, t = text(a), text(b)
    return (s > t) - (s < t)


def _equal(a: Any, b: Any) -> bool:
    x, y = _maybe_number(a), _maybe_number(b)
    return x == y if x is not None and y is not None else text(a) == text(b)


def if_(value: Any, *, includeZero: bool = False, yes: Any = True, no: Any = False) -> Any:
    return _choose(truthy(value, includeZero), yes, no)


def unless(value: Any, *, includeZero: bool = False, yes: Any = True, no: Any = False) -> Any:
    return _choose(not truthy(value, includeZero), yes, no)


def and_(*values: Any, yes: Any = True, no: Any = False) -> Any:
    return _choose(all(truthy(v) for v in values), yes, no)


def or_(*values: Any, yes: Any = True, no: Any = False) -> Any:
    return _choose(any(truthy(v) for v in values), yes, no)


def not_(value: Any, *, yes: Any = True, no: Any = False) -> Any:
    return _choose(not truthy(value), yes, no)


def _comparison(test: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def helper(a: Any, b: Any, *, yes: Any = True, no: Any = False) -> Any:
        return _choose(test(a, b), yes, no)

    return helper


# Strings.


def _pad(s: str, size: int, pad: Any, left: bool) -> str:
    fill = text(pad) or " "
    missing = max(0, size - len(s))
    padding = (fill * (missing // len(fill) + 1))[:missing]
    return padding + s if left else s + padding


def abbreviate(value: Any, width: Any) -> str:
    s, n = text(value), _int(width)
    if n < 4:
        raise ValueError("abbreviate keeps at least 4 characters")
    return s if len(s) <= n else s[: n - 3] + "..."


def capitalize(value: Any, *, fully: Any = False) -> str:
    s = text(value).lower() if truthy(fully) else text(value)
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), s)


def capitalize_first(value: Any) -> str:
    s = text(value)
    return s[:1].upper() + s[1:]


def center(value: Any, size: Any = None, *, pad: Any = " ") -> str:
    s, n = text(value), _int(size)
    left = (n - len(s)) // 2 + len(s)
    return _pad(_pad(s, left, pad, left=True), n, pad, left=False)


def ljust(value: Any, size: Any = None, *, pad: Any = " ") -> str:
    return _pad(text(value), _int(size), pad, left=False)


def rjust(value: Any, size: Any = None, *, pad: Any = " ") -> str:
    return _pad(text(value), _int(size), pad, left=True)


def cut(value: Any, strip: Any = " ") -> str:
    return text(value).replace(text(strip), "") if text(strip) else text(value)


def replace(value: Any, target: Any, replacement: Any) -> str:
    s, old, new = text(value), text(target), text(replacement)
    if not old:
        return s
    if len(s) + s.count(old) * (len(new) - len(old)) > MAX_TEXT:
        raise ValueError("replacement too long")
    return s.replace(old, new)


def join(value: Any, *rest: Any, prefix: Any = "", suffix: Any = "") -> str:
    """`{{join list ", "}}`: the separator is the last argument; without a list, the other
    arguments are joined."""
    if not rest:
        raise ValueError("join needs a separator")
    *others, separator = rest
    if not truthy(value):
        return ""
    items = list(value) if isinstance(value, list | tuple) else [value, *others]
    return text(prefix) + text(separator).join(text(v) for v in items) + text(suffix)


def inflect(count: Any, singular: Any, plural: Any, *, includeCount: Any = False) -> str:
    word = text(singular) if _number(count) == 1 else text(plural)
    return f"{text(count)} {word}" if truthy(includeCount) else word


def ordinalize(value: Any) -> str:
    number = _number(value)
    if number != number.to_integral_value():
        raise ValueError("not a whole number")
    n = int(number)
    suffix = "th" if abs(n) % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(abs(n) % 10, "th")
    return f"{n}{suffix}"


def slugify(value: Any) -> str:
    s = re.sub(r"[^\w\s-]", "", text(value).strip().lower())
    return re.sub(r"[-\s]+", "-", s).strip("-_")


def strip_tags(value: Any) -> str:
    return re.sub(r"<[^>]*>", "", text(value))


def substring(value: Any, start: Any, end: Any = None) -> str:
    s = text(value)
    return s[_int(start, MAX_TEXT) : None if end is None else _int(end, MAX_TEXT)]


def yesno(value: Any, *, yes: Any = "yes", no: Any = "no", maybe: Any = "maybe") -> Any:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if value is None or value == "" or value == []:
        return maybe
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0"):
        return no
    return yes if truthy(value) else no


def date_format(
    value: Any,
    style: Any = None,
    *,
    format: Any = None,
    inputFormat: Any = None,
    outputFormat: Any = None,
    tz: Any = None,
) -> str:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if value is None or value == "":
        raise ValueError("no date")
    pattern = text(outputFormat or style or format or "medium")
    when = parse_date(text(value), None if inputFormat is None else text(inputFormat))
    return format_date(in_zone(when, zone(None if tz is None else text(tz))), pattern)


def now(style: Any = None, *, format: Any = None, tz: Any = None) -> str:
    when = datetime.now(UTC)
    return format_date(in_zone(when, zone(None if tz is None else text(tz))), text(style or format or "medium"))


# Math and encoding. Arithmetic is decimal, so `{{multiply 5 2.3}}` is 11.5, not 11.499999999999998.


def _arithmetic(op: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Any, Any], str]:
    def helper(a: Any, b: Any) -> str:
        return _decimal_text(op(_number(a), _number(b)))

    return helper


def _rounding(mode: str) -> Callable[[Any], str]:
    def helper(value: Any) -> str:
        return _decimal_text(_number(value).to_integral_value(rounding=mode))

    return helper


def divide(a: Any, b: Any) -> str:
    quotient = _MATH.divide(_number(a), _number(b))
    return _decimal_text(quotient.quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP, context=_MATH))


def encode64(value: Any) -> str:
    return base64.b64encode(text(value).encode()).decode()


def decode64(value: Any) -> str:
    return base64.b64decode(text(value).strip(), validate=True).decode(errors="replace")


def _digest(name: str) -> Callable[[Any], str]:
    def helper(value: Any) -> str:
        return hashlib.new(name, text(value).encode()).hexdigest()

    return helper


def uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass(frozen=True)
class Helper:
    """A helper and what a template may pass it, checked when the template is written."""

    fn: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number
    options: frozenset[str] = frozenset()
    conditional: bool = False  # may open a block ({{#eq a b}}…{{else}}…{{/eq}})
    # Arguments (position or option name) where an unquoted word that names no variable is
    # taken as the word itself, as Pinpoint's examples write them: `tz=America/Los_Angeles`,
    # `{{inflect 3 apple apples}}`.
    words: frozenset[int | str] = frozenset()


def _h(fn: Callable[..., Any], lo: int, hi: int | None, *options: str, words: tuple[int | str, ...] = ()) -> Helper:
    return Helper(fn, lo, hi, frozenset(options), words=frozenset(words))


def _cond(fn: Callable[..., Any], lo: int, hi: int | None, *options: str) -> Helper:
    return Helper(fn, lo, hi, frozenset(("yes", "no", *options)), conditional=True)


HELPERS: dict[str, Helper] = {
    "if": _cond(if_, 1, 1, "includeZero"),
    "unless": _cond(unless, 1, 1, "includeZero"),
    "and": _cond(and_, 1, None),
    "or": _cond(or_, 1, None),
    "not": _cond(not_, 1, 1),
    "eq": _cond(_comparison(_equal), 2, 2),
    "neq": _cond(_comparison(lambda a, b: not _equal(a, b)), 2, 2),
    "gt": _cond(_comparison(lambda a, b: _compare(a, b) > 0), 2, 2),
    "gte": _cond(_comparison(lambda a, b: _compare(a, b) >= 0), 2, 2),
    "lt": _cond(_comparison(lambda a, b: _compare(a, b) < 0), 2, 2),
    "lte": _cond(_comparison(lambda a, b: _compare(a, b) <= 0), 2, 2),
    "abbreviate": _h(abbreviate, 2, 2),
    "capitalize": _h(capitalize, 1, 1, "fully"),
    "capitalizeFirst": _h(capitalize_first, 1, 1),
    "center": _h(center, 1, 2, "size", "pad"),
    "cut": _h(cut, 1, 2),
    "dateFormat": _h(date_format, 1, 2, "format", "inputFormat", "outputFormat", "tz", words=("tz",)),
    "inflect": _h(inflect, 3, 3, "includeCount", words=(1, 2)),
    "join": _h(join, 2, None, "prefix", "suffix"),
    "ljust": _h(ljust, 1, 2, "size", "pad"),
    "lower": _h(lambda v: text(v).lower(), 1, 1),
    "now": _h(now, 0, 1, "format", "tz", words=("tz",)),
    "ordinalize": _h(ordinalize, 1, 1),
    "replace": _h(replace, 3, 3),
    "rjust": _h(rjust, 1, 2, "size", "pad"),
    "slugify": _h(slugify, 1, 1),
    "stripTags": _h(strip_tags, 1, 1),
    "substring": _h(substring, 2, 3),
    "upper": _h(lambda v: text(v).upper(), 1, 1),
    "yesno": _h(yesno, 1, 1, "yes", "no", "maybe"),
    "add": _h(_arithmetic(lambda a, b: _MATH.add(a, b)), 2, 2),
    "subtract": _h(_arithmetic(lambda a, b: _MATH.subtract(a, b)), 2, 2),
    "multiply": _h(_arithmetic(lambda a, b: _MATH.multiply(a, b)), 2, 2),
    "modulo": _h(_arithmetic(lambda a, b: _MATH.remainder(a, b)), 2, 2),
    "divide": _h(divide, 2, 2),
    "ceiling": _h(_rounding(ROUND_CEILING), 1, 1),
    "floor": _h(_rounding(ROUND_FLOOR), 1, 1),
    "round": _h(_rounding(ROUND_HALF_UP), 1, 1),
    "encode64": _h(encode64, 1, 1),
    "decode64": _h(decode64, 1, 1),
    "md5": _h(_digest("md5"), 1, 1),
    "sha256": _h(_digest("sha256"), 1, 1),
    "sha512": _h(_digest("sha512"), 1, 1),
    "uuid": _h(uuid, 0, 0),
}
