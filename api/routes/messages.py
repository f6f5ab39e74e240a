"""SendMessages: the gateway prepares per-recipient deliveries and runs them as a workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from activities.render import check_template
from api.codec import iso
from api.operations import Call, pinpoint
from openpoint.errors import BadRequest, InternalServerError, NotFound
from rules.endpoints import endpoint_response
from rules.messages import EMAIL, check_recipient_count, email_content, template_fields
from store import apps as apps_store
from store import channels as channels_store
from store import endpoints as endpoints_store
from workflows.direct_send import DirectSendWorkflow
from workflows.shared import (
    DUPLICATE,
    OPT_OUT,
    PERMANENT_FAILURE,
    DeliveryBatch,
    DeliveryResult,
    DirectSendInput,
    Recipient,
)

router = APIRouter(tags=["messages"])

BATCH_SIZE = 50


def _failed(status: str, code: int, message: str) -> dict[str, Any]:
    return {"DeliveryStatus": status, "StatusCode": code, "StatusMessage": message}


@pinpoint(router, "SendMessages")
async def send_messages(call: Call) -> dict[str, Any]:
    body = call.body
    field = "MessageRequest"
    addresses: dict[str, Any] = body.get("Addresses", {})
    endpoint_cfgs: dict[str, Any] = body.get("Endpoints", {})
    check_recipient_count(len(addresses), len(endpoint_cfgs), field)
    for address, cfg in addresses.items():
        if "ChannelType" not in cfg:
            raise BadRequest(f"Missing required member {field}.Addresses.{address}.ChannelType.")
    if "TemplateConfiguration" in body and body["TemplateConfiguration"]:
        name = next(iter(body["TemplateConfiguration"].values())).get("Name", "")
        raise NotFound(f"Template {name} was not found.")
    content = email_content(body["MessageConfiguration"], f"{field}.MessageConfiguration")
    if content is not None:
        for text, part in template_fields(content, f"{field}.MessageConfiguration"):
            check_template(text, part)

    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        email_channel = await channels_store.get(conn, call.app_id, EMAIL)
        rows = {eid: await endpoints_store.get(conn, call.app_id, eid) for eid in endpoint_cfgs}

    workflow_id = f"send-{call.app_id}-{call.request_id}"
    result: dict[str, Any] = {}
    endpoint_result: dict[str, Any] = {}
    recipients: list[Recipient] = []
    where: dict[str, tuple[dict[str, Any], str]] = {}  # idempotency key -> (result map, key in it)
    seen: set[str] = set()

    def admit(out: dict[str, Any], out_key: str, channel: str, recipient: Recipient) -> None:
        if recipient.address in seen:
            out[out_key] = _failed(DUPLICATE, 400, "The address appears more than once in the request.")
            return
        seen.add(recipient.address)
        if channel != EMAIL:
            out[out_key] = _failed(PERMANENT_FAILURE, 400, f"OpenPoint cannot send on the {channel} channel yet.")
            return
        if email_channel is None or not email_channel["enabled"]:
            out[out_key] = _failed(PERMANENT_FAILURE, 400, "The EMAIL channel is not enabled for this project.")
            return
        if content is None:
            out[out_key] = _failed(PERMANENT_FAILURE, 400, "The request has no email content for this address.")
            return
        recipients.append(recipient)
        where[recipient.key] = (out, out_key)

    for address, cfg in addresses.items():
        admit(
            result,
            address,
            cfg["ChannelType"],
            Recipient(
                key=f"{workflow_id}/0/{address}",
                address=address,
                endpoint={"Address": address},
                substitutions=cfg.get("Substitutions", {}),
                context={**body.get("Context", {}), **cfg.get("Context", {})},
                overrides={k: cfg[k] for k in ("BodyOverride", "TitleOverride", "RawContent") if k in cfg},
            ),
        )
    for eid, cfg in endpoint_cfgs.items():
        row = rows[eid]
        if row is None:
            endpoint_result[eid] = _failed(PERMANENT_FAILURE, 404, "Endpoint not found.")
            continue
        if row["opt_out"] == "ALL":
            endpoint_result[eid] = {"Address": row["address"], **_failed(OPT_OUT, 400, "The endpoint has opted out.")}
            continue
        if row["endpoint_status"] != "ACTIVE" or not row["address"]:
            why = "The endpoint is inactive." if row["address"] else "The endpoint has no address."
            endpoint_result[eid] = {"Address": row["address"], **_failed(PERMANENT_FAILURE, 400, why)}
            continue
        admit(
            endpoint_result,
            eid,
            row["channel_type"] or "",
            Recipient(
                key=f"{workflow_id}/0/endpoint/{eid}",
                address=row["address"],
                endpoint_id=eid,
                endpoint=endpoint_response(row, iso),
                substitutions=cfg.get("Substitutions", {}),
                context={**body.get("Context", {}), **cfg.get("Context", {})},
                overrides={k: cfg[k] for k in ("BodyOverride", "TitleOverride", "RawContent") if k in cfg},
            ),
        )

    if recipients:
        assert content is not None and email_channel is not None
        content = {**content, "from": content.get("from") or email_channel["settings"].get("FromAddress")}
        batches = [
            DeliveryBatch(
                app_id=call.app_id,
                channel=EMAIL,
                source="direct",
                source_id=call.request_id,
                content=content,
                recipients=recipients[i : i + BATCH_SIZE],
            )
            for i in range(0, len(recipients), BATCH_SIZE)
        ]
        for r in await _run(call, workflow_id, DirectSendInput(app_id=call.app_id, batches=batches)):
            out, out_key = where[r.key]
            entry = _failed(r.delivery_status, r.status_code, r.status_message)
            if r.message_id:
                entry["MessageId"] = r.message_id
            if out is endpoint_result:
                entry["Address"] = r.address
            out[out_key] = entry

    return {
        "ApplicationId": call.app_id,
        "RequestId": call.request_id,
        "Result": result or None,
        "EndpointResult": endpoint_result or None,
    }


async def _run(call: Call, workflow_id: str, request: DirectSendInput) -> list[DeliveryResult]:
    try:
        client = await call.ctx.temporal()
        output = await client.execute_workflow(
            DirectSendWorkflow.run,
            request,
            id=workflow_id,
            task_queue=call.ctx.settings.task_queue,
            execution_timeout=timedelta(minutes=5),
        )
    except (WorkflowFailureError, RPCError, RuntimeError, OSError) as e:
        raise InternalServerError(f"The message could not be sent: {e}") from None
    return output.results
