"""The trigger outbox (migration 0006): written with the events that fire it, drained by the
worker's dispatcher.

Writers (PutEvents, the delivery log, engagement and Twilio callbacks) call `record` inside the
transaction that stores the events, so a trigger exists exactly when its event does. The commit
also delivers a NOTIFY on `CHANNEL`, which wakes the dispatcher at once; the dispatcher polls as
well, so a lost notification only delays a trigger by the poll interval.

Readers claim rows under a lease (`FOR UPDATE SKIP LOCKED`: several dispatchers share the work),
start the workflows that act on them and delete them. Rows of a dispatcher that died keep their
lease until it runs out and are then claimed again; the workflows' idempotency keys make that
second hand-over harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.ttl import TTLCache
from rules.schedules import resolve_start
from rules.triggers import CampaignTrigger, JourneyTrigger, ProjectTriggers, outbox_rows
from store.driver import columns_of, driver, jsonb, unnest_insert

log = logging.getLogger("openpoint.triggers")

CHANNEL = "openpoint_trigger_outbox"
COMMAND = "command"  # a workflow command of the API (engine/commands.py), not an event's trigger
CACHE_SECONDS = 1.0  # a new or changed campaign / journey takes effect within this

_CAMPAIGNS = text(
    """
    SELECT c.id, c.created_at, v.definition
    FROM campaigns c
    JOIN campaign_versions v ON v.app_id = c.app_id AND v.campaign_id = c.id AND v.version = c.version
    WHERE c.app_id = :app AND c.state NOT IN ('COMPLETED', 'DELETED', 'INVALID')
      AND v.definition -> 'Schedule' ->> 'Frequency' = 'EVENT'
    """
)
_JOURNEYS = text(
    """
    SELECT id, definition -> 'StartCondition' -> 'EventStartCondition' -> 'EventFilter' AS filter
    FROM journeys
    WHERE app_id = :app AND state = 'ACTIVE' AND definition -> 'StartCondition' ? 'EventStartCondition'
    """
)
_ANY_LISTENER = text("SELECT EXISTS (SELECT 1 FROM journey_listeners WHERE app_id = :app)")

_COLUMNS = [
    ("app_id", "text"),
    ("kind", "text"),
    ("target_id", "text"),
    ("endpoint_id", "text"),
    ("event_id", "text"),
    ("event_time", "timestamptz"),
    ("event", "jsonb"),
]
_INSERT = unnest_insert("trigger_outbox", _COLUMNS)
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', '')"
_CLAIM = """
    UPDATE trigger_outbox o SET claimed_until = now() + make_interval(secs => $2), attempts = o.attempts + 1
    WHERE o.id IN (
        SELECT id FROM trigger_outbox
        WHERE claimed_until IS NULL OR claimed_until < now()
        ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
    )
    RETURNING o.id, o.app_id, o.kind, o.target_id, o.endpoint_id, o.event_id, o.event_time, o.event, o.attempts
"""


class TriggerIndex:
    """Each project's event campaigns, event-started journeys and whether anyone listens, read
    in the writer's transaction and kept for a second per process: a busy ingest path does not
    read them on every request."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self._cache: TTLCache[str, ProjectTriggers] = TTLCache(cache_seconds)

    async def of(self, conn: AsyncConnection, app_id: str) -> ProjectTriggers:
        return await self._cache.get_or_load(app_id, lambda: self._read(conn, app_id))

    async def _read(self, conn: AsyncConnection, app_id: str) -> ProjectTriggers:
        campaigns: list[CampaignTrigger] = []
        for r in await conn.execute(_CAMPAIGNS, {"app": app_id}):
            schedule = r.definition["Schedule"]
            if not schedule.get("EventFilter"):
                continue
            try:
                resolved = resolve_start(schedule, created=r.created_at)
            except ValueError:  # a schedule the rules cannot read triggers nothing
                log.warning("project %s: campaign %s has an unreadable schedule; it triggers nothing", app_id, r.id)
                continue
            campaigns.append(
                CampaignTrigger(r.id, resolved, schedule["EventFilter"], bool(r.definition.get("IsPaused")))
            )
        journeys = [JourneyTrigger(r.id, r.filter) for r in await conn.execute(_JOURNEYS, {"app": app_id}) if r.filter]
        listening = bool(await conn.scalar(_ANY_LISTENER, {"app": app_id}))
        return ProjectTriggers(tuple(campaigns), tuple(journeys), listening)


