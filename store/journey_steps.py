"""The steps journey participants take: one `journey_steps` row per participant entry and
journey activity (what execution metrics and test-run traces read, and what message caps count),
written with where the participant is now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver, jsonb
from store.tables import JourneyStep

steps: Any = JourneyStep.__table__  # type: ignore[attr-defined]

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
