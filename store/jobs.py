"""Import and export jobs: the `jobs` rows, their progress, and the staging of imported segments.

A job's `definition` holds the ImportJobResource / ExportJobResource as the caller sent it, plus
private members (names starting with `_`) that never reach the wire:

- `_pieces`: per file of an import, the batches committed so far and the byte offset and line
  where the next batch starts. It is written in the same transaction as the batch's endpoints
  and members, so a resumed import neither skips nor repeats a batch, and the counters stay
  exact however often a worker dies.
- `_staging`: the hidden segment that collects members for an import into an existing segment.
- `_export`: the export files published so far and the last endpoint id they hold.

An imported segment is staged as a `segments` row at version 0 with no version row: every read
in store.segments joins the current version, so the segment stays invisible (no GetSegment,
no GetSegments, no source segment) until the job publishes version 1, and a failed job removes
it with its members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import RESOURCE_NOT_FOUND, NotFound
from store import segments as segments_store
from store.driver import driver
from store.tables import Endpoint, Job

jobs: Any = Job.__table__  # type: ignore[attr-defined]
endpoints: Any = Endpoint.__table__  # type: ignore[attr-defined]

CREATED, PROCESSING, COMPLETED, FAILED = "CREATED", "PROCESSING", "COMPLETED", "FAILED"
MAX_FAILURES = 100  # messages kept; TotalFailures counts them all


class JobGone(Exception):
    """The job row is gone (its project was deleted): there is nothing left to record."""


async def count_active(conn: AsyncConnection, app_id: str, job_type: str) -> int:
    """Jobs of the project still to finish (CREATED or PROCESSING)."""
    stmt = select(func.count()).where(
        jobs.c.app_id == app_id, jobs.c.job_type == job_type, jobs.c.status.in_((CREATED, PROCESSING))
    )
    return int(await conn.scalar(stmt) or 0)


async def create(
    conn: AsyncConnection,
    *,
    app_id: str,
    job_id: str,
    job_type: str,
    definition: dict[str, Any],
    segment_id: str | None,
) -> dict[str, Any]:
    stmt = (
        insert(jobs)
        .values(app_id=app_id, id=job_id, job_type=job_type, definition=definition, segment_id=segment_id)
        .returning(*jobs.c)
    )
    return dict((await conn.execute(stmt)).mappings().one())


async def get(conn: AsyncConnection, app_id: str, job_id: str, job_type: str) -> dict[str, Any]:
    stmt = select(jobs).where(jobs.c.app_id == app_id, jobs.c.id == job_id, jobs.c.job_type == job_type)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(RESOURCE_NOT_FOUND)
    return dict(row)


async def load(conn: AsyncConnection, app_id: str, job_id: str, *, lock: bool = False) -> dict[str, Any]:
    stmt = select(jobs).where(jobs.c.app_id == app_id, jobs.c.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise JobGone(f"Job {job_id} of project {app_id} no longer exists.")
    return dict(row)


async def page(
    conn: AsyncConnection,
    app_id: str,
    job_type: str,
    *,
    segment_id: str | None = None,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    stmt = (
        select(jobs)
        .where(jobs.c.app_id == app_id, jobs.c.job_type == job_type)
        .order_by(jobs.c.created_at, jobs.c.id)
        .limit(limit)
    )
    if segment_id is not None:
        stmt = stmt.where(jobs.c.segment_id == segment_id)
    if after is not None:
        stmt = stmt.where(tuple_(jobs.c.created_at, jobs.c.id) > tuple_(*after))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def has_segment_jobs(conn: AsyncConnection, app_id: str, segment_id: str, job_type: str) -> bool:
    stmt = select(func.count()).where(
        jobs.c.app_id == app_id, jobs.c.segment_id == segment_id, jobs.c.job_type == job_type
    )
    return int((await conn.execute(stmt)).scalar_one()) > 0


async def start(conn: AsyncConnection, app_id: str, job_id: str, *, total_pieces: int) -> None:
    await conn.execute(
        update(jobs)
        .where(jobs.c.app_id == app_id, jobs.c.id == job_id, jobs.c.status.in_((CREATED, PROCESSING)))
        .values(status=PROCESSING, total_pieces=total_pieces)
    )


def _appended(failures: list[str], messages: list[str]) -> list[str]:
    return (failures + messages)[:MAX_FAILURES] if len(failures) < MAX_FAILURES else failures


# -- import progress --------------------------------------------------------------------------


@dataclass
class PieceProgress:
    batches: int = 0  # batches committed contiguously from the start of the file
    offset: int = 0  # where batch number `batches` starts
    line: int = 0
    # Batches committed beyond the contiguous ones (they may commit out of order): index ->
    # (end offset, end line).
    ahead: dict[int, tuple[int, int]] = field(default_factory=dict)
    state: str | None = None  # done | failed
    failure: str | None = None
    # Imported rows per ChannelType: the segment's ImportDefinition.ChannelCounts.
    channels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> PieceProgress:
        raw = raw or {}
        ahead = {int(k): (int(v[0]), int(v[1])) for k, v in raw.get("ahead", {}).items()}
        return cls(
            raw.get("batches", 0),
            raw.get("offset", 0),
            raw.get("line", 0),
            ahead,
            raw.get("state"),
            raw.get("failure"),
            dict(raw.get("channels", {})),
        )

    def dump(self) -> dict[str, Any]:
        if self.state is not None:
            # A finished file's position is of no further use; a failed one keeps its reason.
            done: dict[str, Any] = {"state": self.state, "channels": self.channels}
            return {**done, "failure": self.failure} if self.failure else done
        ahead = {str(k): list(v) for k, v in self.ahead.items()}
        return {
            "batches": self.batches,
            "offset": self.offset,
            "line": self.line,
            "ahead": ahead,
            "channels": self.channels,
        }


def channel_counts(definition: dict[str, Any]) -> dict[str, int]:
    """ChannelCounts of an import: its files' counts added up."""
    total: dict[str, int] = {}
    for raw in (definition.get("_pieces") or {}).values():
        for channel, n in PieceProgress.of(raw).channels.items():
            total[channel] = total.get(channel, 0) + n
    return total


