"""Twilio calling back: delivery reports for messages and calls, and inbound SMS (STOP / START).

Twilio signs these with the account's auth token (X-Twilio-Signature over the URL it called and
the form fields), not SigV4: a request that does not verify is a 403 and writes nothing. The
URL is rebuilt from the public URL, since that is what Twilio was given (a proxy in front of
the gateway changes the host the gateway sees).

Twilio retries a callback that did not get a timely 2xx, so each one is recorded once: its
event id is derived from what it reports (message SID + status, or inbound SID + endpoint), and
an event already stored under that id is not written again. Reports about messages OpenPoint
does not know get a 204 and are dropped, so Twilio stops retrying them.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from api.context import Context
from channels.twilio import account_for
from rules.engagement import TWILIO_STATUS_EVENTS, keyword_of
from store import apps as apps_store
from store import channels as channels_store
from store import engagement, outbox
from store.tables import Event

router = APIRouter(prefix="/engagement/twilio", tags=["engagement"], include_in_schema=False)

events = Event.__table__  # type: ignore[attr-defined]
_KEYWORD_EVENTS = {"OPT_OUT": ("ALL", "_SMS.OPTOUT"), "OPT_IN": ("NONE", "_SMS.OPTIN")}


async def _form(request: Request) -> ImmutableMultiDict[str, str]:
    # Not request.form(): that needs python-multipart, and the signature covers every repeated
    # field as sent.
    return ImmutableMultiDict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


async def _auth_token(ctx: Context, app_id: str | None, channel: str) -> str | None:
    """The token of the account the project sends with (its own, else the server's). The
    channel's credentials are read and decrypted the way the worker reads them."""
    config = None
    if app_id:
        async with ctx.engine.connect() as conn:
            config = await channels_store.config(conn, ctx.vault, app_id, channel)
    account = account_for(ctx.settings, config.secrets if config is not None else None)
    return account.token if account is not None else None


def _signed(request: Request, form: ImmutableMultiDict[str, str], token: str | None) -> bool:
    if not token:  # no account configured: nothing can be verified, so nothing is accepted
        return False
    url = request.app.state.ctx.settings.resolved_public_url().rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    validator = RequestValidator(token)
    return bool(validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")))


def _event_id(*parts: str) -> str:
    return hashlib.sha256("\0".join(("twilio", *parts)).encode()).hexdigest()[:32]


@router.post("/status")
async def status(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    form = await _form(request)
    sid = form.get("MessageSid") or form.get("CallSid") or ""
    async with ctx.engine.connect() as conn:
        delivery = await engagement.delivery_by_message_id(conn, sid) if sid else None
    token = await _auth_token(ctx, delivery["app_id"] if delivery else None, delivery["channel"] if delivery else "SMS")
    if not _signed(request, form, token):
        return Response("The request is not signed by Twilio.", status_code=403, media_type="text/plain")
    if delivery is None:
        return Response(status_code=204)
    reported = form.get("MessageStatus") or form.get("CallStatus") or ""
    event_type = TWILIO_STATUS_EVENTS.get((delivery["channel"], reported))
    if event_type is None:  # queued, sent, ringing, ...: not an outcome
        return Response(status_code=204)
    attributes = {
        **(delivery["context"] or {}),
        "channel_type": delivery["channel"],
        "address": delivery["address"],
        "message_id": sid,
        "destination_phone_number": form.get("To"),
        "origination_phone_number": form.get("From"),
        "record_status": reported,
        "error_code": form.get("ErrorCode"),
        "source": delivery["source"],
        "source_id": delivery["source_id"],
    }
    endpoint_id = delivery["endpoint_id"] or delivery["address"]
    row = engagement.event_row(
        delivery["app_id"], endpoint_id, event_type, attributes, event_id=_event_id(sid, reported)
    )
    async with ctx.engine.begin() as conn:
        if await engagement.record_once(conn, row):  # provider events fire SYSTEM triggers, once
            await outbox.record(conn, ctx.triggers, delivery["app_id"], [row], "SYSTEM")
    return Response(status_code=204)


@router.post("/{app_id}/inbound")
async def inbound(app_id: str, request: Request) -> Response:
    """The webhook of the project's Twilio numbers: carrier keywords opt the sender out or back in."""
    ctx: Context = request.app.state.ctx
    async with ctx.engine.connect() as conn:
        await apps_store.get(conn, app_id)  # NotFound for an unknown project
    form = await _form(request)
    if not _signed(request, form, await _auth_token(ctx, app_id, "SMS")):
        return Response("The request is not signed by Twilio.", status_code=403, media_type="text/plain")
    body, sender = form.get("Body", ""), form.get("From", "")
    keyword = keyword_of(body)
    if keyword is not None and sender:
        opt_out, event_type = _KEYWORD_EVENTS[keyword]
        attributes = {
            "channel_type": "SMS",
            "address": sender,
            "message_id": form.get("MessageSid"),
            "destination_phone_number": sender,
            "origination_phone_number": form.get("To"),
            "keyword": body.strip().upper(),
            "message_body": body,
        }
        async with ctx.engine.begin() as conn:
            ids = await engagement.set_opt_out_by_address(conn, app_id, [sender], opt_out, ["SMS"])
            for endpoint_id in ids:
                event_id = _event_id(form.get("MessageSid", ""), endpoint_id)
                await engagement.record_once(
                    conn, engagement.event_row(app_id, endpoint_id, event_type, attributes, event_id=event_id)
                )
    return Response(str(MessagingResponse()), media_type="text/xml")
