"""Decoding requests against the botocore model.

botocore validates nothing beyond required members and JSON types on the client, and other
SDKs (or curl) validate nothing at all, so the gateway checks every payload against the model:
types, required members and enums, naming the member path in the BadRequest it raises.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from typing import Any

import orjson
from botocore.model import Shape

from openpoint.errors import BadRequest


def _type_error(path: str, expected: str, value: Any) -> BadRequest:
    got = type(value).__name__ if value is not None else "null"
    got = {"dict": "object", "list": "array", "str": "string", "bool": "boolean"}.get(got, got)
    return BadRequest(f"Invalid value for {path}: expected {expected}, got {got}.")


def validate(value: Any, shape: Shape, path: str) -> Any:
    """Check `value` (decoded JSON) against `shape`; returns it with nulls dropped."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        out: dict[str, Any] = {}
        members = shape.members
        for name, item in value.items():
            mshape = members.get(name)
            if mshape is None or item is None:
                continue  # unknown members are ignored, as AWS services do
            out[name] = validate(item, mshape, f"{path}.{name}")
        for name in shape.required_members:
            if name not in out and "location" not in members[name].serialization:
                raise BadRequest(f"Missing required member {path}.{name}.")
        return out
    if t == "list":
        if not isinstance(value, list):
            raise _type_error(path, "an array", value)
        return [validate(v, shape.member, f"{path}[{i}]") for i, v in enumerate(value)]  # type: ignore[attr-defined]
    if t == "map":
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        return {
            k: validate(v, shape.value, f"{path}.{k}")  # type: ignore[attr-defined]
            for k, v in value.items()
            if v is not None
        }
    if t == "string":
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        if shape.enum and value not in shape.enum:
            raise BadRequest(
                f"Invalid value for {path}: '{value}' is not one of {', '.join(shape.enum)}."
            )
        return value
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise _type_error(path, "an integer", value)
        return value
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(path, "a number", value)
        if not math.isfinite(value):
            raise BadRequest(f"Invalid value for {path}: numbers must be finite.")
        return float(value)
    if t == "boolean":
        if not isinstance(value, bool):
            raise _type_error(path, "a boolean", value)
        return value
    if t == "timestamp":
        return parse_timestamp(value, path)
    if t == "blob":
        if not isinstance(value, str):
            raise _type_error(path, "base64 text", value)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"Invalid value for {path}: not valid base64.") from None
    return value


def parse_timestamp(value: Any, path: str) -> datetime:
    """ISO-8601 text or epoch seconds, as botocore and the CLI send them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"Invalid value for {path}: '{value}' is not an ISO-8601 date-time.") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise _type_error(path, "an ISO-8601 date-time", value)


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


def decode_query(value: list[str], shape: Shape, wire: str) -> Any:
    t = shape.type_name
    if t == "list":
        return [decode_query([v], shape.member, wire) for v in value]  # type: ignore[attr-defined]
    text = value[-1]
    if t == "boolean":
        if text.lower() not in ("true", "false"):
            raise BadRequest(f"Invalid value for query parameter {wire}: expected true or false.")
        return text.lower() == "true"
    if t in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise BadRequest(f"Invalid value for query parameter {wire}: expected an integer.") from None
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
