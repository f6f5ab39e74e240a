"""SendMessages' and SendUsersMessages' work, importable: the routes (api/routes/messages.py) and
the console's template test send call these, so both refuse exactly the same requests and send
through the same path.

Both operations go through one planner: every recipient (a raw address, an endpoint, or an
endpoint of a user) either gets its result at once (DUPLICATE, OPT_OUT, a channel that is off,
no content for its channel) or joins the batch of its channel. Content is chosen per channel
from the request and the templates it names, and checked before anything is sent; content,
eligibility and recipients come from the one sending pipeline (sending/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from api.context import Context
from api.direct_send import run_direct_send
from openpoint.errors import BadRequest
from rules import eligibility
from rules.messages import EMAIL, check_recipient_count
from sending.content import direct_contents, with_sender
from sending.recipients import endpoint_recipient, idempotency_key, request_message
from store import apps as apps_store
from store import channels as channels_store
from store import endpoints as endpoints_store
from wire.codec import decode_body
from wire.model import operation
from workflows.shared import (
    DUPLICATE,
    OPT_OUT,
    PERMANENT_FAILURE,
    DeliveryBatch,
    DirectSendInput,
    Recipient,
)

BATCH_SIZE = 50
# Channels with a provider; the others (ADM, Baidu, in-app) are answered per recipient.
SENDABLE = frozenset({"EMAIL", "SMS", "VOICE", "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX"})
# Another start of the same workflow id was still running with other recipients (a form changed
# and submitted again before the first answer): its run is the one that went.
_NOT_THIS_RUN = "Not sent: a send of this form was still running; reload the page to send again."


def workflow_id(app_id: str, scope: str) -> str:
    """The direct send's workflow id; `scope` is the request id, or the console form's
    idempotency key, so that a form submitted twice starts (or joins) one workflow."""
    return f"send-{app_id}-{scope}"


def message_request(fields: dict[str, Any]) -> dict[str, Any]:
    """A MessageRequest from fields that did not come over the wire (the console's test send),
    decoded and checked against botocore's model as SendMessages' body would be."""
    op = operation("SendMessages")
    return decode_body(orjson.dumps(fields), op.payload_shape, op.payload_member)


def _failed(status: str, code: int, message: str) -> dict[str, Any]:
    return {"DeliveryStatus": status, "StatusCode": code, "StatusMessage": message}


@dataclass
class _Target:
    out: dict[str, Any]  # the response map the result goes into
    out_key: str
    channel: str
    recipient: Recipient
    with_address: bool  # EndpointMessageResult carries the Address


@dataclass
class _Plan:
    """One direct-send request, planned: results known now, and recipients per channel."""

    ctx: Context
    app_id: str
    request_id: str
    wire: str  # the request structure's name, for error messages
    body: dict[str, Any]
    workflow_id: str
    targets: list[_Target] = field(default_factory=list)
    admitted: dict[str, list[_Target]] = field(default_factory=dict)
    contents: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def add_address(self, out: dict[str, Any], address: str, cfg: dict[str, Any]) -> None:
        """A raw address recipient, on the channel its AddressConfiguration names."""
        r = Recipient(
            key=idempotency_key(self.workflow_id, 0, address),
            address=address,
            endpoint={"Address": address, "ChannelType": cfg["ChannelType"]},
            **request_message(cfg, self.body.get("Context")),
        )
        self.targets.append(_Target(out, address, cfg["ChannelType"], r, False))

    def add_endpoint(self, out: dict[str, Any], out_key: str, row: dict[str, Any] | None, cfg: dict[str, Any]) -> None:
        """An endpoint recipient; Pinpoint honours its OptOut and EndpointStatus."""
        if row is None:
            out[out_key] = _failed(PERMANENT_FAILURE, 404, "Endpoint not found.")
            return
        # The channel is checked with the request's content (`prepare`), as for raw addresses.
        reason = eligibility.unreachable(row, needs_channel=False)
        if reason == eligibility.OPT_OUT:
            out[out_key] = {"Address": row["address"], **_failed(OPT_OUT, 400, "The endpoint has opted out.")}
            return
        if reason is not None:  # inactive, or without an address
            why = "The endpoint is inactive." if row["address"] else "The endpoint has no address."
            out[out_key] = {"Address": row["address"], **_failed(PERMANENT_FAILURE, 400, why)}
            return
        key = idempotency_key(self.workflow_id, 0, f"endpoint/{row['id']}")
        r = endpoint_recipient(key, row, **request_message(cfg, self.body.get("Context")))
        self.targets.append(_Target(out, out_key, row["channel_type"] or "", r, True))

    async def prepare(self, conn: AsyncConnection) -> None:
        """Choose content per channel (refusing bad content before anything is sent) and decide
        every target's fate; refusals land in the response at once."""
        channels = {t.channel for t in self.targets}
        self.contents = await self._contents(conn, channels)
        rows = {c: await channels_store.get(conn, self.app_id, c) for c in channels if c in SENDABLE}
        seen: set[tuple[str, str]] = set()
        for t in self.targets:
            refusal = self._refusal(t, seen, rows.get(t.channel), self.contents.get(t.channel))
            if refusal is not None:
                t.out[t.out_key] = {"Address": t.recipient.address, **refusal} if t.with_address else refusal
                continue
            self.admitted.setdefault(t.channel, []).append(t)
        email = rows.get(EMAIL)
        if EMAIL in self.admitted and email is not None:
            self.contents[EMAIL] = with_sender(self.contents[EMAIL] or {}, email)

    async def deliver(self) -> None:
        """Send to the admitted targets as one workflow; results land in the response."""
        if not self.admitted:
            return
        batches: list[DeliveryBatch] = []
        for channel, targets in self.admitted.items():
            content = self.contents[channel]
            assert content is not None
            for i in range(0, len(targets), BATCH_SIZE):
                batches.append(
                    DeliveryBatch(
                        app_id=self.app_id,
                        channel=channel,
                        source="direct",
                        source_id=self.request_id,
                        content=content,
                        recipients=[t.recipient for t in targets[i : i + BATCH_SIZE]],
                    )
                )
        where = {t.recipient.key: t for ts in self.admitted.values() for t in ts}
        request = DirectSendInput(app_id=self.app_id, batches=batches)
        for r in await run_direct_send(self.ctx, self.workflow_id, request):
            t = where.get(r.key)
            if t is None:  # a recipient of a run this request joined (engine/direct_send.py)
                continue
            entry = _failed(r.delivery_status, r.status_code, r.status_message)
            if r.message_id:
                entry["MessageId"] = r.message_id
            if t.with_address:
                entry["Address"] = r.address
            t.out[t.out_key] = entry
        for t in where.values():
            if t.out_key not in t.out:
                t.out[t.out_key] = _failed(PERMANENT_FAILURE, 409, _NOT_THIS_RUN)

    def _refusal(
        self, t: _Target, seen: set[tuple[str, str]], channel_row: dict[str, Any] | None, content: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        address = t.recipient.address
        if (t.channel, address) in seen:
            return _failed(DUPLICATE, 400, "The address appears more than once in the request.")
        seen.add((t.channel, address))
        if t.channel not in SENDABLE:
            return _failed(PERMANENT_FAILURE, 400, f"OpenPoint does not send on the {t.channel or 'unknown'} channel.")
        if channel_row is None or not channel_row["enabled"]:
            return _failed(PERMANENT_FAILURE, 400, f"The {t.channel} channel is not enabled for this project.")
        if content is None:
            return _failed(PERMANENT_FAILURE, 400, f"The request has no {t.channel} content for this address.")
        return None

    async def _contents(self, conn: AsyncConnection, channels: set[str]) -> dict[str, dict[str, Any] | None]:
        return await direct_contents(
            conn,
            sorted(channels & SENDABLE),
            config=self.body["MessageConfiguration"],
            templates=self.body.get("TemplateConfiguration") or {},
            field=f"{self.wire}.MessageConfiguration",
        )


async def send_messages(
    ctx: Context, app_id: str, body: dict[str, Any], *, request_id: str, scope: str | None = None
) -> dict[str, Any]:
    """SendMessages: `body` is a decoded MessageRequest; answers the MessageResponse. `scope`
    names the workflow (`workflow_id`) when the caller has its own idempotency key."""
    plan = _Plan(ctx, app_id, request_id, "MessageRequest", body, workflow_id(app_id, scope or request_id))
    addresses: dict[str, Any] = body.get("Addresses") or {}
    endpoint_cfgs: dict[str, Any] = body.get("Endpoints") or {}
    check_recipient_count(len(addresses), len(endpoint_cfgs), plan.wire)
    for address, cfg in addresses.items():
        if "ChannelType" not in cfg:
            raise BadRequest(f"Missing required member {plan.wire}.Addresses.{address}.ChannelType.")

    result: dict[str, Any] = {}
    endpoint_result: dict[str, Any] = {}
    async with ctx.engine.connect() as conn:
        await apps_store.get(conn, app_id)
        for address, cfg in addresses.items():
            plan.add_address(result, address, cfg)
        for eid, cfg in endpoint_cfgs.items():
            plan.add_endpoint(endpoint_result, eid, await endpoints_store.get(conn, app_id, eid), cfg)
        await plan.prepare(conn)
    await plan.deliver()
    return {
        "ApplicationId": app_id,
        "RequestId": request_id,
        "Result": result or None,
        "EndpointResult": endpoint_result or None,
    }


async def send_users_messages(ctx: Context, app_id: str, body: dict[str, Any], *, request_id: str) -> dict[str, Any]:
    """SendUsersMessages: `body` is a decoded SendUsersMessageRequest; answers the
    SendUsersMessageResponse."""
    plan = _Plan(ctx, app_id, request_id, "SendUsersMessageRequest", body, workflow_id(app_id, request_id))
    users: dict[str, Any] = body["Users"]
    if not users:
        raise BadRequest(f"Invalid value for {plan.wire}.Users: name at least one user.")
    if len(users) > 100:
        raise BadRequest(f"Invalid value for {plan.wire}.Users: at most 100 users per request.")
    result: dict[str, dict[str, Any]] = {}
    async with ctx.engine.connect() as conn:
        await apps_store.get(conn, app_id)
        for user_id, cfg in users.items():
            out = result.setdefault(user_id, {})
            for row in await endpoints_store.of_user(conn, app_id, user_id):
                plan.add_endpoint(out, row["id"], row, cfg)
        await plan.prepare(conn)
    await plan.deliver()
    return {"ApplicationId": app_id, "RequestId": request_id, "Result": result}
