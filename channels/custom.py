"""The CUSTOM channel and campaign hooks: each goes to an https:// webhook or to the user's AWS
Lambda function, whichever the `DeliveryUri` (or `CampaignHook`) names.

A webhook gets one signed POST per recipient (channels/webhook.py). A function gets
Pinpoint's custom-channel event, up to 50 endpoints per invocation as Pinpoint sent them:

    {"Message": {}, "Data": "<the CustomMessage's Data, rendered>", "ApplicationId": "...",
     "CampaignId": "...", "TreatmentId": "...", "ActivityId": "...",       (campaigns)
     "JourneyId": "...", "JourneyActivityId": "...", "ActivityId": "...",  (journeys)
     "ScheduledTime": "2024-05-01T12:00:00.000Z",
     "Endpoints": {"<endpoint id>": {"ChannelType": ..., "Address": ..., "Attributes": ..., ...}},
     "IdempotencyKeys": {"<endpoint id>": "<the message's idempotency key>"}}

`IdempotencyKeys` is OpenPoint's: a message whose invocation was cut short (a worker killed
mid-call, a timeout) is invoked again under the same key, so a function that remembers the keys
it has handled drops the repeat. Endpoints whose Data renders differently (message variables)
go in separate invocations. A campaign hook in DELIVERY mode is the same call with the
treatment's `MessageConfiguration` instead of `Data` (Pinpoint's DELIVERY event).

A function's answer to a custom message is not read (any JSON will do); an error, a refusal or an
answer that is not JSON fails the invocation's endpoints with the reason, a throttle or no answer
is retried like an unreachable provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from channels.aws import Credentials
from channels.deliverer import Outcome, SendMany, TransientDeliveryError, beat, each
from channels.lambda_functions import FunctionFailed, FunctionUnavailable, LambdaInvoker
from channels.webhook import WebhookProvider, custom_event, render_data
from rules.lambdas import FunctionRef, function_ref, is_https
from rules.networks import Refused
from store.channels import ChannelConfig
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

FUNCTION_BATCH = 50  # endpoints per invocation, as Pinpoint
HEARTBEAT_SECONDS = 3.0  # a slow function must not look like a dead worker
T = TypeVar("T")


class HookFailed(Exception):
    """A campaign hook that cannot filter this page, however often it is asked."""


def function_of(target: Any) -> FunctionRef | None:
    """The Lambda function a DeliveryUri or hook names; None for a webhook URL."""
    return function_ref(target) if isinstance(target, str) and not is_https(target) else None


def function_event(batch: DeliveryBatch, recipients: list[Recipient], data: str, scheduled_time: str) -> dict[str, Any]:
    return {
        **custom_event(batch, recipients, data, scheduled_time),
        "IdempotencyKeys": {r.endpoint_id or r.address: r.key for r in recipients},
    }


async def heartbeating(work: Awaitable[T]) -> T:
    """`work`, with the activity's heartbeat kept while it runs."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
        if done:
            return task.result()
        beat()


class CustomChannel:
    """Sends CUSTOM messages and calls campaign hooks. `batch_size`: the Deliverer hands it up to
    that many recipients at once (a function gets them in one invocation)."""

    channel = "CUSTOM"
    batch_size = FUNCTION_BATCH
    # Webhook receivers and functions are asked to drop a repeated idempotency key (README).
    idempotent = True

    def __init__(self, webhooks: WebhookProvider, functions: LambdaInvoker) -> None:
        self.webhooks = webhooks
        self.functions = functions

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[SendMany]:
        ref = function_of(batch.content.get("url"))
        if ref is None:
            async with self.webhooks.session(batch, channel) as send:
                yield each(send)
            return
        credentials = Credentials.from_secrets(channel.secrets if channel else {})
        scheduled_time = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        async def send_many(
            recipients: list[Recipient],
        ) -> AsyncIterator[tuple[Recipient, Outcome | TransientDeliveryError]]:
            by_data: dict[str, list[Recipient]] = {}
            for r in recipients:
                by_data.setdefault(render_data(batch.content, r), []).append(r)
            for data, members in by_data.items():
                event = function_event(batch, members, data, scheduled_time)
                got = await self._invoke(ref, event, credentials)
                for r in members:
                    yield r, got if not isinstance(got, Outcome) else _with_id(got, r.key)

        yield send_many

    async def _invoke(
        self, ref: FunctionRef, event: dict[str, Any], credentials: Credentials
    ) -> Outcome | TransientDeliveryError:
        try:
            await heartbeating(self.functions.invoke(ref, event, credentials))
        except FunctionFailed as e:
            return Outcome(PERMANENT_FAILURE, e.code, e.message)
        except FunctionUnavailable as e:
            return TransientDeliveryError(e.message, e.code)
        return Outcome(SUCCESSFUL, 200, f"Accepted by the Lambda function {ref.name}.")

    async def call_hook(self, target: str, event: dict[str, Any], channel: ChannelConfig | None) -> dict[str, Any]:
        """A FILTER hook's answer to `event` (endpoint id -> endpoint data to send with).
        Raises HookFailed when the hook cannot answer and TransientDeliveryError when it may
        answer later."""
        ref = function_of(target)
        try:
            if ref is None:
                answer = await self.webhooks.call_hook(target, event)
            else:
                credentials = Credentials.from_secrets(channel.secrets if channel else {})
                answer = await heartbeating(self.functions.invoke(ref, event, credentials))
        except (Refused, FunctionFailed) as e:
            raise HookFailed(str(e)) from None
        except FunctionUnavailable as e:
            raise TransientDeliveryError(e.message, e.code) from None
        if not isinstance(answer, dict):
            raise HookFailed(f"The campaign hook answered {type(answer).__name__}, not a map of endpoints.")
        return answer


def _with_id(outcome: Outcome, key: str) -> Outcome:
    if outcome.status != SUCCESSFUL:
        return outcome
    return Outcome(outcome.status, outcome.code, outcome.message, key)
