"""Decoding requests against the botocore model.

botocore validates nothing beyond required members and JSON types on the client, and other
SDKs (or curl) validate nothing at all, so the gateway checks every payload against the model:
types, required members and enums, naming the member path in the BadRequest it raises.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.model import Shape

from openpoint.errors import BadRequest
from rules import bounds
from rules.instants import read_iso


class _Invalid(Exception):
    """Raised deep inside a value; each enclosing level adds its segment of the member path on
    the way out, so the path is only built when something is wrong."""

    def __init__(self, message: str) -> None:  # message has one {path} placeholder
        self.message = message
        self.segments: list[str] = []


def _kind(value: Any) -> str:
    got = type(value).__name__ if value is not None else "null"
    return {"dict": "object", "list": "array", "str": "string", "bool": "boolean"}.get(got, got)


def _type_error(expected: str, value: Any) -> _Invalid:
    return _Invalid(f"Invalid value for {{path}}: expected {expected}, got {_kind(value)}.")


Check = Callable[[Any], Any]


def validate(value: Any, shape: Shape, path: str) -> Any:
    """Check `value` (decoded JSON) against `shape`; returns it with nulls dropped. A problem is
    a BadRequest naming the member path, e.g. `EndpointRequest.Attributes.color[0]`."""
    try:
        return _checker(shape)(value)
    except _Invalid as e:
        full = path + "".join(reversed(e.segments))
        raise BadRequest(e.message.replace("{path}", full)) from None


_CHECKERS: dict[str, Check] = {}


def _checker(shape: Shape) -> Check:
    """A validator compiled once per shape name: PutEvents checks thousands of members per
    second, and botocore's Shape properties are too slow to consult for each of them."""
    found = _CHECKERS.get(shape.name)
    if found is None:
        # A recursive shape meets itself while being built: it gets a forwarder to the result.
        slot: list[Check] = []
        _CHECKERS[shape.name] = lambda value: slot[0](value)
        found = _build(shape)
        slot.append(found)
        _CHECKERS[shape.name] = found
    return found


def _build(shape: Shape) -> Check:
    t = shape.type_name
    if t == "structure":
        members = {name: _member_checker(name, m) for name, m in shape.members.items()}
        required = [n for n in shape.required_members if "location" not in shape.members[n].serialization]

        def check_structure(value: Any) -> Any:
            if type(value) is not dict:
                raise _type_error("an object", value)
            # Copy on write: a valid payload comes back as the very same object.
            out = value
            for name, item in value.items():
                check = members.get(name)
                if check is None or item is None:
                    # Unknown members are ignored, as AWS services do; nulls mean absent.
                    if out is value:
                        out = {k: v for k, v in value.items() if k in members and v is not None}
                    continue
                try:
                    checked = check(item)
                except _Invalid as e:
                    e.segments.append(f".{name}")
                    raise
                if checked is not item:
                    if out is value:
                        out = {k: v for k, v in value.items() if k in members and v is not None}
                    out[name] = checked
            for name in required:
                if name not in out:
                    raise _Invalid(f"Missing required member {{path}}.{name}.")
            return out

        return check_structure
    if t == "list":
        item_check = _checker(shape.member)

        def check_list(value: Any) -> Any:
            if type(value) is not list:
                raise _type_error("an array", value)
            if item_check is _check_plain_string and all(type(v) is str and "\x00" not in v for v in value):
                return value
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(item_check(v))
                except _Invalid as e:
                    e.segments.append(f"[{i}]")
                    raise
            return out

        return check_list
    if t == "map":
        value_check = _checker(shape.value)

        def check_map(value: Any) -> Any:
            if type(value) is not dict:
                raise _type_error("an object", value)
            for k in value:
                _check_key(k)
            if value_check is _check_plain_string and all(type(v) is str and "\x00" not in v for v in value.values()):
                return value
            out = {}
            for k, v in value.items():
                if v is None:
                    continue
                try:
                    out[k] = value_check(v)
                except _Invalid as e:
                    e.segments.append(f".{k}")
                    raise
            return out

        return check_map
    if t == "string":
        if not shape.enum:
            return _check_plain_string
        enum = frozenset(shape.enum)
        listed = ", ".join(shape.enum)

        def check_string(value: Any) -> Any:
            if type(value) is not str:
                raise _type_error("a string", value)
            if value not in enum:
                raise _Invalid(f"Invalid value for {{path}}: '{value}' is not one of {listed}.")
            return value

        return check_string
    return {
        "integer": _check_integer,
        "long": _check_long,
        "double": _check_number,
        "float": _check_number,
        "boolean": _check_boolean,
        "timestamp": _check_timestamp,
        "blob": _check_blob,
    }.get(t, lambda value: value)


def _member_checker(name: str, shape: Shape) -> Check:
    """The member's checker, bounded in length when its strings are identifiers (rules/bounds)."""
    check = _checker(shape)
    if check is not _check_plain_string or not bounds.is_identifier_member(name):
        return check
    return _check_identifier


