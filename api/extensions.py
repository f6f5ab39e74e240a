"""OpenPoint's own routes, beside Pinpoint's: one mechanism that signs, checks and answers them
exactly as modeled operations are (api/operations.py), without a botocore model to read.

A handler is registered with
`@extension(router, "POST", "/v1/apps/{application_id}/journeys/{journey_id}/review", name="ReviewJourney")`.
It receives an `ExtensionCall` (the JSON object body, the path labels, the context) after SigV4
verification and the project-access check, and returns a JSON object. Errors are Pinpoint's
(`{Message, RequestID}` plus `X-Amzn-ErrorType`), so an SDK's error handling works unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Request, Response

from api.context import Context
from api.operations import MAX_BODY, answering_outages, authenticate
from openpoint.errors import BadRequest, Forbidden, PayloadTooLarge
from openpoint.keys import Principal
from wire.codec import prune

TAG = "OpenPoint extensions"
_LABEL = re.compile(r"\{(\w+)\}")


@dataclass
class ExtensionCall:
    ctx: Context
    principal: Principal
    request_id: str
    labels: dict[str, str]  # path label -> decoded value, as written in the route (`journey_id`)
    body: dict[str, Any]
    query: list[tuple[str, str]] = field(default_factory=list)  # the query string's pairs, in order
    accept: str = ""  # the Accept header

    @property
    def app_id(self) -> str:
        return self.labels["application_id"]


# A JSON object, or a Response of its own (a CSV stream, say).
ExtensionHandler = Callable[[ExtensionCall], Awaitable[dict[str, Any] | Response]]
E = TypeVar("E", bound=ExtensionHandler)


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"The request body is not valid JSON: {e.msg}.") from None
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    return value


async def _decode(request: Request) -> ExtensionCall:
    ctx: Context = request.app.state.ctx
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"The request payload exceeds the {MAX_BODY // (1024 * 1024)} MB limit.")
    principal = await authenticate(request, raw, ctx)
    labels = {name: unquote(str(value)) for name, value in request.path_params.items()}
    app_id = labels.get("application_id")
    if app_id is not None and not principal.may_touch(app_id):
        raise Forbidden(f"The access key {principal.access_key_id} may not access project {app_id}.")
    # Authenticated before parsing: an unsigned caller learns nothing about what it sent.
    body = _json_object(raw) if request.method in ("POST", "PUT", "PATCH") else {}
    query = list(request.query_params.multi_items())
    accept = request.headers.get("accept", "")
    return ExtensionCall(ctx, principal, request.state.request_id, labels, body, query, accept)


def _openapi(
    path: str,
    request_schema: dict[str, Any] | None,
    status: int,
    response_schema: dict[str, Any],
    query: list[dict[str, Any]],
    content_types: tuple[str, ...],
) -> Any:
    content: dict[str, Any] = {"application/json": {"schema": response_schema}}
    content.update({kind: {"schema": {"type": "string"}} for kind in content_types})
    extra: dict[str, Any] = {
        "parameters": [
            {"name": label, "in": "path", "required": True, "schema": {"type": "string"}}
            for label in _LABEL.findall(path)
        ]
        + [{"in": "query", **q} for q in query],
        "responses": {str(status): {"description": "OK", "content": content}},
    }
    if request_schema is not None:
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": request_schema}}}
    return extra


def json_object(**properties: str | dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI object schema for /openapi.json; a string names the member's JSON type."""
    return {
        "type": "object",
        "properties": {k: {"type": v} if isinstance(v, str) else v for k, v in properties.items()},
    }


def extension(
    router: APIRouter,
    method: str,
    path: str,
    *,
    name: str,
    summary: str,
    status: int = 200,
    request_schema: dict[str, Any] | None = None,
    response_schema: dict[str, Any] | None = None,
    query: list[dict[str, Any]] | None = None,
    content_types: tuple[str, ...] = (),
) -> Callable[[E], E]:
    """`query` documents query parameters ({name, required, schema, description}); a handler
    may answer in `content_types` besides JSON by returning a Response of its own."""

    def register(handler: E) -> E:
        async def endpoint(request: Request) -> Response:
            async def answer() -> Response:
                call = await _decode(request)
                answered = await handler(call)
                if isinstance(answered, Response):
                    answered.headers["x-amzn-RequestId"] = call.request_id
                    return answered
                return Response(
                    content=orjson.dumps(prune(answered)),
                    status_code=status,
                    media_type="application/json",
                    headers={"x-amzn-RequestId": call.request_id},
                )

            return await answering_outages(request, answer)

        endpoint.__name__ = name
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=name,
            operation_id=name,
            status_code=status,
            summary=summary,
            tags=[TAG],
            openapi_extra=_openapi(
                path, request_schema, status, response_schema or {"type": "object"}, query or [], content_types
            ),
        )
        return handler

    return register
