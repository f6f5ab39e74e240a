"""What splits that wait for events read: the listeners (participants waiting at a split for
events of their endpoints, which the dispatcher signals to them) and the participant's events
that a condition looks at."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import JourneyListener

listeners: Any = JourneyListener.__table__  # type: ignore[attr-defined]

EVENTS_READ = 1000  # a condition looks at the first this many events of the participant


# -- listeners ------------------------------------------------------------------------------------
async def listen(
    conn: AsyncConnection,
    app_id: str,
    journey_id: str,
    workflow_id: str,
    endpoint_ids: Sequence[str],
    since: datetime,
    until: datetime,
) -> None:
    if not endpoint_ids:
        return
    stmt = insert(listeners).values(
        [
            {
                "app_id": app_id,
                "endpoint_id": e,
                "workflow_id": workflow_id,
                "journey_id": journey_id,
                "since": since,
                "until": until + timedelta(minutes=1),
            }
            for e in endpoint_ids
        ]
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[listeners.c.app_id, listeners.c.endpoint_id, listeners.c.workflow_id],
            set_={"since": stmt.excluded.since, "until": stmt.excluded.until},
        )
    )


async def unlisten(conn: AsyncConnection, app_id: str, workflow_id: str) -> None:
    await conn.execute(delete(listeners).where(listeners.c.app_id == app_id, listeners.c.workflow_id == workflow_id))


async def listening(conn: AsyncConnection, app_id: str, endpoint_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Workflows waiting for events of these endpoints."""
    result = await conn.execute(
        select(listeners).where(listeners.c.app_id == app_id, listeners.c.endpoint_id.in_(list(endpoint_ids)))
    )
    return [dict(r) for r in result.mappings()]


# -- the events a condition reads -----------------------------------------------------------------
_EVENTS = "SELECT event_type, attributes, metrics FROM events WHERE app_id = :app AND endpoint_id = ANY(:ids)"


async def engagement(
    conn: AsyncConnection,
    app_id: str,
    endpoint_ids: Sequence[str],
    *,
    journey_id: str,
    activity_id: str,
    entry_key: str,
) -> list[dict[str, Any]]:
    """Events of the endpoints about the message `activity_id` sent in this entry (opens,
    clicks, deliveries, ...), oldest first: (event_type, attributes, metrics) rows. Engagement
    carries the entry it belongs to: no clock needed to tell it apart."""
    sql = (
        _EVENTS + " AND attributes ->> 'journey_id' = :journey AND attributes ->> 'journey_activity_id' = :message"
        " AND attributes ->> 'journey_entry' = :entry"
        " ORDER BY event_time LIMIT " + str(EVENTS_READ)
    )
    params = {
        "app": app_id,
        "ids": list(endpoint_ids),
        "journey": journey_id,
        "message": activity_id,
        "entry": entry_key,
    }
    return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]


async def events_since(
    conn: AsyncConnection, app_id: str, endpoint_ids: Sequence[str], since: datetime
) -> list[dict[str, Any]]:
    """Any events of the endpoints at or after `since`, oldest first: (event_type, attributes,
    metrics) rows."""
    sql = _EVENTS + " AND event_time >= :since ORDER BY event_time LIMIT " + str(EVENTS_READ)
    params = {"app": app_id, "ids": list(endpoint_ids), "since": since}
    return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]
