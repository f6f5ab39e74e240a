"""Test runs (an OpenPoint extension): the request, its test participants and the steps each
took. Test participants have `test_run_id` set, which keeps them out of the live journey's
metrics, caps and re-entry rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import NotFound
from rules.participants import participant_workflow_id
from store.tables import JourneyParticipant, JourneyStep, JourneyTestRun

participants: Any = JourneyParticipant.__table__  # type: ignore[attr-defined]
steps: Any = JourneyStep.__table__  # type: ignore[attr-defined]
test_runs: Any = JourneyTestRun.__table__  # type: ignore[attr-defined]


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
