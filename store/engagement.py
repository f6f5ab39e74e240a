"""Writes that engagement causes: standard events tied to a message, opt-outs, deactivations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from store.events import insert_events
from store.tables import Delivery, Endpoint, Event

deliveries = Delivery.__table__  # type: ignore[attr-defined]
endpoints = Endpoint.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]


def event_row(
    app_id: str,
    endpoint_id: str,
    event_type: str,
    attributes: dict[str, Any],
    *,
    at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An events row for a standard event. A deterministic `event_id` lets a retried write be
    recognised; engagement (opens, clicks) uses fresh ids since each one is a new event."""
    return {
        "app_id": app_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id or uuid.uuid4().hex,
        "event_type": event_type,
        "event_time": at or datetime.now(UTC),
        "session_id": None,
        "attributes": {k: str(v) for k, v in attributes.items() if v is not None},
        "metrics": {},
        "client": {},
    }


async def record(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await insert_events(conn, rows)


async def record_once(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Write `row` unless an event with its id is already stored: providers retry callbacks,
    and a callback names one state change that happened once."""
    # Serialises concurrent deliveries of the same callback until this transaction ends.
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(row["event_id"]))))
    seen = await conn.scalar(
        select(
            exists().where(
                events.c.app_id == row["app_id"],
                events.c.endpoint_id == row["endpoint_id"],
                events.c.event_id == row["event_id"],
            )
        )
    )
    if not seen:
        await insert_events(conn, [row])
    return not seen


async def delivery_by_key(conn: AsyncConnection, key: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(deliveries).where(deliveries.c.idempotency_key == key))).mappings().first()
    return dict(row) if row else None


async def delivery_by_message_id(conn: AsyncConnection, message_id: str) -> dict[str, Any] | None:
    stmt = select(deliveries).where(deliveries.c.message_id == message_id).limit(1)
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def set_opt_out(conn: AsyncConnection, app_id: str, endpoint_ids: Sequence[str], opt_out: str) -> None:
    await conn.execute(
        update(endpoints)
        .where(endpoints.c.app_id == app_id, endpoints.c.id.in_(list(endpoint_ids)))
        .values(opt_out=opt_out)
    )


async def set_opt_out_by_address(
    conn: AsyncConnection, app_id: str, addresses: Sequence[str], opt_out: str, channel_types: Sequence[str]
) -> list[str]:
    """Opt every endpoint with one of `addresses` on those channels in or out; returns their ids."""
    stmt = (
        update(endpoints)
        .where(
            endpoints.c.app_id == app_id,
            endpoints.c.address.in_(list(addresses)),
            endpoints.c.channel_type.in_(list(channel_types)),
        )
        .values(opt_out=opt_out)
        .returning(endpoints.c.id)
    )
    return [r[0] for r in await conn.execute(stmt)]


async def deactivate(conn: AsyncConnection, app_id: str, endpoint_id: str) -> None:
    """The provider says this address can never receive (FCM UNREGISTERED, a dead number)."""
    await conn.execute(
        update(endpoints)
        .where(endpoints.c.app_id == app_id, endpoints.c.id == endpoint_id)
        .values(endpoint_status="INACTIVE")
    )
