"""Who is in a journey: admissions under the re-entry rules, leaving, and the entries still
inside. (Entry runs and their counts: store/journey_runs.py; the steps participants take:
store/journey_steps.py; splits' listeners: store/journey_events.py; test runs:
store/journey_test_runs.py.)

Admission is one transaction per participant under an advisory lock on (journey, participant):
the entry row is the proof that an entry happened (a retried admission finds it and admits the
same entry again), and the partial unique index keeps one live entry per participant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import BadRequest, NotFound
from rules.journey_timing import parse_duration
from rules.participants import Admission, participant_workflow_id
from store import endpoints as endpoints_store
from store import journeys as journeys_store
from store.driver import driver
from store.journey_events import unlisten
from store.journey_runs import count, latest_run
from store.tables import JourneyParticipant

participants: Any = JourneyParticipant.__table__  # type: ignore[attr-defined]

ACTIVE_ENDPOINT_REJECTED = "ACTIVE_ENDPOINT_REJECTED"
REENTRY_CAP_EXCEEDED = "REENTRY_CAP_EXCEEDED"


# -- admission ------------------------------------------------------------------------------------
async def admit(
    conn: AsyncConnection,
    *,
    app_id: str,
    journey_id: str,
    definition: dict[str, Any],
    participant: str,
    kind: str,
    entry_key: str,
    rid: str,
    now: datetime,
) -> Admission:
    """One entry under the re-entry rules (PINPOINT.md §4.5): not while already inside, at most
    EndpointReentryCap entries (0 or absent: no limit), at least EndpointReentryInterval apart.
    Refusals are counted in the run's metrics."""
    start = definition.get("StartActivity")
    await conn.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"journey/{app_id}/{journey_id}/{participant}")))
    )
    mine = (
        participants.c.app_id == app_id,
        participants.c.journey_id == journey_id,
        participants.c.participant == participant,
        participants.c.test_run_id.is_(None),
    )
    same = await conn.scalar(select(participants.c.run_id).where(*mine, participants.c.entry_key == entry_key))
    if same is not None:
        return Admission(start, run_id=same)  # this entry happened already (a retry)
    history = (
        await conn.execute(
            select(
                func.count(),
                func.count().filter(participants.c.status == "ACTIVE"),
                func.max(participants.c.entered_at),
            ).where(*mine)
        )
    ).one()
    entries, active, last = int(history[0]), int(history[1]), history[2]
    reason = _refusal(definition.get("Limits") or {}, entries, active, last, now)
    if reason is not None:
        await count(conn, app_id, journey_id, rid, {reason: 1})
        return Admission(None, reason, rid)
    await conn.execute(
        insert(participants).values(
            app_id=app_id,
            journey_id=journey_id,
            participant=participant,
            kind=kind,
            entry_key=entry_key,
            entry_number=entries + 1,
            run_id=rid,
            workflow_id=participant_workflow_id(app_id, journey_id, participant, entry_key),
            current_activity=start,
            entered_at=now,
        )
    )
    return Admission(start, run_id=rid)


_HISTORIES = """
SELECT m.participant,
       count(p.participant) AS entries,
       count(p.participant) FILTER (WHERE p.status = 'ACTIVE') AS active,
       max(p.entered_at) AS last,
       coalesce(bool_or(p.entry_key = $4), false) AS same
FROM unnest($3::text[]) AS m(participant)
LEFT JOIN journey_participants p
  ON p.app_id = $1 AND p.journey_id = $2 AND p.participant = m.participant AND p.test_run_id IS NULL
GROUP BY m.participant
"""
_ENTER_MANY = """
INSERT INTO journey_participants
    (app_id, journey_id, participant, kind, entry_key, entry_number, run_id, workflow_id, current_activity, entered_at)
SELECT $1, $2, u.participant, u.kind, $3, u.number, $4, u.workflow_id, $5, $6
FROM unnest($7::text[], $8::text[], $9::int4[], $10::text[]) AS u(participant, kind, number, workflow_id)
ON CONFLICT DO NOTHING
RETURNING participant
"""


