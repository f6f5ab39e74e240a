"""Export job activities: the endpoints of a project or a segment as gzipped newline-delimited
JSON (one EndpointResponse per line, as Pinpoint writes them), in files of FILE_ENDPOINTS
endpoints under `{S3UrlPrefix}/{job id}/`.

Endpoints are read a page at a time in id order and streamed through gzip into a local file,
so memory stays flat whatever the size. A file is published whole (rename, or one S3 upload)
and then recorded in the job row with the last endpoint id it holds; a retried export resumes
after that id and overwrites any file it had not recorded. An export that fails removes the
files it published before it is marked FAILED.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from temporalio import activity

from activities.jobs import JobResources, job_failed, load_job
from jobfiles.sources import Location, SourceError, parse_location, publish, staging_dir, unpublish
from openpoint.errors import BadRequest, NotFound
from rules.endpoints import endpoint_response
from store import jobs as jobs_store
from wire.codec import iso, prune
from workflows.jobs import EXPORT_ENDPOINTS, FINISH_EXPORT, JobFinish, JobInput, JobOutput

PAGE = 1000
FILE_ENDPOINTS = 100_000
CLEANUP_ATTEMPTS = 5  # tries at removing a failed export's files before failing without


class ExportActivities:
    def __init__(self, resources: JobResources) -> None:
        self.r = resources

    @activity.defn(name=EXPORT_ENDPOINTS)
    async def export_endpoints(self, job: JobInput) -> None:
        async with self.r.engine.begin() as conn:
            row = await load_job(conn, job.app_id, job.job_id)
            await jobs_store.start(conn, job.app_id, job.job_id, total_pieces=row["total_pieces"])
        definition = row["definition"]
        loc = self.r.location(definition["S3UrlPrefix"], "S3UrlPrefix", export=True)
        segment: Any = None
        if definition.get("SegmentId"):
            # Imported lazily: segment resolution is its own module, not needed by the rest.
            from store.segment_sql import load_definition

            try:
                async with self.r.engine.connect() as conn:
                    segment = await load_definition(
                        conn, job.app_id, definition["SegmentId"], definition.get("SegmentVersion")
                    )
            except NotFound as e:
                raise job_failed(e.message) from None
        done = definition.get("_export") or {}
        files, after = int(done.get("files", 0)), done.get("after")
        while True:
            written, last = await self._write_file(job, loc, segment, files + 1, after)
            if not written:
                return
            files += 1
            try:
                async with self.r.engine.begin() as conn:
                    await jobs_store.record_export_file(
                        conn, job.app_id, job.job_id, files=files, after=last, written=written
                    )
            except jobs_store.JobGone as e:
                raise job_failed(str(e)) from None
            after = last
            if written < FILE_ENDPOINTS:
                return

    async def _write_file(
        self, job: JobInput, loc: Location, segment: Any, number: int, after: str | None
    ) -> tuple[int, str]:
        """Write and publish file `number`, holding the endpoints after `after`; returns how
        many it holds and the last id (0 and nothing published when none are left)."""
        name = f"{number:05d}.gz"
        folder = staging_dir(loc, self.r.root, job.job_id)
        local = folder / f".{job.job_id}-{name}.{os.getpid()}.partial"
        written, last = 0, after or ""
        try:
            out = await asyncio.to_thread(gzip.open, local, "wb", 6)
            try:
                while written < FILE_ENDPOINTS:
                    rows, position = await self._page(job.app_id, segment, last or None)
                    if position is None:
                        break
                    lines = b"".join(orjson.dumps(prune(endpoint_response(r, iso))) + b"\n" for r in rows)
                    await asyncio.to_thread(out.write, lines)
                    written, last = written + len(rows), position
                    activity.heartbeat(number, last)
            finally:
                await asyncio.to_thread(out.close)
            if written:
                try:
                    await asyncio.to_thread(
                        publish, loc, f"{job.job_id}/{name}", local, self.r.root, self.r.s3_for(loc)
                    )
                except SourceError as e:
                    raise job_failed(str(e)) from None
            return written, last
        finally:
            Path(local).unlink(missing_ok=True)

    async def _page(self, app_id: str, segment: Any, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """The next endpoints after `after`, and the id to continue after (None at the end).
        A segment page may name endpoints that no longer exist; they are left out."""
        async with self.r.engine.connect() as conn:
            if segment is None:
                rows = await jobs_store.endpoints_after(conn, app_id, after, PAGE)
                return rows, (rows[-1]["id"] if rows else None)
            from store.segment_sql import resolve_page

            ids = await resolve_page(conn, app_id, segment, after=after, limit=PAGE, now=datetime.now(UTC))
            if not ids:
                return [], None
            return await jobs_store.endpoints_by_ids(conn, app_id, ids), ids[-1]

    @activity.defn(name=FINISH_EXPORT)
    async def finish_export(self, finish: JobFinish) -> JobOutput:
        status = jobs_store.FAILED if finish.failure else jobs_store.COMPLETED
        failure = finish.failure
        if failure:
            failure = await self._remove_files(finish, failure)
        async with self.r.engine.begin() as conn:
            try:
                await jobs_store.finish(conn, finish.app_id, finish.job_id, status=status, failure=failure)
                row = await jobs_store.load(conn, finish.app_id, finish.job_id)
            except jobs_store.JobGone:
                return JobOutput(jobs_store.FAILED)
        return JobOutput(row["status"])

    async def _remove_files(self, finish: JobFinish, failure: str) -> str:
        """A failed export leaves no files behind: a reader of the prefix must not take the
        files it did write for the whole export. They go before the job is marked FAILED. If
        they cannot be removed (the store is down), the activity is retried a few times; after
        that the job fails all the same and its failure names what was left."""
        try:
            async with self.r.engine.connect() as conn:
                row = await jobs_store.load(conn, finish.app_id, finish.job_id)
        except jobs_store.JobGone:
            return failure
        if row["status"] in (jobs_store.COMPLETED, jobs_store.FAILED):
            return failure  # already recorded (a retried activity): nothing to redo
        try:
            loc = parse_location(row["definition"]["S3UrlPrefix"], "S3UrlPrefix", self.r.root, export=True)
        except BadRequest:
            return failure  # the prefix itself was refused: nothing was written
        try:
            await asyncio.to_thread(unpublish, loc, finish.job_id, self.r.root, self.r.s3_for(loc))
        except (SourceError, OSError) as e:
            if activity.info().attempt < CLEANUP_ATTEMPTS:
                raise
            return f"{failure} (files written under {loc.url.rstrip('/')}/{finish.job_id}/ could not be removed: {e})"
        return failure
