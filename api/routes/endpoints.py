"""Endpoints and users: UpdateEndpoint(sBatch), Get/DeleteEndpoint, Get/DeleteUserEndpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.operations import Call, pinpoint
from openpoint.errors import RESOURCE_NOT_FOUND, BadRequest, NotFound
from rules.endpoints import check_endpoint_request, endpoint_response, stamped
from store import apps as apps_store
from store import endpoints as store
from wire.codec import iso

router = APIRouter(tags=["endpoints"])

MAX_BATCH = 100


def _response(row: dict[str, Any]) -> dict[str, Any]:
    return endpoint_response(row, iso)


async def write_endpoints(call: Call, items: list[tuple[str, dict[str, Any]]]) -> None:
    async with call.ctx.engine.begin() as conn:
        app = await apps_store.get(conn, call.app_id)
        await store.upsert(conn, call.app_id, items, now=datetime.now(UTC), removed=app["removed_attributes"])


@pinpoint(router, "UpdateEndpoint")
async def update_endpoint(call: Call) -> dict[str, Any]:
    endpoint_id = call.labels["EndpointId"]
    check_endpoint_request(call.body, "EndpointRequest")
    await write_endpoints(call, [(endpoint_id, stamped(call.body, call.request_id))])
    return {"Message": "Accepted", "RequestID": call.request_id}


@pinpoint(router, "UpdateEndpointsBatch")
async def update_endpoints_batch(call: Call) -> dict[str, Any]:
    items = call.body["Item"]
    if not 1 <= len(items) <= MAX_BATCH:
        raise BadRequest(f"Invalid value for EndpointBatchRequest.Item: 1 to {MAX_BATCH} endpoints per request.")
    batch = []
    for i, item in enumerate(items):
        field = f"EndpointBatchRequest.Item[{i}]"
        if not item.get("Id"):
            raise BadRequest(f"Missing required member {field}.Id.")
        check_endpoint_request(item, field)
        batch.append((item["Id"], stamped({k: v for k, v in item.items() if k != "Id"}, call.request_id)))
    await write_endpoints(call, batch)
    return {"Message": "Accepted", "RequestID": call.request_id}


@pinpoint(router, "GetEndpoint")
async def get_endpoint(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        row = await store.get(conn, call.app_id, call.labels["EndpointId"])
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return _response(row)


@pinpoint(router, "DeleteEndpoint")
async def delete_endpoint(call: Call) -> dict[str, Any]:
    endpoint_id = call.labels["EndpointId"]
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id)
        row = await store.get(conn, call.app_id, endpoint_id)
        if row is None:
            raise NotFound(RESOURCE_NOT_FOUND)
        await store.delete_ids(conn, call.app_id, [endpoint_id])
    return _response(row)


@pinpoint(router, "GetUserEndpoints")
async def get_user_endpoints(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        rows = await store.of_user(conn, call.app_id, call.labels["UserId"])
    if not rows:
        raise NotFound(RESOURCE_NOT_FOUND)
    return {"Item": [_response(r) for r in rows]}


@pinpoint(router, "DeleteUserEndpoints")
async def delete_user_endpoints(call: Call) -> dict[str, Any]:
    user_id = call.labels["UserId"]
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id)
        rows = await store.of_user(conn, call.app_id, user_id, lock=True)
        if not rows:
            raise NotFound(RESOURCE_NOT_FOUND)
        await store.delete_ids(conn, call.app_id, [r["id"] for r in rows])
    return {"Item": [_response(r) for r in rows]}
