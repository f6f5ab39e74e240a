"""SendOTPMessage and VerifyOTPMessage.

A send stores the new code's hash, then delivers the SMS through the direct-send workflow like
any other message. The code travels as a message variable of the recipient (rules/otp.py names
them), so the text is rendered once, by the provider, with the brand inserted as a value (never
parsed as a template). The database keeps only the hash: the delivery log and the events keep
no body. The workflow's input does hold the variables, so the code stays in Temporal's history
until the namespace's retention removes it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from jinja2 import Environment, meta
from sqlalchemy.ext.asyncio import AsyncConnection

from api.direct_send import run_direct_send
from api.operations import Call, pinpoint
from openpoint.errors import BadRequest
from openpoint.vault import seal
from rules import otp as rules
from sending.content import load_template
from sending.recipients import idempotency_key
from store import apps as apps_store
from store import channels as channels_store
from store import otp as store
from templating.render import check_template, to_jinja
from workflows.shared import PERMANENT_FAILURE, DeliveryBatch, DirectSendInput, Recipient

router = APIRouter(tags=["messages"])
_CHANNEL_OFF = "The SMS channel is not enabled for this project."


def _uses_code(body: str) -> bool:
    names = meta.find_undeclared_variables(Environment().parse(to_jinja(body)))
    return bool(names & rules.CODE_VARIABLES)


async def _text(conn: AsyncConnection, send: rules.OtpSend) -> tuple[str, dict[str, str]]:
    """The message text and its DefaultSubstitutions: the Body of the SMS template TemplateId
    names, else the default text in the request's language. A TemplateId that names no template
    is taken for what Pinpoint meant by it, an Indian DLT registration id, which is no reason
    to refuse the send."""
    name = send.template_name
    found = await load_template(conn, (rules.CHANNEL, name, None)) if name is not None else None
    if found is None:
        return rules.default_text(send.language), {}
    body = (found.content or {}).get("Body") or ""
    where = f"{rules.FIELD}.TemplateId"
    check_template(body, where)
    if not _uses_code(body):
        raise BadRequest(f"Invalid value for {where}: the Body of template {name} does not use {{{{otp}}}}.")
    return body, found.defaults or {}


def _hash(call: Call, *, reference_id: str, destination: str, code: str) -> bytes:
    return rules.code_hash(
        call.ctx.vault.derive("otp"), app_id=call.app_id, reference_id=reference_id, destination=destination, code=code
    )


@pinpoint(router, "SendOTPMessage")
async def send_otp_message(call: Call) -> dict[str, Any]:
    send = rules.check_send(call.body)
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        channel = await channels_store.get(conn, call.app_id, rules.CHANNEL)
        body, defaults = await _text(conn, send)
    response: dict[str, Any] = {"ApplicationId": call.app_id, "RequestId": call.request_id}
    if channel is None or not channel["enabled"]:
        # As SendMessages answers a recipient on a channel that is off; no code is stored.
        refusal = {"DeliveryStatus": PERMANENT_FAILURE, "StatusCode": 400, "StatusMessage": _CHANNEL_OFF}
        return {**response, "Result": {send.destination: refusal}}

    code = rules.new_code(send.code_length)
    async with call.ctx.engine.begin() as conn:
        await store.replace(
            conn,
            app_id=call.app_id,
            reference_id=send.reference_id,
            destination=send.destination,
            code_hash=_hash(call, reference_id=send.reference_id, destination=send.destination, code=code),
            validity_minutes=send.validity_minutes,
            attempts=send.allowed_attempts,
        )
    workflow_id = f"otp-{call.app_id}-{call.request_id}"
    key = idempotency_key(workflow_id, 0, send.destination)
    batch = DeliveryBatch(
        app_id=call.app_id,
        channel=rules.CHANNEL,
        source="otp",
        source_id=call.request_id,
        content={"body": body, "origination_number": send.origination, "defaults": defaults},
        recipients=[
            Recipient(
                key=key,
                address=send.destination,
                # Sealed: the code must not sit in plain text in the workflow's history.
                sealed=seal(call.ctx.vault, key, rules.message_variables(send, code)),
            )
        ],
        attributes={
            "reference_id": send.reference_id,
            **({"dlt_template_id": send.template_name} if send.template_name else {}),
            **({"dlt_entity_id": str(call.body["EntityId"])} if call.body.get("EntityId") else {}),
        },
    )
    [result] = await run_direct_send(call.ctx, workflow_id, DirectSendInput(app_id=call.app_id, batches=[batch]))
    entry = {
        "DeliveryStatus": result.delivery_status,
        "StatusCode": result.status_code,
        "StatusMessage": result.status_message,
        "MessageId": result.message_id,
    }
    return {**response, "Result": {send.destination: entry}}


@pinpoint(router, "VerifyOTPMessage")
async def verify_otp_message(call: Call) -> dict[str, Any]:
    body = call.body
    reference_id, destination = str(body["ReferenceId"]), str(body["DestinationIdentity"])
    candidate = _hash(call, reference_id=reference_id, destination=destination, code=str(body["Otp"]).strip())
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id)
        valid = await store.verify(
            conn, app_id=call.app_id, reference_id=reference_id, destination=destination, candidate=candidate
        )
    return {"Valid": valid}
