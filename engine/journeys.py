"""How participant workflows are started, wherever they are started from (the journey's entry
cycle, PutEvents, the API, a test run): the same id, reuse policy and search attributes.

The search attributes make a participant findable in the Temporal Web UI
(`OpenPointJourney = "..." AND OpenPointEndpoint = "..."`). They must be registered with the
namespace first; a server that cannot register them (the time-skipping test server) gets
participants without them.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError

from rules.participants import participant_workflow_id
from workflows.journey import ParticipantInput

log = logging.getLogger("openpoint.journeys")

APP = SearchAttributeKey.for_keyword("OpenPointApp")
JOURNEY = SearchAttributeKey.for_keyword("OpenPointJourney")
ENDPOINT = SearchAttributeKey.for_keyword("OpenPointEndpoint")
USER = SearchAttributeKey.for_keyword("OpenPointUser")
KEYS = (APP, JOURNEY, ENDPOINT, USER)

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


def participant_start_options(who: ParticipantInput, task_queue: str, *, searchable: bool) -> dict[str, Any]:
    """Keyword arguments for Client.start_workflow. An entry is started once: its id names the
    participant and the entry, and a finished entry is never run again under the same id."""
    options: dict[str, Any] = {
        "id": participant_workflow_id(who.app_id, who.journey_id, who.participant, who.entry_key),
        "task_queue": task_queue,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }
    if searchable:
        options["search_attributes"] = search_attributes(who)
    return options
