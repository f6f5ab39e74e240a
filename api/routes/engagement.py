"""Email engagement coming back: the open pixel, click redirects and one-click unsubscribe.

These are reached by recipients' mail clients, not by SDKs, so they carry no SigV4: each URL
holds a token the worker signed when it built the message (channels/email.py), naming the
app, the delivery and the recipient. A token that does not verify is a 404, so the redirect
cannot be used to send people anywhere else. Each hit becomes a standard event tied to the
delivery (its campaign/journey attributes come along from the delivery's context).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.vault import tracking_key
from rules.engagement import verify
from store import engagement, outbox

router = APIRouter(prefix="/engagement/email", tags=["engagement"], include_in_schema=False)

# The smallest transparent GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}


def _payload(request: Request, token: str) -> dict[str, Any] | None:
    ctx = request.app.state.ctx
    return verify(tracking_key(ctx.settings, ctx.vault), token)


async def _record(
    request: Request, conn: AsyncConnection, p: dict[str, Any], event_type: str, **extra: str
) -> dict[str, Any] | None:
    """The event, and the SYSTEM event-triggered campaigns and journeys it fires, in the
    caller's transaction."""
    delivery = await engagement.delivery_by_key(conn, p["k"])
    if delivery is None:  # the delivery row is gone (retention): nothing to tie the event to
        return None
    attributes = {
        **(delivery["context"] or {}),
        "channel_type": "EMAIL",
        "address": p["r"],
        "message_id": delivery["message_id"],
        "source": delivery["source"],
        "source_id": delivery["source_id"],
        **extra,
    }
    row = engagement.event_row(p["a"], p.get("e") or p["r"], event_type, attributes)
    await engagement.record(conn, [row])
    await outbox.record(conn, request.app.state.ctx.triggers, row["app_id"], [row], "SYSTEM")
    return row


@router.get("/open/{token}")
async def open_pixel(token: str, request: Request) -> Response:
    p = _payload(request, token)
    if p is not None:
        async with request.app.state.ctx.engine.begin() as conn:
            await _record(request, conn, p, "_email.open")
    # Answer the pixel even for a bad token: a broken image tells a reader nothing useful.
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/click/{token}")
async def click(token: str, request: Request) -> Response:
    p = _payload(request, token)
    if p is None or not isinstance(p.get("u"), str):
        return Response("This link is not valid.", status_code=404, media_type="text/plain")
    async with request.app.state.ctx.engine.begin() as conn:
        await _record(request, conn, p, "_email.click", link=p["u"])
    return RedirectResponse(p["u"], status_code=302, headers=NO_STORE)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head><body style="font-family:sans-serif;max-width:32em;margin:3em auto">{body}</body></html>"""


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(token: str, request: Request) -> Response:
    # A GET only shows the button: mail scanners fetch links, and must not unsubscribe anyone.
    p = _payload(request, token)
    if p is None:
        return Response("This link is not valid.", status_code=404, media_type="text/plain")
    body = (
        f"<p>Stop sending email to <b>{html.escape(p['r'])}</b>?</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body), headers=NO_STORE)


@router.post("/unsubscribe/{token}")
async def unsubscribe(token: str, request: Request) -> Response:
    """The form's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`) both land here."""
    p = _payload(request, token)
    if p is None:
        return Response("This link is not valid.", status_code=404, media_type="text/plain")
    async with request.app.state.ctx.engine.begin() as conn:
        if p.get("e"):
            await engagement.set_opt_out(conn, p["a"], [p["e"]], "ALL")
        # The person asked for this address to get no more mail from the project.
        await engagement.set_opt_out_by_address(conn, p["a"], [p["r"]], "ALL", ["EMAIL"])
        await _record(request, conn, p, "_email.unsubscribe")
    body = f"<p><b>{html.escape(p['r'])}</b> will receive no more email from us.</p>"
    return HTMLResponse(_PAGE.format(title="Unsubscribed", body=body), headers=NO_STORE)