async def piece_progress(conn: AsyncConnection, app_id: str, job_id: str, piece: int) -> PieceProgress:
    row = await load(conn, app_id, job_id)
    return PieceProgress.of((row["definition"].get("_pieces") or {}).get(str(piece)))


async def record_batch(
    conn: AsyncConnection,
    app_id: str,
    job_id: str,
    piece: int,
    *,
    index: int,
    end_offset: int,
    end_line: int,
    imported: int,
    failed: int,
    messages: list[str],
    channels: dict[str, int],
) -> bool:
    """Count a batch once, in the caller's transaction (the one that wrote its endpoints).
    False when this batch was already counted: the caller rolls its transaction back."""
    row = await load(conn, app_id, job_id, lock=True)
    definition = dict(row["definition"])
    pieces = dict(definition.get("_pieces") or {})
    progress = PieceProgress.of(pieces.get(str(piece)))
    if progress.state is not None or index < progress.batches or index in progress.ahead:
        return False
    progress.ahead[index] = (end_offset, end_line)
    for channel, n in channels.items():
        progress.channels[channel] = progress.channels.get(channel, 0) + n
    while progress.batches in progress.ahead:
        progress.offset, progress.line = progress.ahead.pop(progress.batches)
        progress.batches += 1
    pieces[str(piece)] = progress.dump()
    definition["_pieces"] = pieces
    await conn.execute(
        update(jobs)
        .where(jobs.c.app_id == app_id, jobs.c.id == job_id)
        .values(
            definition=definition,
            failures=_appended(row["failures"], messages),
            total_processed=jobs.c.total_processed + imported,
            total_failures=jobs.c.total_failures + failed,
        )
    )
    return True


async def end_piece(conn: AsyncConnection, app_id: str, job_id: str, piece: int, *, failure: str | None) -> None:
    """Mark a file done (or failed, with its message); counted once however often it is called."""
    row = await load(conn, app_id, job_id, lock=True)
    definition = dict(row["definition"])
    pieces = dict(definition.get("_pieces") or {})
    progress = PieceProgress.of(pieces.get(str(piece)))
    if progress.state is not None:
        return
    progress.state, progress.failure = ("failed", failure) if failure else ("done", None)
    pieces[str(piece)] = progress.dump()
    definition["_pieces"] = pieces
    values: dict[str, Any] = {"definition": definition}
    if failure:
        values["failed_pieces"] = jobs.c.failed_pieces + 1
        values["failures"] = _appended(row["failures"], [failure])
    else:
        values["completed_pieces"] = jobs.c.completed_pieces + 1
    await conn.execute(update(jobs).where(jobs.c.app_id == app_id, jobs.c.id == job_id).values(**values))


async def finish(conn: AsyncConnection, app_id: str, job_id: str, *, status: str, failure: str | None = None) -> None:
    row = await load(conn, app_id, job_id, lock=True)
    if row["status"] in (COMPLETED, FAILED):
        return
    values: dict[str, Any] = {"status": status, "completed_at": func.now()}
    if failure and failure not in row["failures"]:
        values["failures"] = _appended(row["failures"], [failure])
    await conn.execute(update(jobs).where(jobs.c.app_id == app_id, jobs.c.id == job_id).values(**values))


