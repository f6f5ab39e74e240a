"""One mechanism for every Pinpoint operation: route, authenticate, decode, encode.

A handler is registered with `@pinpoint(router, "CreateApp")`. The route, method, success
status, payload shape and query parameters come from botocore's model; the handler receives a
decoded, validated `Call` and returns the output payload (a dict, or None for empty bodies).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Request, Response

from api import sigv4
from api.context import Context
from api.outages import outage_of
from openpoint.errors import BadRequest, Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, PinpointError
from openpoint.keys import Principal
from wire.codec import check_label, decode_body, decode_query, prune
from wire.model import Operation, json_schema, operation, operations

MAX_BODY = 7 * 1024 * 1024  # the published request payload quota
MAX_BODY_BY_OPERATION = {"PutEvents": 4 * 1024 * 1024}

Handler = Callable[["Call"], Awaitable[Any]]
H = TypeVar("H", bound=Handler)

log = logging.getLogger("openpoint.api")

IMPLEMENTED: set[str] = set()


@dataclass
class Call:
    op: Operation
    ctx: Context
    principal: Principal
    request_id: str
    labels: dict[str, str]  # member name -> decoded value
    query: dict[str, Any]  # member name -> decoded value
    body: dict[str, Any]

    @property
    def app_id(self) -> str:
        return self.labels["ApplicationId"]


async def authenticate(request: Request, body: bytes, ctx: Context) -> Principal:
    try:
        key_id = sigv4.parse_authorization(request.headers)[0]
    except sigv4.SigV4Error as e:
        raise Forbidden(str(e)) from None
    found = await ctx.keys.lookup(key_id)
    try:
        sigv4.verify(
            method=request.method,
            raw_path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"),
            raw_query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=request.headers,
            body=body,
            secret_for=lambda _k: found[0] if found else None,
            now=datetime.now(UTC),
            max_skew_seconds=ctx.settings.max_clock_skew_seconds,
        )
    except sigv4.SigV4Error as e:
        raise Forbidden(str(e)) from None
    assert found is not None  # verify() refuses unknown keys
    return found[1]


async def decode_call(op: Operation, request: Request) -> Call:
    ctx: Context = request.app.state.ctx
    body = await request.body()
    limit = MAX_BODY_BY_OPERATION.get(op.name, MAX_BODY)
    if len(body) > limit:
        raise PayloadTooLarge(f"The request payload exceeds the {limit // (1024 * 1024)} MB limit of {op.name}.")
    principal = await authenticate(request, body, ctx)
    labels = {
        member: check_label(unquote(str(request.path_params[wire.replace("-", "_")])), wire)
        for wire, member in op.labels.items()
    }
    app_id = labels.get("ApplicationId")
    if app_id is not None and not principal.may_touch(app_id):
        raise Forbidden(f"The access key {principal.access_key_id} may not access project {app_id}.")
    query: dict[str, Any] = {}
    params = request.query_params
    for wire, (member, shape) in op.query.items():
        values = params.getlist(wire)
        if values:
            query[member] = decode_query(values, shape, wire)
    return Call(
        op=op,
        ctx=ctx,
        principal=principal,
        request_id=request.state.request_id,
        labels=labels,
        query=query,
        body=decode_body(body, op.payload_shape, op.payload_member),
    )


def encode(op: Operation, result: Any, request_id: str) -> Response:
    headers = {"x-amzn-RequestId": request_id}
    if op.output_payload is None or result is None:
        return Response(status_code=op.status, headers=headers)
    return Response(
        content=orjson.dumps(prune(result)),
        status_code=op.status,
        media_type="application/json",
        headers=headers,
    )


def _openapi(op: Operation) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if op.payload_shape is not None:
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": json_schema(op.payload_shape)}},
        }
    out = op.output_payload
    if out is not None:
        out_shape = operation_output_shape(op)
        extra["responses"] = {
            str(op.status): {
                "description": out,
                "content": {"application/json": {"schema": json_schema(out_shape)}},
            }
        }
    params = [
        {"name": wire, "in": "query", "required": False, "schema": json_schema(shape)}
        for wire, (_m, shape) in op.query.items()
    ]
    params += [
        {"name": wire.replace("-", "_"), "in": "path", "required": True, "schema": {"type": "string"}}
        for wire in op.labels
    ]
    if params:
        extra["parameters"] = params
    return extra


def operation_output_shape(op: Operation) -> Any:
    from wire.model import service_model

    out = service_model().operation_model(op.name).output_shape
    assert out is not None and op.output_payload is not None
    return out.members[op.output_payload]


async def answering_outages(request: Request, answer: Callable[[], Awaitable[Response]]) -> Response:
    """`answer()`, with a dependency outage met anywhere below it (the key lookup, a store call,
    a workflow) raised as the modeled retryable error, which the PinpointError handler answers.
    Left to the catch-all handler, Starlette re-raises it after answering and the server then
    drops the keep-alive connection under the client."""
    request.state.request_id = new_request_id()
    try:
        return await answer()
    except PinpointError:
        raise
    except Exception as e:
        outage = outage_of(e)
        if outage is None:
            raise
        log.warning("%s %s: %s (%r)", request.method, request.url.path, outage.message, e)
        raise outage from e


def _add_route(router: APIRouter, op: Operation, handler: Handler, summary: str | None) -> None:
    async def endpoint(request: Request) -> Response:
        async def answer() -> Response:
            call = await decode_call(op, request)
            return encode(op, await handler(call), call.request_id)

        return await answering_outages(request, answer)

    endpoint.__name__ = op.name
    router.add_api_route(
        op.fastapi_path,
        endpoint,
        methods=[op.method],
        name=op.name,
        operation_id=op.name,
        status_code=op.status,
        summary=summary or op.name,
        openapi_extra=_openapi(op),
    )


def pinpoint(router: APIRouter, name: str) -> Callable[[H], H]:
    op = operation(name)

    def register(handler: H) -> H:
        _add_route(router, op, handler, None)
        IMPLEMENTED.add(name)
        return handler

    return register


def not_implemented_router() -> APIRouter:
    """Routes for the modeled operations no handler serves yet: an authenticated caller gets
    a Pinpoint-shaped MethodNotAllowedException naming the operation, never a bare 404."""
    router = APIRouter(tags=["not implemented yet"])
    for name, op in sorted(operations().items()):
        if name in IMPLEMENTED:
            continue

        async def refuse(call: Call, _name: str = name) -> Any:
            raise MethodNotAllowed(f"OpenPoint does not implement {_name} yet.")

        _add_route(router, op, refuse, f"{name} (not implemented yet)")
    return router


def new_request_id() -> str:
    return str(uuid.uuid4())


__all__ = ["Call", "pinpoint", "not_implemented_router", "BadRequest", "NotFound", "new_request_id"]
