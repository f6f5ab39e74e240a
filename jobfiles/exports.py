"""Export jobs: the endpoints of a project or a segment as gzipped newline-delimited JSON (one
EndpointResponse per line, as Pinpoint writes them), in files of FILE_ENDPOINTS endpoints under
`{S3UrlPrefix}/{job id}/`.

Endpoints are read a page at a time in id order and streamed through gzip into a local file,
so memory stays flat whatever the size. A file is published whole (rename, or one S3 upload)
and then recorded in the job row with the last endpoint id it holds; a retried export resumes
after that id and overwrites any file it had not recorded. An export that fails removes the
files it published before it is marked FAILED. The job activities (activities/job_exports.py)
call these functions: a JobFailed fails the job for good, anything else is retried.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from jobfiles.resources import JobFailed, JobResources, load_job
from jobfiles.sources import Location, SourceError, parse_location, publish, staging_dir, unpublish
from openpoint.errors import BadRequest, NotFound
from rules.endpoints import endpoint_response
from store import jobs as jobs_store
from wire.codec import iso, prune

PAGE = 1000
FILE_ENDPOINTS = 100_000
CLEANUP_ATTEMPTS = 5  # tries at removing a failed export's files before failing without

# Called with the number of the file being written and the last endpoint id in it so far.
Heartbeat = Callable[[int, str], None]


async def export_endpoints(r: JobResources, app_id: str, job_id: str, *, heartbeat: Heartbeat) -> None:
    """Write the job's files, resuming after the last one recorded."""
    async with r.engine.begin() as conn:
        row = await load_job(conn, app_id, job_id)
        await jobs_store.start(conn, app_id, job_id, total_pieces=row["total_pieces"])
    definition = row["definition"]
    loc = r.location(definition["S3UrlPrefix"], "S3UrlPrefix", export=True)
    segment: Any = None
    if definition.get("SegmentId"):
        # Imported lazily: segment resolution is its own module, not needed by the rest.
        from store.segment_sql import load_definition

        try:
            async with r.engine.connect() as conn:
                segment = await load_definition(conn, app_id, definition["SegmentId"], definition.get("SegmentVersion"))
        except NotFound as e:
            raise JobFailed(e.message) from None
    done = definition.get("_export") or {}
    files, after = int(done.get("files", 0)), done.get("after")
    while True:
        written, last = await _write_file(r, app_id, job_id, loc, segment, files + 1, after, heartbeat)
        if not written:
            return
        files += 1
        try:
            async with r.engine.begin() as conn:
                await jobs_store.record_export_file(conn, app_id, job_id, files=files, after=last, written=written)
        except jobs_store.JobGone as e:
            raise JobFailed(str(e)) from None
        after = last
        if written < FILE_ENDPOINTS:
            return


async def _write_file(
    r: JobResources,
    app_id: str,
    job_id: str,
    loc: Location,
    segment: Any,
    number: int,
    after: str | None,
    heartbeat: Heartbeat,
) -> tuple[int, str]:
    """Write and publish file `number`, holding the endpoints after `after`; returns how
    many it holds and the last id (0 and nothing published when none are left)."""
    name = f"{number:05d}.gz"
    folder = staging_dir(loc, r.root, job_id)
    local = folder / f".{job_id}-{name}.{os.getpid()}.partial"
    written, last = 0, after or ""
    try:
        out = await asyncio.to_thread(gzip.open, local, "wb", 6)
        try:
            while written < FILE_ENDPOINTS:
                rows, position = await _page(r, app_id, segment, last or None)
                if position is None:
                    break
                lines = b"".join(orjson.dumps(prune(endpoint_response(row, iso))) + b"\n" for row in rows)
                await asyncio.to_thread(out.write, lines)
                written, last = written + len(rows), position
                heartbeat(number, last)
        finally:
            await asyncio.to_thread(out.close)
        if written:
            try:
                await asyncio.to_thread(publish, loc, f"{job_id}/{name}", local, r.root, r.s3_for(loc))
            except SourceError as e:
                raise JobFailed(str(e)) from None
        return written, last
    finally:
        Path(local).unlink(missing_ok=True)


async def _page(
    r: JobResources, app_id: str, segment: Any, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The next endpoints after `after`, and the id to continue after (None at the end).
    A segment page may name endpoints that no longer exist; they are left out."""
    async with r.engine.connect() as conn:
        if segment is None:
            rows = await jobs_store.endpoints_after(conn, app_id, after, PAGE)
            return rows, (rows[-1]["id"] if rows else None)
        from store.segment_sql import resolve_page

        ids = await resolve_page(conn, app_id, segment, after=after, limit=PAGE, now=datetime.now(UTC))
        if not ids:
            return [], None
        return await jobs_store.endpoints_by_ids(conn, app_id, ids), ids[-1]


async def finish_export(r: JobResources, app_id: str, job_id: str, failure: str | None, *, attempt: int) -> str:
    """The job's final status; a failed export's files are removed first (`attempt` is the
    activity's, for how long to keep trying)."""
    status = jobs_store.FAILED if failure else jobs_store.COMPLETED
    if failure:
        failure = await _remove_files(r, app_id, job_id, failure, attempt)
    async with r.engine.begin() as conn:
        try:
            await jobs_store.finish(conn, app_id, job_id, status=status, failure=failure)
            row = await jobs_store.load(conn, app_id, job_id)
        except jobs_store.JobGone:
            return jobs_store.FAILED
    return str(row["status"])


async def _remove_files(r: JobResources, app_id: str, job_id: str, failure: str, attempt: int) -> str:
    """A failed export leaves no files behind: a reader of the prefix must not take the
    files it did write for the whole export. They go before the job is marked FAILED. If
    they cannot be removed (the store is down), the activity is retried a few times; after
    that the job fails all the same and its failure names what was left."""
    try:
        async with r.engine.connect() as conn:
            row = await jobs_store.load(conn, app_id, job_id)
    except jobs_store.JobGone:
        return failure
    if row["status"] in (jobs_store.COMPLETED, jobs_store.FAILED):
        return failure  # already recorded (a retried activity): nothing to redo
    try:
        loc = parse_location(row["definition"]["S3UrlPrefix"], "S3UrlPrefix", r.root, export=True)
    except BadRequest:
        return failure  # the prefix itself was refused: nothing was written
    try:
        await asyncio.to_thread(unpublish, loc, job_id, r.root, r.s3_for(loc))
    except (SourceError, OSError) as e:
        if attempt < CLEANUP_ATTEMPTS:
            raise
        return f"{failure} (files written under {loc.url.rstrip('/')}/{job_id}/ could not be removed: {e})"
    return failure
