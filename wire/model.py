"""Pinpoint's wire contract, read from botocore's service model instead of copied by hand.

Every route, success status, payload shape and query parameter the gateway speaks comes from
`botocore/data/pinpoint/2016-12-01/service-2.json`, so an operation added later needs only its
handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE = "pinpoint"
SIGNING_NAME = "mobiletargeting"


@dataclass(frozen=True)
class Operation:
    """What the gateway needs to know about one modeled operation."""

    name: str
    method: str
    uri: str  # as in the model, e.g. /v1/apps/{application-id}
    status: int
    input_shape: Shape | None
    payload_member: str | None  # input member that is the whole HTTP body
    payload_shape: Shape | None
    output_payload: str | None  # output member that is the whole response body
    labels: dict[str, str] = field(default_factory=dict)  # uri label -> member name
    query: dict[str, tuple[str, Shape]] = field(default_factory=dict)  # wire name -> (member, shape)

    @property
    def fastapi_path(self) -> str:
        """The model's path with labels FastAPI can bind (hyphens are not identifiers).

        The tag operations take a whole ARN, which contains `/` once decoded, so that label
        matches the rest of the path.
        """

        def repl(m: re.Match[str]) -> str:
            name = m.group(1).rstrip("+").replace("-", "_")
            return "{" + name + (":path" if name == "resource_arn" else "") + "}"

        return re.sub(r"\{([^}]+)\}", repl, self.uri)


@lru_cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


def _operation(op: OperationModel) -> Operation:
    shape = op.input_shape
    labels: dict[str, str] = {}
    query: dict[str, tuple[str, Shape]] = {}
    payload_member = None
    if shape is not None:
        payload_member = shape.serialization.get("payload")
        for member, mshape in shape.members.items():
            location = mshape.serialization.get("location")
            wire = mshape.serialization.get("name", member)
            if location == "uri":
                labels[wire] = member
            elif location == "querystring":
                query[wire] = (member, mshape)
    out = op.output_shape
    return Operation(
        name=op.name,
        method=op.http["method"],
        uri=op.http["requestUri"],
        status=int(op.http.get("responseCode", 200)),
        input_shape=shape,
        payload_member=payload_member,
        payload_shape=shape.members[payload_member] if shape is not None and payload_member else None,
        output_payload=out.serialization.get("payload") if out is not None else None,
        labels=labels,
        query=query,
    )


@lru_cache
def operations() -> dict[str, Operation]:
    model = service_model()
    return {name: _operation(model.operation_model(name)) for name in model.operation_names}


def operation(name: str) -> Operation:
    try:
        return operations()[name]
    except KeyError:
        raise KeyError(f"{name} is not an operation of the {SERVICE} model") from None


def shape(name: str) -> Shape:
    return service_model().shape_for(name)


def error_names() -> set[str]:
    return {s.name for s in service_model().error_shapes}


def json_schema(shape_: Shape, seen: set[str] | None = None) -> dict[str, Any]:
    """A JSON Schema for a model shape, for /openapi.json.

    Recursive shapes are cut at the second visit (Pinpoint has none in practice, but the walk
    must still end).
    """
    seen = set(seen or ())
    t = shape_.type_name
    doc: dict[str, Any] = {}
    if t == "structure":
        if shape_.name in seen:
            return {"type": "object"}
        seen.add(shape_.name)
        members = {m: json_schema(s, seen) for m, s in shape_.members.items() if "location" not in s.serialization}
        doc = {"type": "object", "title": shape_.name, "properties": members}
        req = [m for m in shape_.required_members if m in members]
        if req:
            doc["required"] = req
    elif t == "list":
        doc = {"type": "array", "items": json_schema(shape_.member, seen)}
    elif t == "map":
        doc = {"type": "object", "additionalProperties": json_schema(shape_.value, seen)}
    elif t == "string":
        doc = {"type": "string"}
        if shape_.enum:
            doc["enum"] = list(shape_.enum)
    elif t in ("integer", "long"):
        doc = {"type": "integer"}
    elif t in ("double", "float"):
        doc = {"type": "number"}
    elif t == "boolean":
        doc = {"type": "boolean"}
    elif t == "timestamp":
        doc = {"type": "string", "format": "date-time"}
    elif t == "blob":
        doc = {"type": "string", "format": "byte"}
    return doc