async def admit_many(
    conn: AsyncConnection,
    *,
    app_id: str,
    journey_id: str,
    definition: dict[str, Any],
    members: dict[str, str],
    entry_key: str,
    rid: str,
    now: datetime,
) -> tuple[list[str], dict[str, int]]:
    """`admit` for a page of an entry cycle (participant -> kind), in two statements: the members
    admitted (this entry already made counts: a retried page) and the refusals by reason. A
    member that entered elsewhere meanwhile (the API, an event) is refused by the one-live-entry
    index, as ACTIVE_ENDPOINT_REJECTED."""
    if not members:
        return [], {}
    pg = await driver(conn)
    limits = definition.get("Limits") or {}
    admitted: list[str] = []
    refused: dict[str, int] = {}
    new: list[tuple[str, str, int, str]] = []
    for row in await pg.fetch(_HISTORIES, app_id, journey_id, list(members), entry_key):
        if row["same"]:
            admitted.append(row["participant"])
            continue
        reason = _refusal(limits, int(row["entries"]), int(row["active"]), row["last"], now)
        if reason is not None:
            refused[reason] = refused.get(reason, 0) + 1
            continue
        workflow_id = participant_workflow_id(app_id, journey_id, row["participant"], entry_key)
        new.append((row["participant"], members[row["participant"]], int(row["entries"]) + 1, workflow_id))
    if new:
        columns = [list(c) for c in zip(*new, strict=True)]
        entered = await pg.fetch(
            _ENTER_MANY, app_id, journey_id, entry_key, rid, definition.get("StartActivity"), now, *columns
        )
        admitted += [r["participant"] for r in entered]
        raced = len(new) - len(entered)
        if raced:
            refused[ACTIVE_ENDPOINT_REJECTED] = refused.get(ACTIVE_ENDPOINT_REJECTED, 0) + raced
    return admitted, refused


def _refusal(limits: dict[str, Any], entries: int, active: int, last: datetime | None, now: datetime) -> str | None:
    if active:
        return ACTIVE_ENDPOINT_REJECTED
    cap = int(limits.get("EndpointReentryCap") or 0)
    if cap and entries >= cap:
        return REENTRY_CAP_EXCEEDED
    interval = limits.get("EndpointReentryInterval")
    if interval and last is not None and now < last + parse_duration(interval):
        return REENTRY_CAP_EXCEEDED
    return None


async def admit_now(
    conn: AsyncConnection, app_id: str, journey_id: str, participant: str, kind: str, entry_key: str
) -> Admission:
    """An API entry: the journey must be ACTIVE and the endpoint or user must exist."""
    journey = await journeys_store.get(conn, app_id, journey_id)
    if journey["state"] != "ACTIVE":
        raise BadRequest(f"Journey {journey_id} is {journey['state']}; participants can enter only an ACTIVE journey.")
    if kind == "ENDPOINT":
        if await endpoints_store.get(conn, app_id, participant) is None:
            raise NotFound(f"Endpoint {participant} was not found in project {app_id}.")
    elif not await endpoints_store.of_user(conn, app_id, participant):
        raise NotFound(f"User {participant} has no endpoints in project {app_id}.")
    now: datetime = (await conn.execute(select(func.now()))).scalar_one()
    rid = await latest_run(conn, app_id, journey_id)
    return await admit(
        conn,
        app_id=app_id,
        journey_id=journey_id,
        definition=journey["definition"],
        participant=participant,
        kind=kind,
        entry_key=entry_key,
        rid=rid,
        now=now,
    )


# -- leaving and who is inside ------------------------------------------------------------------
async def leave(
    conn: AsyncConnection, app_id: str, journey_id: str, participant: str, entry_key: str, status: str
) -> None:
    await conn.execute(
        update(participants)
        .where(
            participants.c.app_id == app_id,
            participants.c.journey_id == journey_id,
            participants.c.participant == participant,
            participants.c.entry_key == entry_key,
            participants.c.status == "ACTIVE",
        )
        .values(status=status, ended_at=func.now())
    )
    await unlisten(conn, app_id, participant_workflow_id(app_id, journey_id, participant, entry_key))


async def entered_at(
    conn: AsyncConnection, app_id: str, journey_id: str, participant: str, entry_key: str
) -> datetime | None:
    found: datetime | None = await conn.scalar(
        select(participants.c.entered_at).where(
            participants.c.app_id == app_id,
            participants.c.journey_id == journey_id,
            participants.c.participant == participant,
            participants.c.entry_key == entry_key,
        )
    )
    return found


async def active_page(
    conn: AsyncConnection, app_id: str, journey_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[tuple[str, str, str]]:
    """(participant, entry_key, workflow_id) of entries still inside, in key order."""
    stmt = (
        select(participants.c.participant, participants.c.entry_key, participants.c.workflow_id)
        .where(
            participants.c.app_id == app_id, participants.c.journey_id == journey_id, participants.c.status == "ACTIVE"
        )
        .order_by(participants.c.participant, participants.c.entry_key)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(participants.c.participant, participants.c.entry_key) > tuple_(*after))
    return [(r[0], r[1], r[2]) for r in await conn.execute(stmt)]
