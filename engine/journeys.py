"""The journey family's Temporal client side. Participant workflows are started here, wherever
they are started from (the journey's entry cycle, PutEvents, the API, a test run), with the
same id, reuse policy and search attributes; participants are told of the journey's state and of
the events their splits wait for here; and the journey's own workflow is signalled here.

The search attributes make a participant findable in the Temporal Web UI
(`OpenPointJourney = "..." AND OpenPointEndpoint = "..."`). They must be registered with the
namespace first; a server that cannot register them (the time-skipping test server) gets
participants without them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from engine.outages import unreachable
from rules.instants import read_iso
from rules.participants import participant_workflow_id
from workflows.journey import (
    ENGAGEMENT,
    STATE,
    JourneyInput,
    JourneyParticipantWorkflow,
    JourneyWorkflow,
    ParticipantInput,
    journey_workflow_id,
)

log = logging.getLogger("openpoint.journeys")

APP = SearchAttributeKey.for_keyword("OpenPointApp")
JOURNEY = SearchAttributeKey.for_keyword("OpenPointJourney")
ENDPOINT = SearchAttributeKey.for_keyword("OpenPointEndpoint")
USER = SearchAttributeKey.for_keyword("OpenPointUser")
KEYS = (APP, JOURNEY, ENDPOINT, USER)

START_CONCURRENCY = 32  # participant starts in flight at once, per entry-cycle page
SIGNAL_CONCURRENCY = 32  # state signals in flight at once, per page of participants

_registered: dict[tuple[int, str], bool] = {}


async def ensure_search_attributes(client: Client) -> bool:
    """Register the keys once per client and namespace; False when the server cannot."""
    key = (id(client), client.namespace)
    if key in _registered:
        return _registered[key]
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {k.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for k in KEYS}
        for name in list(missing):
            if name in listed.custom_attributes:
                del missing[name]
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(search_attributes=missing, namespace=client.namespace)
            )
        ok = True
    except RPCError as e:
        log.info("search attributes not available on this server (%s); participants are started without them", e)
        ok = False
    _registered[key] = ok
    return ok


def search_attributes(who: ParticipantInput) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(APP, who.app_id),
        SearchAttributePair(JOURNEY, who.journey_id),
        SearchAttributePair(ENDPOINT if who.kind == "ENDPOINT" else USER, who.participant),
    ]
    return TypedSearchAttributes(pairs)


def participant_start_options(
    who: ParticipantInput, task_queue: str, *, searchable: bool, now: datetime | None = None
) -> dict[str, Any]:
    """Keyword arguments for Client.start_workflow. An entry is started once: its id names the
    participant and the entry, and a finished entry is never run again under the same id. A
    participant that took its first steps before (journeys/prestart.py) starts delayed to the
    end of the hold they asked for (`now`: Temporal's time), those steps as its summary."""
    options: dict[str, Any] = {
        "id": participant_workflow_id(who.app_id, who.journey_id, who.participant, who.entry_key),
        "task_queue": task_queue,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }
    if searchable:
        options["search_attributes"] = search_attributes(who)
    if who.resume is not None:
        options["static_summary"] = resumed_summary(who)
        if who.resume.hold_until is not None and now is not None:
            delay = read_iso(who.resume.hold_until) - now
            if delay > timedelta(0):
                options["start_delay"] = delay
    return options


def resumed_summary(who: ParticipantInput) -> str:
    """The steps a participant took before its workflow started, for the Web UI:
    `send1: SUCCESSFUL, wait: ARRIVED → send2 at 2026-12-06T21:40:00+00:00`."""
    resume = who.resume
    assert resume is not None
    taken = ", ".join(f"{s['Activity']}: {s['Outcome']}" for s in resume.path)
    if resume.next is None:
        return f"{taken} (left)"
    ahead = resume.activity if resume.evaluate else resume.next
    return f"{taken} → {ahead}" + (f" at {resume.hold_until}" if resume.hold_until else "")


# -- participants ----------------------------------------------------------------------------------
async def start_participant(client: Client, who: ParticipantInput, task_queue: str, *, eager: bool = False) -> str:
    """Start one entry; the same entry again (a retry, the same event or EntryKey twice) leaves
    the one started first running. `eager`: the worker of this process takes the first workflow
    task with the start's answer. Returns the participant's workflow id."""
    options = participant_start_options(who, task_queue, searchable=await ensure_search_attributes(client))
    try:
        await client.start_workflow(JourneyParticipantWorkflow.run, who, request_eager_start=eager, **options)
    except WorkflowAlreadyStartedError:
        pass
    return str(options["id"])


async def start_participants(
    client: Client,
    starts: Sequence[ParticipantInput],
    task_queue: str,
    *,
    each: Callable[[], None] | None = None,
    prepare: Callable[[ParticipantInput], Awaitable[ParticipantInput]] | None = None,
    now: Callable[[], datetime] | None = None,
) -> None:
    """An entry cycle's page of admitted participants, `START_CONCURRENCY` at a time; `each` is
    called after every start (the admitting activity's heartbeat). `prepare` runs first for each
    (its first steps: journeys/prestart.py) and answers what to start; `now`: Temporal's time."""
    if not starts:
        return
    searchable = await ensure_search_attributes(client)
    gate = asyncio.Semaphore(START_CONCURRENCY)

    async def one(who: ParticipantInput) -> None:
        async with gate:
            if prepare is not None:
                who = await prepare(who)
            options = participant_start_options(
                who, task_queue, searchable=searchable, now=now() if now is not None else None
            )
            try:
                await client.start_workflow(JourneyParticipantWorkflow.run, who, **options)
            except WorkflowAlreadyStartedError:
                pass  # a page retried after a crash: this one started the first time
        if each is not None:
            each()

    await asyncio.gather(*(one(w) for w in starts))


async def tell_state(client: Client, workflow_ids: Sequence[str], state: str, at: str) -> None:
    """The journey's state (PAUSED, ACTIVE, CANCELLED, DELETED) and when it took it, to each
    participant, `SIGNAL_CONCURRENCY` at a time; participants that finished meanwhile are skipped."""
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def tell(workflow_id: str) -> None:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).signal(STATE, args=[state, at])
            except RPCError:
                pass  # finished meanwhile

    await asyncio.gather(*(tell(w) for w in workflow_ids))


async def tell_engagement(client: Client, workflow_id: str, event: dict[str, Any]) -> bool:
    """An event of its endpoints, to a participant waiting at a split; False when it has moved
    on (finished), raises the RPCError when Temporal could not be reached."""
    try:
        await client.get_workflow_handle(workflow_id).signal(ENGAGEMENT, event)
    except RPCError as e:
        if unreachable(e):
            raise
        log.debug("participant %s moved on before the event: %s", workflow_id, e)
        return False
    return True


# -- the journey's own workflow --------------------------------------------------------------------
async def signal_journey(client: Client, task_queue: str, app_id: str, journey_id: str, signal: str) -> None:
    """Signal-with-start the journey's workflow (REFRESH or SEGMENT_CHANGED): a journey whose
    workflow ended (closed, then published again) gets a new one under the same id."""
    await client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(app_id, journey_id),
        id=journey_workflow_id(app_id, journey_id),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal=signal,
    )
