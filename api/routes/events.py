"""PutEvents: endpoint upserts, events and sessions, with a status per item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.operations import Call, pinpoint
from openpoint.errors import BadRequest
from rules.endpoints import check_endpoint_request, stamped
from rules.events import MAX_EVENTS_PER_REQUEST, event_problem, event_row, session_row
from store import endpoints as endpoints_store
from store import events as store
from store import outbox

router = APIRouter(tags=["events"])

ACCEPTED = {"StatusCode": 202, "Message": "Accepted"}


@pinpoint(router, "PutEvents")
async def put_events(call: Call) -> dict[str, Any]:
    batches: dict[str, Any] = call.body["BatchItem"]
    total = sum(len(b["Events"]) for b in batches.values())
    if total > MAX_EVENTS_PER_REQUEST or len(batches) > MAX_EVENTS_PER_REQUEST:
        raise BadRequest(
            f"Invalid value for EventsRequest.BatchItem: at most {MAX_EVENTS_PER_REQUEST} events per request."
        )

    results: dict[str, Any] = {}
    upserts: list[tuple[str, dict[str, Any]]] = []
    event_rows: list[dict[str, Any]] = []
    session_rows: list[dict[str, Any]] = []
    for endpoint_id, batch in batches.items():
        item: dict[str, Any] = {"EventsItemResponse": {}}
        results[endpoint_id] = item
        try:
            check_endpoint_request(batch["Endpoint"], f"EventsRequest.BatchItem.{endpoint_id}.Endpoint")
        except BadRequest as e:
            item["EndpointItemResponse"] = {"StatusCode": 400, "Message": e.message}
        else:
            item["EndpointItemResponse"] = ACCEPTED
            upserts.append((endpoint_id, stamped(batch["Endpoint"], call.request_id)))
        for event_id, event in batch["Events"].items():
            problem = event_problem(event)
            if problem:
                item["EventsItemResponse"][event_id] = {"StatusCode": 400, "Message": problem}
                continue
            item["EventsItemResponse"][event_id] = ACCEPTED
            event_rows.append(event_row(call.app_id, endpoint_id, event_id, event))
            session = session_row(call.app_id, endpoint_id, event)
            if session:
                session_rows.append(session)

    async with call.ctx.engine.begin() as conn:
        refused = await endpoints_store.upsert_in_app(conn, call.app_id, upserts, now=datetime.now(UTC), strict=False)
        for endpoint_id, message in refused.items():
            results[endpoint_id]["EndpointItemResponse"] = {"StatusCode": 400, "Message": message}
        await store.insert_request(conn, event_rows, session_rows)
        # The triggers these events fire, in the same transaction: an acknowledged event never
        # loses its trigger, and the request never waits on Temporal (store/outbox.py).
        await outbox.record(conn, call.ctx.triggers, call.app_id, event_rows, "ENDPOINT")
    return {"Results": results}
