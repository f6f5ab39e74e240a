"""Read-only queries of the console's journey page: a page of a journey's live participants and
the journey's recent test runs.

Participants are walked in the primary key's order (app_id, journey_id, participant,
entry_key) from a cursor, so a page costs one short index scan however many entered; newest
first would sort every entry of a large journey (no index orders them by entry time).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from store.driver import driver

_PARTICIPANTS = (
    "SELECT participant, entry_key, kind, entry_number, run_id, workflow_id, status, current_activity,"
    " entered_at, ended_at FROM journey_participants"
    " WHERE app_id = $1 AND journey_id = $2 AND test_run_id IS NULL AND (participant, entry_key) > ($3, $4)"
    " ORDER BY participant, entry_key LIMIT $5"
)
# A journey has few test runs (each started by hand), so their rows are sorted as they are.
# (No count of their participants here: no index leads to a test run's participants, and a live
# journey may have millions; the test run's own page reads them through journey_test_runs.)
_TEST_RUNS = (
    "SELECT id, created_at, options FROM journey_test_runs"
    " WHERE app_id = $1 AND journey_id = $2 ORDER BY created_at DESC, id LIMIT $3"
)


async def participants(
    conn: AsyncConnection, app_id: str, journey_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` live entries (not test runs') after the (participant, entry_key) cursor."""
    pg = await driver(conn)
    start = after or ("", "")
    return [dict(r) for r in await pg.fetch(_PARTICIPANTS, app_id, journey_id, start[0], start[1], limit)]


async def test_runs(conn: AsyncConnection, app_id: str, journey_id: str, limit: int) -> list[dict[str, Any]]:
    """The journey's newest test runs (id, when, the options they were started with)."""
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_TEST_RUNS, app_id, journey_id, limit)]
