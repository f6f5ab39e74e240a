"""A project's event stream (migration 0010): its destination, its feed cursor and how it is doing.

The gateway writes the stream (PutEventStream, DeleteEventStream); the worker's streamer takes
one stream at a time under a row lock (`FOR UPDATE SKIP LOCKED`, held for the whole round, so
only one worker streams a project at a time), reads the feed from the stored cursor and moves the
cursor on once the destination accepted a batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from openpoint.vault import Vault
from store import feed

_COLUMNS = (
    "app_id, destination_stream_arn, role_arn, external_id, last_updated_by, last_modified_at, cursor,"
    " delivered, delivered_at, last_event_at, lag_events, lag_seconds, last_error, last_error_at, failures, retry_at"
)
# Only the streamer reads the stream's encrypted credentials: the gateway never selects them.
_CLAIM_COLUMNS = _COLUMNS + ", secret_ciphertext"


async def put(
    conn: AsyncConnection, *, app_id: str, destination: str, role_arn: str, updated_by: str
) -> dict[str, Any]:
    """Create the project's stream (its cursor: from now on) or change its destination and role
    (the cursor stays: nothing is skipped or sent twice on a change of destination)."""
    start = await feed.start(conn)
    row = (
        (
            await conn.execute(
                text(
                    "INSERT INTO event_streams (app_id, destination_stream_arn, role_arn, last_updated_by, cursor)"
                    " VALUES (:a, :d, :r, :u, :c)"
                    " ON CONFLICT (app_id) DO UPDATE SET destination_stream_arn = EXCLUDED.destination_stream_arn,"
                    " role_arn = EXCLUDED.role_arn, last_updated_by = EXCLUDED.last_updated_by,"
                    " last_modified_at = now(), failures = 0, retry_at = NULL"
                    f" RETURNING {_COLUMNS}"
                ),
                {"a": app_id, "d": destination, "r": role_arn, "u": updated_by, "c": start},
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


async def get(conn: AsyncConnection, app_id: str) -> dict[str, Any]:
    row = (
        (await conn.execute(text(f"SELECT {_COLUMNS} FROM event_streams WHERE app_id = :a"), {"a": app_id}))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


async def delete(conn: AsyncConnection, app_id: str) -> dict[str, Any]:
    row = (
        (await conn.execute(text(f"DELETE FROM event_streams WHERE app_id = :a RETURNING {_COLUMNS}"), {"a": app_id}))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


def _purpose(app_id: str) -> str:
    # Bound to the project: a ciphertext copied onto another project's stream does not decrypt.
    return f"event-stream:{app_id}"


def credentials(vault: Vault, app_id: str, ciphertext: bytes | None) -> dict[str, str]:
    """The stream's own AWS credentials (`openpoint streams credentials`), decrypted; {} when it
    has none. Raises cryptography's InvalidTag when the master key is not the one they were
    stored with."""
    if not ciphertext:
        return {}
    found: dict[str, str] = orjson.loads(vault.decrypt(ciphertext, purpose=_purpose(app_id)))
    return found


async def set_credentials(
    conn: AsyncConnection,
    vault: Vault,
    app_id: str,
    given: dict[str, str],
    *,
    external_id: str | None = None,
    clear: bool = False,
) -> bool:
    """Merge `given` into the stream's encrypted credentials (a value of "" removes that name;
    `clear` removes them all first) and set its ExternalId when given. False when the project
    has no stream."""
    row = (
        (
            await conn.execute(
                text("SELECT secret_ciphertext FROM event_streams WHERE app_id = :a FOR UPDATE"), {"a": app_id}
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return False
    merged = {} if clear else credentials(vault, app_id, row["secret_ciphertext"])
    merged = {k: v for k, v in {**merged, **given}.items() if v}
    secret = vault.encrypt(orjson.dumps(merged), purpose=_purpose(app_id)) if merged else None
    await conn.execute(
        text(
            "UPDATE event_streams SET secret_ciphertext = :s, external_id = COALESCE(:x, external_id),"
            " failures = 0, retry_at = NULL WHERE app_id = :a"
        ),
        {"a": app_id, "s": secret, "x": external_id},
    )
    return True


async def due(conn: AsyncConnection, *, limit: int = 100) -> list[str]:
    """Projects whose stream may be attempted now (not waiting out a backoff)."""
    rows = await conn.execute(
        text("SELECT app_id FROM event_streams WHERE retry_at IS NULL OR retry_at <= now() ORDER BY app_id LIMIT :n"),
        {"n": limit},
    )
    return [r[0] for r in rows]


# Advisory locks of event streams: (this class, hashtext(app id)). Two projects whose ids hash
# alike only take turns.
_LOCK_CLASS = 0x4F50_0010


async def claim(conn: AsyncConnection, app_id: str) -> dict[str, Any] | None:
    """The stream's row, with this transaction holding the project's stream lock; None when
    another worker streams it (or it is gone, or waits out a backoff). The lock is an advisory
    one, not a row lock: a transaction that locks a row takes a transaction id, which would hold
    back the feed's horizon for every reader while the destination is called."""
    got = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k, hashtext(:a))"), {"k": _LOCK_CLASS, "a": app_id})
    if not got:
        return None
    row = (
        (
            await conn.execute(
                text(
                    f"SELECT {_CLAIM_COLUMNS} FROM event_streams"
                    " WHERE app_id = :a AND (retry_at IS NULL OR retry_at <= now())"
                ),
                {"a": app_id},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def advance(
    conn: AsyncConnection, app_id: str, *, cursor: str, delivered: int, last_event_at: datetime | None
) -> None:
    """The destination accepted the events up to `cursor`."""
    await conn.execute(
        text(
            "UPDATE event_streams SET cursor = :c, delivered = delivered + :n, delivered_at = now(),"
            " last_event_at = COALESCE(:t, last_event_at), failures = 0, retry_at = NULL WHERE app_id = :a"
        ),
        {"a": app_id, "c": cursor, "n": delivered, "t": last_event_at},
    )


async def skip_to(conn: AsyncConnection, app_id: str, cursor: str) -> None:
    """Move a quiet stream's cursor past other projects' transactions (none of its own events lie
    below `cursor`)."""
    await conn.execute(text("UPDATE event_streams SET cursor = :c WHERE app_id = :a"), {"a": app_id, "c": cursor})


async def failed(conn: AsyncConnection, app_id: str, *, error: str, backoff_seconds: float) -> int:
    """Record a failed attempt; the next one waits `backoff_seconds`. Returns the count of failures in a row."""
    n = await conn.scalar(
        text(
            "UPDATE event_streams SET last_error = :e, last_error_at = now(), failures = failures + 1,"
            " retry_at = now() + make_interval(secs => :b) WHERE app_id = :a RETURNING failures"
        ),
        {"a": app_id, "e": error[:2000], "b": backoff_seconds},
    )
    return int(n or 0)


# Lag: the project's events above the cursor (counted up to a bound: a stream far behind is
# reported as at least that many), and how long the oldest of them has waited.
_LAG_BOUND = 1_000_000
_LAG = text(
    "SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0) AS s FROM ("
    "SELECT received_at FROM events WHERE app_id = :a AND xid > CAST(CAST(:c AS text) AS xid8) LIMIT :bound"
    ") AS behind"
)


async def lag(conn: AsyncConnection, app_id: str, cursor: str) -> tuple[int, float]:
    """(events, seconds) the stream is behind: the project's stored events it has not delivered,
    and the age of the oldest of them."""
    row = (await conn.execute(_LAG, {"a": app_id, "c": cursor, "bound": _LAG_BOUND})).mappings().one()
    return int(row["n"]), max(float(row["s"] or 0), 0.0)


async def measure_lag(conn: AsyncConnection, row: dict[str, Any], cursor: str) -> tuple[int, float]:
    """The lag, stored on the stream's row when it changed (an idle stream writes nothing)."""
    events, seconds = await lag(conn, row["app_id"], cursor)
    if (events, seconds) != (row["lag_events"], row["lag_seconds"]):
        await conn.execute(
            text("UPDATE event_streams SET lag_events = :n, lag_seconds = :s WHERE app_id = :a"),
            {"a": row["app_id"], "n": events, "s": seconds},
        )
    return events, seconds


_ENDPOINTS = text(
    "SELECT id, address, channel_type, endpoint_status, opt_out, user_id, cohort_id, request_id, effective_date,"
    " attributes, user_attributes, metrics, demographic, location, created_at"
    " FROM endpoints WHERE app_id = :a AND id = ANY(:ids)"
)


async def endpoints(conn: AsyncConnection, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The endpoints the events of a batch belong to, by id (as they are now)."""
    if not ids:
        return {}
    rows = await conn.execute(_ENDPOINTS, {"a": app_id, "ids": ids})
    return {r["id"]: dict(r) for r in rows.mappings()}


_SESSIONS = text("SELECT id, start_time, stop_time FROM sessions WHERE app_id = :a AND id = ANY(:ids)")


async def sessions(conn: AsyncConnection, app_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The sessions the events of a batch belong to, by id (start_time, stop_time)."""
    if not ids:
        return {}
    rows = await conn.execute(_SESSIONS, {"a": app_id, "ids": ids})
    return {r["id"]: dict(r) for r in rows.mappings()}
