"""Read-only queries of the console's Endpoints page: finding endpoints by the start of their id,
address or user id, and an endpoint's timeline (its events, the messages sent to it with what came back, the
journeys it entered), newest first, a page at a time. Each is answered through an index on the
endpoint (endpoints' primary key, ix_endpoints_address, ix_endpoints_user;
ix_events_app_endpoint_time; ix_deliveries_endpoint_time)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

# Each column is walked in its own index's order (the primary key, ix_endpoints_address,
# ix_endpoints_user) from the prefix on, `limit` rows at most: a short prefix matching a million
# endpoints costs three short index scans, not a sort of the million. An exact match sorts
# first within its column's range ('ab' < 'abc'), so it is never cut off; exact matches are
# then listed before the rest. LIKE uses these btree indexes under the C collation (the
# embedded PostgreSQL's); under another collation the scans still stop at `limit` rows but may
# walk far, which the statement timeout bounds.
_SEARCH = (
    "WITH hits AS ("
    " (SELECT id FROM endpoints WHERE app_id = $1 AND id LIKE $2 ORDER BY id LIMIT $4)"
    " UNION (SELECT id FROM endpoints WHERE app_id = $1 AND address LIKE $2 ORDER BY address LIMIT $4)"
    " UNION (SELECT id FROM endpoints WHERE app_id = $1 AND user_id LIKE $2 ORDER BY user_id LIMIT $4))"
    " SELECT e.*, (e.id = $3 OR e.address IS NOT DISTINCT FROM $3 OR e.user_id IS NOT DISTINCT FROM $3) AS exact"
    " FROM endpoints e JOIN hits USING (id) WHERE e.app_id = $1"
    " ORDER BY exact DESC, e.updated_at DESC, e.id LIMIT $4"
)
_EVENTS = (
    "SELECT event_id, event_type, event_time, attributes, metrics FROM events"
    " WHERE app_id = $1 AND endpoint_id = $2 ORDER BY event_time DESC, event_id DESC LIMIT $3 OFFSET $4"
)
# A message's outcome: the delivery log's status, and the standard events that came back for
# it (delivered, opened, clicked, bounced...), read by the message id they carry.
_MESSAGES = (
    "SELECT d.channel, d.address, d.source, d.source_id, d.status, d.status_code, d.status_message,"
    " d.message_id, d.created_at,"
    " (SELECT coalesce(array_agg(DISTINCT e.event_type ORDER BY e.event_type), '{}') FROM events e"
    "   WHERE e.app_id = d.app_id AND e.endpoint_id = d.endpoint_id"
    "   AND e.event_time >= d.created_at - interval '1 hour'"
    "   AND d.message_id IS NOT NULL AND e.attributes->>'message_id' = d.message_id) AS events"
    " FROM deliveries d WHERE d.app_id = $1 AND d.endpoint_id = $2"
    " ORDER BY d.created_at DESC, d.idempotency_key DESC LIMIT $3 OFFSET $4"
)
# Live entries only: a journey's test participants are not the endpoint's history. Probed per
# journey of the project through the participants' primary key (app_id, journey_id,
# participant, ...): no index leads with the participant, and a project has few journeys.
_JOURNEYS = (
    "SELECT j.id AS journey_id, j.definition->>'Name' AS journey_name, p.entry_number, p.status,"
    " p.current_activity, p.entered_at, p.ended_at"
    " FROM journeys j CROSS JOIN LATERAL (SELECT * FROM journey_participants jp"
    "   WHERE jp.app_id = j.app_id AND jp.journey_id = j.id AND jp.participant = $2 AND jp.test_run_id IS NULL) p"
    " WHERE j.app_id = $1"
    " ORDER BY p.entered_at DESC, j.id LIMIT $3 OFFSET $4"
)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching values that start with `text` (its own % and _ taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(
    conn: AsyncConnection, app_id: str, text: str, limit: int, *, timeout_ms: int
) -> list[dict[str, Any]] | None:
    """Up to `limit` endpoints whose id, address or user id starts with `text`: exact matches
    first, then the last updated. None when the search takes longer than `timeout_ms` (a page
    must answer while a person waits); run in a savepoint so the timeout goes with it."""
    pg = await driver(conn)
    try:
        async with pg.transaction():
            await pg.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            return [dict(r) for r in await pg.fetch(_SEARCH, app_id, like_prefix(text), text, limit)]
    except asyncpg.QueryCanceledError:
        return None


async def events(conn: AsyncConnection, app_id: str, endpoint_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_EVENTS, app_id, endpoint_id, limit, offset)]


async def messages(
    conn: AsyncConnection, app_id: str, endpoint_id: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_MESSAGES, app_id, endpoint_id, limit, offset)]


async def journeys(
    conn: AsyncConnection, app_id: str, endpoint_id: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_JOURNEYS, app_id, endpoint_id, limit, offset)]
