"""SendMessages and SendUsersMessages: the gateway plans per-recipient deliveries, runs them as
one workflow and reports per recipient. The work is api/messages.py's, which the console's
template test send calls too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import messages
from api.operations import Call, pinpoint

router = APIRouter(tags=["messages"])


@pinpoint(router, "SendMessages")
async def send_messages(call: Call) -> dict[str, Any]:
    return await messages.send_messages(call.ctx, call.app_id, call.body, request_id=call.request_id)


@pinpoint(router, "SendUsersMessages")
async def send_users_messages(call: Call) -> dict[str, Any]:
    return await messages.send_users_messages(call.ctx, call.app_id, call.body, request_id=call.request_id)
