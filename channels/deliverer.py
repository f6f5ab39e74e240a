"""The one delivery mechanism every channel goes through.

For each recipient of a batch: log the idempotency key (a retried activity finds it and does
not send again), mark the row SENDING, hand the message to the channel's provider, record the
outcome together with its standard events (`_email.send`, `_SMS.BUFFERED`, ...) in one
transaction. Permanent failures are recorded and returned; transient ones are retried by
Temporal (the activity raises after finishing the rest of the batch) until the last attempt,
which records them as TEMPORARY_FAILURE.

Providers get the project's channel settings with credentials decrypted here, in the worker, so
secrets never enter workflow histories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from openpoint.vault import Vault, unseal
from rules.engagement import delivery_events
from store import channels as channels_store
from store import deliveries as log
from store import engagement, outbox
from store.channels import ChannelConfig
from workflows.shared import (
    PERMANENT_FAILURE,
    TEMPORARY_FAILURE,
    UNKNOWN_FAILURE,
    DeliveryBatch,
    DeliveryResult,
    Recipient,
)

UNCERTAIN_WINDOW = 10  # messages marked SENDING at once for providers that cannot drop repeats
FINAL = {"SUCCESSFUL", PERMANENT_FAILURE, TEMPORARY_FAILURE, UNKNOWN_FAILURE, "OPT_OUT", "THROTTLED"}


@dataclass(frozen=True)
class Outcome:
    status: str
    code: int
    message: str
    message_id: str | None = None
    # The provider says the address can never receive (FCM UNREGISTERED): the endpoint goes
    # INACTIVE so later sends skip it.
    endpoint_inactive: bool = False
    # The provider says the recipient opted out with it (Twilio 21610, after a STOP): the endpoint
    # is opted out here too.
    endpoint_opt_out: bool = False


def beat(*details: Any) -> None:
    """Heartbeat, except in local activities (event-triggered sends), which have none."""
    if not activity.info().is_local:
        activity.heartbeat(*details)


class TransientDeliveryError(Exception):
    """The provider may accept the message later (timeouts, 4xx SMTP replies, 429, 5xx HTTP)."""

    def __init__(self, message: str, code: int = 503) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


Send = Callable[[Recipient], Awaitable[Outcome]]
# A provider that hands several recipients over in one call (a Lambda invocation) yields each
# recipient's outcome, or the transient error its call met, as the call ends.
SendMany = Callable[[list[Recipient]], AsyncIterator[tuple[Recipient, Outcome | TransientDeliveryError]]]


THROTTLED_CODE = 429  # a provider's "too many requests"


def each(send: Send) -> SendMany:
    """A one-recipient-at-a-time sender as a SendMany. Once the provider answers 429, the rest
    of the batch is not offered to it: each gets that answer and is left for a later attempt,
    which Temporal starts after a backoff. A throttled provider meets one request per batch in
    flight, not a storm of them."""

    async def send_many(
        recipients: list[Recipient],
    ) -> AsyncIterator[tuple[Recipient, Outcome | TransientDeliveryError]]:
        throttled: TransientDeliveryError | None = None
        for r in recipients:
            if throttled is not None:
                yield r, throttled
                continue
            try:
                yield r, await send(r)
            except TransientDeliveryError as e:
                throttled = e if e.code == THROTTLED_CODE else None
                yield r, e

    return send_many


class Provider(Protocol):
    """A channel's sender. A provider may also set `idempotent = True` when its peer drops a
    repeated idempotency key: a message a dead worker left mid-handover is then sent again
    instead of being reported UNKNOWN_FAILURE."""

    channel: str

    def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AbstractAsyncContextManager[Send]:
        """A connection (or client) reused for the whole batch. `channel` is None when the
        project has no settings for the channel (custom webhooks need none)."""
        ...


class BatchProvider(Protocol):
    """A sender whose session takes up to `batch_size` recipients per call (SendMany)."""

    channel: str
    batch_size: int

    def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AbstractAsyncContextManager[SendMany]: ...


def _result(r: Recipient, outcome: Outcome) -> DeliveryResult:
    return DeliveryResult(
        r.key, r.address, r.endpoint_id, outcome.status, outcome.code, outcome.message, outcome.message_id
    )


def _from_row(r: Recipient, row: dict[str, Any]) -> DeliveryResult:
    outcome = Outcome(row["status"], row["status_code"] or 0, row["status_message"] or "", row["message_id"])
    return _result(r, outcome)


class Deliverer:
    def __init__(
        self,
        engine: AsyncEngine,
        vault: Vault,
        providers: Mapping[str, Provider | BatchProvider],
        triggers: outbox.TriggerIndex | None = None,
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._providers = providers
        # The standard events each delivery records fire SYSTEM event-triggered campaigns and
        # journeys: their triggers go to the outbox in the same transaction as the events.
        self._triggers = triggers

    async def channel_config(self, app_id: str, channel_type: str) -> ChannelConfig | None:
        async with self._engine.connect() as conn:
            return await channels_store.config(conn, self._vault, app_id, channel_type)

    async def deliver(
        self, batch: DeliveryBatch, *, last_attempt: bool
    ) -> tuple[list[DeliveryResult], list[TransientDeliveryError]]:
        """Send what the log says is still to send. Returns the final results (in recipient
        order) and the transient errors of recipients left PENDING for a later attempt; other
        activities (campaign pages) call this inside their own retries."""
        provider = self._providers.get(batch.channel)
        # A provider that drops repeated keys is handed the whole batch as one window, each
        # message it finds PENDING or SENDING: new rows are logged SENDING at once.
        idempotent = bool(getattr(provider, "idempotent", False))
        async with self._engine.begin() as conn:
            rows = await log.claim(
                conn,
                [
                    {
                        "idempotency_key": r.key,
                        "app_id": batch.app_id,
                        "channel": batch.channel,
                        "address": r.address,
                        "endpoint_id": r.endpoint_id,
                        "source": batch.source,
                        "source_id": batch.source_id,
                        "context": {**batch.attributes, **r.context} or None,
                    }
                    for r in batch.recipients
                ],
                sending=idempotent,
            )
        fresh = {key for key, row in rows.items() if row.get("fresh")}
        results: dict[str, DeliveryResult] = {}
        todo: list[Recipient] = []
        for r in batch.recipients:
            row = rows[r.key]
            if row["status"] in FINAL:
                results[r.key] = _from_row(r, row)
            elif row["status"] == log.SENDING and getattr(provider, "idempotent", False):
                # An earlier attempt died while handing this one over; the provider drops a
                # repeat of the same idempotency key, so sending again cannot duplicate it.
                todo.append(r)
            elif row["status"] == log.SENDING:
                # An earlier attempt died while handing this one over: it may have gone out, so
                # it is not sent again.
                outcome = Outcome(
                    UNKNOWN_FAILURE,
                    500,
                    "The worker stopped while this message was being sent; it was not sent again to avoid a duplicate.",
                )
                await self._record(batch, r, outcome)
                results[r.key] = _result(r, outcome)
            else:
                todo.append(r)

        transient = await self._send_all(batch, todo, results, last_attempt, fresh)
        return [results[r.key] for r in batch.recipients if r.key in results], transient

    async def _send_all(
        self,
        batch: DeliveryBatch,
        todo: list[Recipient],
        results: dict[str, DeliveryResult],
        last_attempt: bool,
        fresh: Collection[str] = (),  # keys the claim wrote SENDING: this caller's already
    ) -> list[TransientDeliveryError]:
        provider = self._providers.get(batch.channel)
        if provider is None:
            for r in todo:
                outcome = Outcome(PERMANENT_FAILURE, 400, f"OpenPoint cannot send on the {batch.channel} channel.")
                await self._record(batch, r, outcome)
                results[r.key] = _result(r, outcome)
            return []
        channel = await self.channel_config(batch.app_id, batch.channel) if todo else None
        transient: list[TransientDeliveryError] = []
        # Messages are marked SENDING a window at a time and their outcomes recorded together:
        # two statements per window instead of per message. A worker that dies mid-window leaves
        # the window SENDING; an idempotent provider (whole batch as one window) gets those sent
        # again under the same key, any other reports them UNKNOWN_FAILURE, so the window is
        # kept small for them.
        idempotent = bool(getattr(provider, "idempotent", False))
        batch_size = int(getattr(provider, "batch_size", 0))
        window = batch_size or (max(1, len(todo)) if idempotent else UNCERTAIN_WINDOW)
        try:
            async with provider.session(batch, channel) as opened:
                send_many = cast(SendMany, opened) if batch_size else each(cast(Send, opened))
                for start in range(0, len(todo), window):
                    group = todo[start : start + window]
                    beat(start)
                    # Rows the claim wrote SENDING are this caller's already.
                    mine = {r.key for r in group if r.key in fresh}
                    if len(mine) < len(group):
                        async with self._engine.begin() as conn:
                            rest = [r.key for r in group if r.key not in fresh]
                            mine |= await log.mark_sending(conn, rest, resend=idempotent)
                    # A key another worker is sending right now is left to it: no result here.
                    by_key = {r.key: r for r in group if r.key in mine}
                    outcomes: list[tuple[Recipient, Outcome | None]] = []
                    try:
                        async for sent, got in send_many([self._opened(r) for r in by_key.values()]):
                            r = by_key[sent.key]
                            if isinstance(got, TransientDeliveryError):
                                if not last_attempt:
                                    outcomes.append((r, None))
                                    transient.append(got)
                                    continue
                                got = Outcome(TEMPORARY_FAILURE, got.code, got.message)
                            outcomes.append((r, got))
                            results[r.key] = _result(r, got)
                    finally:
                        await self._record_many(batch, outcomes)
        except TransientDeliveryError as e:  # the provider could not be reached at all
            left: list[tuple[Recipient, Outcome | None]] = []
            for r in todo:
                if r.key in results:
                    continue
                if not last_attempt:
                    left.append((r, None))
                    transient.append(e)
                else:
                    outcome = Outcome(TEMPORARY_FAILURE, e.code, e.message)
                    left.append((r, outcome))
                    results[r.key] = _result(r, outcome)
            await self._record_many(batch, left)
        return transient

    def _opened(self, r: Recipient) -> Recipient:
        if r.sealed is None:
            return r
        return replace(r, substitutions={**r.substitutions, **unseal(self._vault, r.key, r.sealed)}, sealed=None)

    async def _record(self, batch: DeliveryBatch, r: Recipient, outcome: Outcome | None) -> None:
        await self._record_many(batch, [(r, outcome)])

    async def _record_many(self, batch: DeliveryBatch, outcomes: list[tuple[Recipient, Outcome | None]]) -> None:
        """Outcomes, their standard events and what they do to endpoints, in one transaction;
        None puts a message back to PENDING (not handed over: a later attempt may send it)."""
        if not outcomes:
            return
        rows: list[dict[str, Any]] = []
        async with self._engine.begin() as conn:
            await log.record_many(
                conn,
                [
                    (r.key, log.PENDING, None, None, None)
                    if o is None
                    else (r.key, o.status, o.code, o.message[:1000], o.message_id)
                    for r, o in outcomes
                ],
            )
            for r, outcome in outcomes:
                if outcome is None:
                    continue
                attributes = {
                    **batch.attributes,
                    **r.context,
                    "channel_type": batch.channel,
                    "address": r.address,
                    "message_id": outcome.message_id,
                    "delivery_status": outcome.status,
                    "status_code": outcome.code,
                    "source": batch.source,
                    "source_id": batch.source_id,
                }
                endpoint_id = r.endpoint_id or r.address
                rows.extend(
                    engagement.event_row(batch.app_id, endpoint_id, name, attributes)
                    for name in delivery_events(batch.channel, outcome.status)
                )
                if outcome.endpoint_inactive and r.endpoint_id:
                    await engagement.deactivate(conn, batch.app_id, r.endpoint_id)
                if outcome.endpoint_opt_out and r.endpoint_id:
                    await engagement.set_opt_out(conn, batch.app_id, [r.endpoint_id], "ALL")
            if rows:
                await engagement.record(conn, rows)
                if self._triggers is not None:
                    await outbox.record(conn, self._triggers, batch.app_id, rows, "SYSTEM")
