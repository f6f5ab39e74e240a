"""Journey execution metrics, counted from what the journey engine wrote: one row per entry in
`journey_participants`, the filter counts of each entry cycle in `journey_runs.metrics`, and one
row per step a participant took in `journey_steps`.

Test participants (`test_run_id` set) are never counted: a test run leaves the live journey's
numbers as they were.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Numeric, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import JourneyParticipant, JourneyRun, JourneyStep

participants: Any = JourneyParticipant.__table__  # type: ignore[attr-defined]
runs: Any = JourneyRun.__table__  # type: ignore[attr-defined]
steps: Any = JourneyStep.__table__  # type: ignore[attr-defined]

# The refusals at entry that GetJourneyExecutionMetrics sums over the runs.
REFUSALS = ("REENTRY_CAP_EXCEEDED", "ACTIVE_ENDPOINT_REJECTED")


def _live(table: Any, app_id: str, journey_id: str) -> list[Any]:
    return [table.c.app_id == app_id, table.c.journey_id == journey_id, table.c.test_run_id.is_(None)]


def _with_status(status: str) -> Any:
    return func.count().filter(participants.c.status == status)


async def journey(conn: AsyncConnection, app_id: str, journey_id: str) -> dict[str, int]:
    """Entries by what became of them, and the refusals of every run."""
    entries = (
        (
            await conn.execute(
                select(
                    func.count().label("ENDPOINT_ENTERED"),
                    _with_status("ACTIVE").label("ENDPOINT_ACTIVE"),
                    _with_status("LEFT").label("ENDPOINT_LEFT"),
                    _with_status("CANCELLED").label("CANCELLED"),
                ).where(*_live(participants, app_id, journey_id))
            )
        )
        .mappings()
        .one()
    )
    refused = (
        (
            await conn.execute(
                select(
                    *(
                        func.coalesce(func.sum(cast(runs.c.metrics[name].astext, Numeric)), 0).label(name)
                        for name in REFUSALS
                    )
                ).where(runs.c.app_id == app_id, runs.c.journey_id == journey_id)
            )
        )
        .mappings()
        .one()
    )
    return {k: int(v) for k, v in {**entries, **refused}.items()}


async def run(conn: AsyncConnection, app_id: str, journey_id: str, run_id: str) -> dict[str, int] | None:
    """The run's filter counts and its entries; None when the journey has no such run."""
    entered = (
        select(func.count())
        .where(*_live(participants, app_id, journey_id), participants.c.run_id == run_id)
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            select(runs.c.metrics, entered.label("entered")).where(
                runs.c.app_id == app_id, runs.c.journey_id == journey_id, runs.c.run_id == run_id
            )
        )
    ).first()
    if row is None:
        return None
    metrics: dict[str, Any] = row.metrics or {}
    return {**{k: int(v) for k, v in metrics.items()}, "ENDPOINT_ENTERED": int(row.entered)}


async def outcomes(
    conn: AsyncConnection, app_id: str, journey_id: str, activity_id: str, *, run_id: str | None = None
) -> dict[str, int]:
    """How many steps of the activity ended in each outcome (of one run's entries, if given)."""
    stmt = (
        select(steps.c.outcome, func.count())
        .where(*_live(steps, app_id, journey_id), steps.c.activity_id == activity_id)
        .group_by(steps.c.outcome)
    )
    if run_id is not None:
        stmt = stmt.where(steps.c.run_id == run_id)
    return {outcome: int(n) for outcome, n in (await conn.execute(stmt)).all()}