# -- export progress --------------------------------------------------------------------------


async def record_export_file(
    conn: AsyncConnection, app_id: str, job_id: str, *, files: int, after: str, written: int
) -> None:
    """One more export file is published: it ends at endpoint `after`."""
    row = await load(conn, app_id, job_id, lock=True)
    definition = {**row["definition"], "_export": {"files": files, "after": after}}
    await conn.execute(
        update(jobs)
        .where(jobs.c.app_id == app_id, jobs.c.id == job_id)
        .values(
            definition=definition,
            total_pieces=files,
            completed_pieces=files,
            total_processed=jobs.c.total_processed + written,
        )
    )


# -- staged segments --------------------------------------------------------------------------

_STAGE = (
    "INSERT INTO segments (app_id, id, segment_type, version) VALUES (:app_id, :segment_id, 'IMPORT', 0)"
    " ON CONFLICT DO NOTHING"
)
_MERGE = (
    "INSERT INTO segment_members (app_id, segment_id, endpoint_id)"
    " SELECT app_id, :target, endpoint_id FROM segment_members WHERE app_id = :app_id AND segment_id = :staging"
    " ON CONFLICT DO NOTHING"
)
_USER_ENDPOINTS = "SELECT id, user_id FROM endpoints WHERE app_id = $1 AND user_id = ANY($2::text[])"
_EXISTING = "SELECT id FROM endpoints WHERE app_id = $1 AND id = ANY($2::text[])"
_ADD_MEMBERS = (
    "INSERT INTO segment_members (app_id, segment_id, endpoint_id) SELECT $1, $2, unnest($3::text[])"
    " ON CONFLICT DO NOTHING"
)


async def stage_segment(conn: AsyncConnection, app_id: str, segment_id: str) -> None:
    await conn.execute(text(_STAGE), {"app_id": app_id, "segment_id": segment_id})


async def staged(conn: AsyncConnection, app_id: str, segment_id: str) -> bool:
    """True while the segment exists and has not been published."""
    seg = segments_store.segments
    stmt = select(seg.c.version).where(seg.c.app_id == app_id, seg.c.id == segment_id).with_for_update()
    return (await conn.execute(stmt)).scalar_one_or_none() == 0


async def publish_segment(
    conn: AsyncConnection, app_id: str, segment_id: str, *, name: str | None, import_definition: dict[str, Any]
) -> None:
    """Version 1 of a staged segment: from this commit on it is visible with all its members."""
    seg = segments_store.segments
    await segments_store.insert_version(conn, app_id, segment_id, 1, name, None, None, import_definition)
    await conn.execute(
        update(seg).where(seg.c.app_id == app_id, seg.c.id == segment_id).values(version=1, updated_at=func.now())
    )


async def add_staged_members(conn: AsyncConnection, app_id: str, segment_id: str, endpoint_ids: list[str]) -> None:
    """store.segments.add_members for the import hot path: one prepared statement whatever the
    batch, where a multi-row VALUES list is compiled afresh for every batch (most of an import's
    CPU). Idempotent, as a resumed import needs."""
    if endpoint_ids:
        await (await driver(conn)).execute(_ADD_MEMBERS, app_id, segment_id, list(dict.fromkeys(endpoint_ids)))


async def merge_staged(conn: AsyncConnection, app_id: str, staging_id: str, target_id: str) -> None:
    """Add a staged segment's members to `target_id` and drop the staging segment."""
    await conn.execute(text(_MERGE), {"app_id": app_id, "target": target_id, "staging": staging_id})
    await segments_store.remove(conn, app_id, staging_id)


async def user_endpoints(conn: AsyncConnection, app_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
    pg = await driver(conn)
    return [dict(r) for r in await pg.fetch(_USER_ENDPOINTS, app_id, user_ids)]


async def existing_ids(conn: AsyncConnection, app_id: str, ids: list[str]) -> set[str]:
    pg = await driver(conn)
    return {r["id"] for r in await pg.fetch(_EXISTING, app_id, ids)}


# -- export reads -----------------------------------------------------------------------------


async def endpoints_after(conn: AsyncConnection, app_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
    """The project's endpoints in id order, keyset-paged: an export of millions reads a page at a time."""
    stmt = select(endpoints).where(endpoints.c.app_id == app_id).order_by(endpoints.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(endpoints.c.id > after)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def endpoints_by_ids(conn: AsyncConnection, app_id: str, ids: list[str]) -> list[dict[str, Any]]:
    in_ids = endpoints.c.id == any_(bindparam("ids", value=ids, type_=ARRAY(String)))
    stmt = select(endpoints).where(endpoints.c.app_id == app_id, in_ids).order_by(endpoints.c.id)
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]
