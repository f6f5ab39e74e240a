"""Who is in a journey: entry runs, admissions under the re-entry rules, the steps participants
take, their leaving, and the listeners of splits that wait for events.

Admission is one transaction per participant under an advisory lock on (journey, participant):
the entry row is the proof that an entry happened (a retried admission finds it and admits the
same entry again), and the partial unique index keeps one live entry per participant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import BadRequest, NotFound
from rules.journey_timing import parse_duration
from rules.participants import Admission, participant_workflow_id
from store import endpoints as endpoints_store
from store import journeys as journeys_store
from store.driver import driver, jsonb
from store.tables import JourneyListener, JourneyParticipant, JourneyRun, JourneyStep, JourneyTestRun

runs: Any = JourneyRun.__table__  # type: ignore[attr-defined]
participants: Any = JourneyParticipant.__table__  # type: ignore[attr-defined]
steps: Any = JourneyStep.__table__  # type: ignore[attr-defined]
test_runs: Any = JourneyTestRun.__table__  # type: ignore[attr-defined]
listeners: Any = JourneyListener.__table__  # type: ignore[attr-defined]

ACTIVE_ENDPOINT_REJECTED = "ACTIVE_ENDPOINT_REJECTED"
REENTRY_CAP_EXCEEDED = "REENTRY_CAP_EXCEEDED"


def run_id(journey_id: str, run_number: int) -> str:
    return hashlib.sha256(f"{journey_id}/run/{run_number}".encode()).hexdigest()[:32]


# -- runs ---------------------------------------------------------------------------------------
async def ensure_run(conn: AsyncConnection, app_id: str, journey_id: str, run_number: int, status: str) -> str:
    rid = run_id(journey_id, run_number)
    await conn.execute(
        insert(runs)
        .values(app_id=app_id, journey_id=journey_id, run_id=rid, run_number=run_number, status=status)
        .on_conflict_do_nothing()
    )
    return rid


async def set_run_status(conn: AsyncConnection, app_id: str, journey_id: str, rid: str, status: str) -> None:
    await conn.execute(
        update(runs)
        .where(runs.c.app_id == app_id, runs.c.journey_id == journey_id, runs.c.run_id == rid)
        .values(status=status, updated_at=func.now())
    )


async def end_runs(conn: AsyncConnection, app_id: str, journey_id: str, status: str) -> None:
    """Cancellation: every run not yet completed is cancelled."""
    await conn.execute(
        update(runs)
        .where(runs.c.app_id == app_id, runs.c.journey_id == journey_id, runs.c.status.in_(("SCHEDULED", "RUNNING")))
        .values(status=status, updated_at=func.now())
    )


async def latest_run(conn: AsyncConnection, app_id: str, journey_id: str) -> str:
    """The run that entries outside a cycle (events, the API) count in; run 0 if none yet."""
    found = await conn.scalar(
        select(runs.c.run_id)
        .where(runs.c.app_id == app_id, runs.c.journey_id == journey_id)
        .order_by(runs.c.run_number.desc())
        .limit(1)
    )
    return str(found) if found else await ensure_run(conn, app_id, journey_id, 0, "RUNNING")


async def count(conn: AsyncConnection, app_id: str, journey_id: str, rid: str, metrics: dict[str, int]) -> None:
    """Add to a run's filter metrics (ENDPOINT_PRODUCED, REENTRY_CAP_EXCEEDED, ...)."""
    if not metrics:
        return
    await conn.execute(
        text(
            """
            UPDATE journey_runs r SET metrics = (
                SELECT coalesce(jsonb_object_agg(k, to_jsonb(v)), '{}'::jsonb) FROM (
                    SELECT k, sum(v)::bigint AS v FROM (
                        SELECT key AS k, value::text::bigint AS v FROM jsonb_each(r.metrics)
                        UNION ALL SELECT key, value::text::bigint FROM jsonb_each(CAST(:add AS jsonb))
                    ) s GROUP BY k
                ) t
            ), updated_at = now()
            WHERE app_id = :app AND journey_id = :journey AND run_id = :run
            """
        ),
        {"app": app_id, "journey": journey_id, "run": rid, "add": _json(metrics)},
    )


def _json(value: dict[str, int]) -> str:
    import json

    return json.dumps(value)


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


async def start_activity(conn: AsyncConnection, app_id: str, journey_id: str) -> str | None:
    journey = await journeys_store.get(conn, app_id, journey_id)
    found: str | None = journey["definition"].get("StartActivity")
    return found