async def record(
    conn: AsyncConnection, index: TriggerIndex, app_id: str, event_rows: list[dict[str, Any]], filter_type: str
) -> int:
    """The triggers `event_rows` fire, written in the caller's transaction; the number written."""
    if not event_rows:
        return 0
    rows = outbox_rows(await index.of(conn, app_id), app_id, event_rows, filter_type)
    if not rows:
        return 0
    pg = await driver(conn)
    await pg.execute(_INSERT, *columns_of(rows, _COLUMNS))
    await pg.execute(_NOTIFY)  # delivered at commit, not before
    return len(rows)


async def command(
    conn: AsyncConnection, app_id: str, op: str, target_id: str, args: dict[str, Any] | None = None
) -> None:
    """A workflow command (engine/commands.py), in the transaction of the change it acts on."""
    pg = await driver(conn)
    await pg.execute(
        "INSERT INTO trigger_outbox (app_id, kind, target_id, endpoint_id, event_id, event_time, event)"
        " VALUES ($1, $2, $3, '', $4, now(), $5::jsonb)",
        app_id,
        COMMAND,
        target_id,
        op,
        jsonb({"op": op, **(args or {})}),
    )
    await pg.execute(_NOTIFY)


async def claim(conn: AsyncConnection, *, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
    """Up to `limit` ready rows, oldest first, leased to the caller."""
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_CLAIM, limit, lease_seconds)]


async def done(conn: AsyncConnection, ids: Sequence[int]) -> None:
    if ids:
        await (await driver(conn)).execute("DELETE FROM trigger_outbox WHERE id = ANY($1::int8[])", list(ids))


async def retry_later(conn: AsyncConnection, ids: Sequence[int], *, after_seconds: float) -> None:
    """Rows whose hand-over failed (Temporal unreachable): claimable again after a pause."""
    if ids:
        await (await driver(conn)).execute(
            "UPDATE trigger_outbox SET claimed_until = now() + make_interval(secs => $2) WHERE id = ANY($1::int8[])",
            list(ids),
            after_seconds,
        )


# -- event-triggered campaign sends: who acts on a trigger, and what became of it -------------------
PENDING = "PENDING"


async def claim_triggers(
    conn: AsyncConnection, app_id: str, campaign_id: str, owner: str, triggers: Sequence[tuple[str, str]]
) -> set[str]:
    """Claim (trigger key, endpoint id) pairs for `owner` (a workflow id); the keys it may act on:
    those it claims now and those it claimed on an earlier attempt and has not finished."""
    if not triggers:
        return set()
    pg = await driver(conn)
    await pg.execute(
        "INSERT INTO trigger_outcomes (app_id, campaign_id, trigger_key, endpoint_id, outcome, owner)"
        " SELECT $1, $2, k, e, $5, $6 FROM unnest($3::text[], $4::text[]) AS t(k, e)"
        " ON CONFLICT DO NOTHING",
        app_id,
        campaign_id,
        [t[0] for t in triggers],
        [t[1] for t in triggers],
        PENDING,
        owner,
    )
    rows = await pg.fetch(
        "SELECT trigger_key FROM trigger_outcomes WHERE app_id = $1 AND campaign_id = $2"
        " AND trigger_key = ANY($3::text[]) AND owner = $4 AND outcome = $5",
        app_id,
        campaign_id,
        [t[0] for t in triggers],
        owner,
        PENDING,
    )
    return {r["trigger_key"] for r in rows}


async def finish_triggers(
    conn: AsyncConnection, app_id: str, campaign_id: str, owner: str, outcomes: Sequence[tuple[str, str]]
) -> set[str]:
    """Record (trigger key, outcome) for triggers `owner` holds; the keys finished now (only
    those are counted in the campaign's metrics: a retry that finds them done counts nothing)."""
    if not outcomes:
        return set()
    rows = await (await driver(conn)).fetch(
        "UPDATE trigger_outcomes o SET outcome = u.outcome, recorded_at = now()"
        " FROM unnest($3::text[], $4::text[]) AS u(key, outcome)"
        " WHERE o.app_id = $1 AND o.campaign_id = $2 AND o.trigger_key = u.key AND o.owner = $5"
        " AND o.outcome = $6 RETURNING o.trigger_key",
        app_id,
        campaign_id,
        [o[0] for o in outcomes],
        [o[1] for o in outcomes],
        owner,
        PENDING,
    )
    return {r["trigger_key"] for r in rows}


async def listen(dsn: str, wake: Callable[[], None]) -> asyncpg.Connection:
    """A connection of its own LISTENing for new outbox rows (`wake` on each NOTIFY)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    await conn.add_listener(CHANNEL, lambda *_: wake())
    return conn


async def still_there(conn: asyncpg.Connection) -> None:
    """Raises when the listening connection died (a NOTIFY would never come)."""
    await conn.execute("SELECT 1")
