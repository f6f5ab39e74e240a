"""One batch of the analytics rollups, as SQL: the events a rollup step folds, named by a SELECT
that every rollup statement of the step reads from (`FROM (<batch.sql>) AS b`), so that the
aggregation runs inside PostgreSQL instead of shipping each event to Python.

A batch is either a slice of the event feed (whole transactions between two transaction ids,
store/feed.py) or a page of the backfill (the events stored before the rollups started, in key
order). Its columns: app_id, endpoint_id, event_id, event_type, event_time, session_id,
attributes (jsonb), metrics (jsonb), day (the UTC date of event_time). Days outside
[lowest, highest] are left out: before the retention they are gone, after tomorrow the clock
that stamped them is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

_COLUMNS = (
    "app_id, endpoint_id, event_id, event_type, event_time, session_id, attributes, metrics,"
    " (event_time AT TIME ZONE 'UTC')::date AS day"
)
_IN_RANGE = "(event_time AT TIME ZONE 'UTC')::date BETWEEN :b_lowest AND :b_highest"
_XID = "CAST(CAST(:{} AS text) AS xid8)"  # asyncpg would want an integer for an xid8 parameter


@dataclass(frozen=True)
class Batch:
    """A SELECT of the batch's events and its parameters (all named `b_*`, so that a statement
    reading the batch can add its own)."""

    sql: str
    params: dict[str, Any]


def from_feed(after: str, upto: str, lowest: date, highest: date) -> Batch:
    """The events of the transactions with ids in (after, upto] (upto below the feed's horizon)."""
    return Batch(
        f"SELECT {_COLUMNS} FROM events WHERE xid > {_XID.format('b_after')} AND xid <= {_XID.format('b_upto')}"
        f" AND {_IN_RANGE}",
        {"b_after": after, "b_upto": upto, "b_lowest": lowest, "b_highest": highest},
    )


def from_backfill(upto: str, after: list[Any], limit: int, lowest: date, highest: date) -> Batch:
    """A page of the events of transactions up to `upto`, after the key `after` ([app, endpoint,
    event time ISO, event id], or [] from the start), in key order. The events of one endpoint
    may span pages: folding does not depend on their order."""
    app, ep, at, ev = after if after else (None, None, None, None)
    return Batch(
        f"SELECT * FROM (SELECT {_COLUMNS} FROM events WHERE xid <= {_XID.format('b_upto')}"
        " AND (CAST(:b_app AS text) IS NULL"
        " OR (app_id, endpoint_id, event_time, event_id) > (:b_app, :b_ep, :b_at, :b_ev))"
        " ORDER BY app_id, endpoint_id, event_time, event_id LIMIT :b_limit) AS page"
        " WHERE day BETWEEN :b_lowest AND :b_highest",
        {
            "b_upto": upto,
            "b_app": app,
            "b_ep": ep,
            "b_at": datetime.fromisoformat(at) if at else datetime.now(UTC),
            "b_ev": ev,
            "b_limit": limit,
            "b_lowest": lowest,
            "b_highest": highest,
        },
    )