# -- steps and leaving ----------------------------------------------------------------------------
_RECORD_STEP = """
WITH step AS (
    INSERT INTO journey_steps (
        app_id, journey_id, participant, entry_key, activity_id, run_id, test_run_id, outcome, next_activity, detail, at
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
    ON CONFLICT (app_id, journey_id, participant, entry_key, activity_id) DO UPDATE
    SET outcome = excluded.outcome, next_activity = excluded.next_activity, detail = excluded.detail, at = excluded.at
    RETURNING 1
)
UPDATE journey_participants
SET current_activity = $9,
    status = CASE WHEN $12::bool AND status = 'ACTIVE' THEN 'LEFT' ELSE status END,
    ended_at = CASE WHEN $12::bool AND status = 'ACTIVE' THEN now() ELSE ended_at END
WHERE app_id = $1 AND journey_id = $2 AND participant = $3 AND entry_key = $4 AND EXISTS (SELECT 1 FROM step)
"""


async def record_step(
    conn: AsyncConnection,
    *,
    app_id: str,
    journey_id: str,
    participant: str,
    entry_key: str,
    activity_id: str,
    run_id: str | None,
    test_run_id: str | None,
    outcome: str,
    next_activity: str | None,
    at: datetime,
    detail: dict[str, Any] | None = None,
    leaves: bool = False,
) -> None:
    """A step as it ended, at workflow time `at`, and where the participant is now; with
    `leaves`, the path ended there and the entry is over (LEFT). One statement, since every
    participant writes one per step; a replayed step writes the same again."""
    pg = await driver(conn)
    await pg.execute(
        _RECORD_STEP,
        app_id,
        journey_id,
        participant,
        entry_key,
        activity_id,
        run_id,
        test_run_id,
        outcome,
        next_activity,
        jsonb(detail or {}),
        at,
        leaves,
    )


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
    await conn.execute(
        delete(listeners).where(
            listeners.c.app_id == app_id,
            listeners.c.workflow_id == participant_workflow_id(app_id, journey_id, participant, entry_key),
        )
    )


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
        from sqlalchemy import tuple_

        stmt = stmt.where(tuple_(participants.c.participant, participants.c.entry_key) > tuple_(*after))
    return [(r[0], r[1], r[2]) for r in await conn.execute(stmt)]


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


# -- test runs ------------------------------------------------------------------------------------
async def add_test_run(
    conn: AsyncConnection,
    app_id: str,
    journey_id: str,
    test_run_id: str,
    endpoint_ids: Sequence[str],
    options: dict[str, Any],
) -> None:
    """The test run and its participants (outside the live journey's metrics and caps)."""
    await conn.execute(insert(test_runs).values(app_id=app_id, journey_id=journey_id, id=test_run_id, options=options))
    entry_key = f"test-{test_run_id}"
    await conn.execute(
        insert(participants).values(
            [
                {
                    "app_id": app_id,
                    "journey_id": journey_id,
                    "participant": e,
                    "kind": "ENDPOINT",
                    "entry_key": entry_key,
                    "entry_number": 0,
                    "test_run_id": test_run_id,
                    "workflow_id": participant_workflow_id(app_id, journey_id, e, entry_key),
                }
                for e in endpoint_ids
            ]
        )
    )


async def test_run(conn: AsyncConnection, app_id: str, journey_id: str, test_run_id: str) -> dict[str, Any]:
    """A test run's request, its participants and the steps each took, in order."""
    found = (
        (
            await conn.execute(
                select(test_runs).where(
                    test_runs.c.app_id == app_id, test_runs.c.journey_id == journey_id, test_runs.c.id == test_run_id
                )
            )
        )
        .mappings()
        .first()
    )
    if found is None:
        raise NotFound(f"Test run {test_run_id} was not found for journey {journey_id}.")
    people = (
        (
            await conn.execute(
                select(participants)
                .where(
                    participants.c.app_id == app_id,
                    participants.c.journey_id == journey_id,
                    participants.c.test_run_id == test_run_id,
                )
                .order_by(participants.c.participant)
            )
        )
        .mappings()
        .all()
    )
    taken = (
        (
            await conn.execute(
                select(steps)
                .where(steps.c.app_id == app_id, steps.c.journey_id == journey_id, steps.c.test_run_id == test_run_id)
                .order_by(steps.c.at, steps.c.activity_id)
            )
        )
        .mappings()
        .all()
    )
    return {"run": dict(found), "participants": [dict(p) for p in people], "steps": [dict(s) for s in taken]}


async def sent_counts(
    conn: AsyncConnection, app_id: str, journey_id: str, participant: str, *, day_from: datetime, frame_from: datetime
) -> tuple[int, int, int]:
    """Messages a participant was sent: (by this journey since `day_from`, by this journey in
    all, by every journey since `frame_from`), from the steps (workflow time), live entries only."""
    sent = (steps.c.app_id == app_id) & (steps.c.participant == participant) & (steps.c.outcome == "SUCCESSFUL")
    mine = steps.c.journey_id == journey_id
    row = (
        await conn.execute(
            select(
                func.count().filter(mine & (steps.c.at > day_from)),
                func.count().filter(mine),
                func.count().filter(steps.c.at > frame_from),
            ).where(sent, steps.c.test_run_id.is_(None))
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
