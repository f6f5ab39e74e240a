"""Folding a test project's events into the message rollups (store/analytics_message_rollups.py)
once the worker's rollup loop has folded them into the other rollups."""

from __future__ import annotations

import inspect
from collections import defaultdict

from analytics import rollups
from store import analytics_message_rollups as message_rollups
from store.analytics_batch import Batch
from store.db import make_engine
from tests.stack import Stack

# Until analytics.rollups.fold calls the message rollups' fold, the tests fold what the worker's
# rollup loop folded into the other rollups themselves (each event once); once it does (WIRED),
# draining the loop is enough and this fallback can go.
WIRED = "analytics_message_rollups" in inspect.getsource(rollups)
_FOLDED: dict[str, set[str]] = defaultdict(set)
_COLUMNS = (
    "app_id, endpoint_id, event_id, event_type, event_time, session_id, attributes, metrics,"
    " (event_time AT TIME ZONE 'UTC')::date AS day"
)


def fold_messages(stack: Stack, app_id: str) -> None:
    """Every event of the project stored so far folded into the rollups."""
    stack.drain_rollups()
    if WIRED:
        return
    ids = [r["event_id"] for r in stack.sql("SELECT event_id FROM events WHERE app_id = $1", app_id)]
    new = [i for i in ids if i not in _FOLDED[app_id]]
    batch = Batch(
        f"SELECT {_COLUMNS} FROM events WHERE app_id = :b_app AND event_id = ANY(CAST(:b_ids AS text[]))",
        {"b_app": app_id, "b_ids": new},
    )

    async def fold() -> None:
        engine = make_engine(stack.settings.database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await message_rollups.fold(conn, batch)
        finally:
            await engine.dispose()

    stack.run(fold())
    _FOLDED[app_id].update(new)