def _check_key(key: str) -> None:
    problem = bounds.text_problem(key, bounds.MAX_IDENTIFIER)
    if problem:
        raise _Invalid(f"Invalid value for {{path}}: the key '{bounds.shown(key)}' {_as_clause(problem)}.")


def _as_clause(problem: str) -> str:
    # "at most 256 characters" reads as a sentence after "is"; the NUL text already has a verb.
    return problem if problem.startswith("contains") else "is " + problem


def _check_plain_string(value: Any) -> Any:
    if type(value) is not str:
        raise _type_error("a string", value)
    if "\x00" in value:
        raise _Invalid("Invalid value for {path}: contains a NUL character (U+0000).")
    return value


def _check_identifier(value: Any) -> Any:
    _check_plain_string(value)
    problem = bounds.text_problem(value, bounds.MAX_IDENTIFIER)
    if problem:
        raise _Invalid(f"Invalid value for {{path}}: {problem}.")
    return value


def _int_checker(type_name: str) -> Check:
    def check_integer(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                raise _type_error("an integer", value)
            value = int(value)
        problem = bounds.integer_problem(value, type_name)
        if problem:
            raise _Invalid(f"Invalid value for {{path}}: {problem}.")
        return value

    return check_integer


_check_integer = _int_checker("integer")
_check_long = _int_checker("long")


def _check_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error("a number", value)
    if isinstance(value, int) and abs(value) > bounds.MAX_NUMBER:
        raise _Invalid(f"Invalid value for {{path}}: {bounds.number_problem(float('inf'))}.")
    if not math.isfinite(value) or bounds.number_problem(float(value)):
        raise _Invalid(f"Invalid value for {{path}}: {bounds.number_problem(float('inf'))}.")
    return float(value)


def _check_boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _type_error("a boolean", value)
    return value


def _check_timestamp(value: Any) -> Any:
    try:
        return parse_timestamp(value, "{path}")
    except BadRequest as e:
        raise _Invalid(e.message) from None


def _check_blob(value: Any) -> Any:
    if not isinstance(value, str):
        raise _type_error("base64 text", value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid("Invalid value for {path}: not valid base64.") from None


def parse_timestamp(value: Any, path: str) -> datetime:
    """ISO-8601 text or epoch seconds, as botocore and the CLI send them, within rules/bounds'
    range (day arithmetic near year 1 or 9999 overflows)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = bounds.epoch_instant(float(value))
        if found is None:
            raise BadRequest(f"Invalid value for {path}: {bounds.instant_problem(bounds.LATEST)}.")
        return found
    if isinstance(value, str):
        try:
            dt = read_iso(value)
        except ValueError:
            shown = bounds.shown(value)
            raise BadRequest(f"Invalid value for {path}: '{shown}' is not an ISO-8601 date-time.") from None
        problem = bounds.instant_problem(dt)
        if problem:
            raise BadRequest(f"Invalid value for {path}: {problem}.")
        return dt
    raise BadRequest(f"Invalid value for {path}: expected an ISO-8601 date-time, got {_kind(value)}.")


def decode_body(raw: bytes, shape: Shape | None, member: str | None) -> dict[str, Any]:
    if shape is None or member is None:
        return {}
    if not raw.strip():
        value: Any = {}
    else:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"The request body is not valid JSON: {e.msg}.") from None
    result = validate(value, shape, member)
    assert isinstance(result, dict)
    return result


def check_label(value: str, wire: str) -> str:
    """A path label (an id or name in the URL), bounded like identifiers in bodies."""
    problem = bounds.text_problem(value, bounds.label_limit(wire))
    if problem:
        raise BadRequest(f"Invalid value for {wire}: {problem}.")
    return value


def decode_query(value: list[str], shape: Shape, wire: str) -> Any:
    t = shape.type_name
    if t == "list":
        return [decode_query([v], shape.member, wire) for v in value]
    text = value[-1]
    problem = bounds.text_problem(text, bounds.MAX_QUERY_VALUE)
    if problem:
        raise BadRequest(f"Invalid value for query parameter {wire}: {problem}.")
    if t == "boolean":
        if text.lower() not in ("true", "false"):
            raise BadRequest(f"Invalid value for query parameter {wire}: expected true or false.")
        return text.lower() == "true"
    if t in ("integer", "long"):
        try:
            number = int(text)
        except ValueError:
            raise BadRequest(f"Invalid value for query parameter {wire}: expected an integer.") from None
        problem = bounds.integer_problem(number, t)
        if problem:
            raise BadRequest(f"Invalid value for query parameter {wire}: {problem}.")
        return number
    if t == "timestamp":
        return parse_timestamp(text, f"query parameter {wire}")
    return text


def iso(dt: datetime | None) -> str | None:
    """Pinpoint's date strings: UTC, millisecond precision, `Z` suffix."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def prune(value: Any) -> Any:
    """Drop None members recursively: absent members are left out on the wire, not null."""
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value
