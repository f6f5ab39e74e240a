"""PutEventStream, GetEventStream, DeleteEventStream: a project's events, sent on to a Kinesis
data stream or a Firehose delivery stream by the worker's streamer (worker/streamer.py); and
OpenPoint's `GET /v1/apps/{application-id}/eventstream/status`: how far behind the stream is
and what went wrong last."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.extensions import ExtensionCall, extension, json_object
from api.operations import Call, pinpoint
from rules.event_records import check_role, destination
from store import apps as apps_store
from store import event_streams as store

router = APIRouter(tags=["event streams"])
FIELD = "WriteEventStream"


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_response(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ApplicationId": row["app_id"],
        "DestinationStreamArn": row["destination_stream_arn"],
        "ExternalId": row["external_id"] or None,
        "LastModifiedDate": _iso(row["last_modified_at"]),
        "LastUpdatedBy": row["last_updated_by"] or None,
        "RoleArn": row["role_arn"],
    }


@pinpoint(router, "PutEventStream")
async def put_event_stream(call: Call) -> dict[str, Any]:
    body = call.body
    destination(body.get("DestinationStreamArn"), f"{FIELD}.DestinationStreamArn")
    role = check_role(body.get("RoleArn", ""), f"{FIELD}.RoleArn")
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id, lock=True)
        row = await store.put(
            conn,
            app_id=call.app_id,
            destination=body["DestinationStreamArn"],
            role_arn=role,
            updated_by=call.principal.access_key_id,
        )
    return stream_response(row)


@pinpoint(router, "GetEventStream")
async def get_event_stream(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        return stream_response(await store.get(conn, call.app_id))


@pinpoint(router, "DeleteEventStream")
async def delete_event_stream(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id, lock=True)
        return stream_response(await store.delete(conn, call.app_id))


_STATUS = json_object(
    ApplicationId="string",
    DestinationStreamArn="string",
    LagEvents="integer",
    LagSeconds="number",
    Delivered="integer",
    LastDeliveryDate="string",
    LastEventDate="string",
    LastError="string",
    LastErrorDate="string",
    Failures="integer",
    NextAttemptDate="string",
)


@extension(
    router,
    "GET",
    "/v1/apps/{application_id}/eventstream/status",
    name="GetEventStreamStatus",
    summary="How far behind a project's event stream is (events, seconds), and its last error",
    response_schema=_STATUS,
)
async def event_stream_status(call: ExtensionCall) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        row = await store.get(conn, call.app_id)
        events, seconds = await store.lag(conn, call.app_id, row["cursor"])
    return {
        "ApplicationId": row["app_id"],
        "DestinationStreamArn": row["destination_stream_arn"],
        "LagEvents": events,
        "LagSeconds": round(seconds, 3),
        "Delivered": row["delivered"],
        "LastDeliveryDate": _iso(row["delivered_at"]),
        "LastEventDate": _iso(row["last_event_at"]),
        "LastError": row["last_error"],
        "LastErrorDate": _iso(row["last_error_at"]),
        "Failures": row["failures"],
        "NextAttemptDate": _iso(row["retry_at"]),
    }
