"""A journey's entry runs: one per entry cycle of a segment-started journey (the start and every
refresh), one for an event-started journey's whole life; each with the filter counts of its
entries (ENDPOINT_PRODUCED, REENTRY_CAP_EXCEEDED, ...) that GetJourneyRuns and the execution
metrics read."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import JourneyRun

runs: Any = JourneyRun.__table__  # type: ignore[attr-defined]


def run_id(journey_id: str, run_number: int) -> str:
    return hashlib.sha256(f"{journey_id}/run/{run_number}".encode()).hexdigest()[:32]


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
        {"app": app_id, "journey": journey_id, "run": rid, "add": json.dumps(metrics)},
    )
