"""Import job activities: list the files, import each one batch by batch, publish the segment.

A file is read in batches of 1,000 rows on a thread of its own (boto3, urllib and file reads
block), a couple of batches ahead; the rows become endpoint requests on the event loop's thread.
Each batch is written in one transaction that upserts its endpoints, adds its segment members
and counts it in the job row (store.jobs.record_batch). Two batches of a file may be in flight
at once, so that Python work on one overlaps the database's work on the other (more contend in
the database and gain nothing); a batch that was already counted (the activity is a retry) is
rolled back, never applied twice.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from jobfiles.rows import Batch, BatchReader, FormatError, RawBatch
from jobfiles.sources import Location, S3Client, SourceError, list_files, open_file, parse_location
from jobfiles.sources import read_first_line as _read_first_line
from openpoint.errors import BadRequest, NotFound
from openpoint.settings import Settings
from rules.networks import parse_networks
from store import apps as apps_store
from store import endpoints as endpoints_store
from store import jobs as jobs_store
from store import segments as segments_store
from workflows.jobs import (
    FINISH_IMPORT,
    IMPORT_PIECE,
    JOB_FAILED,
    PREPARE_IMPORT,
    ImportPlan,
    JobFinish,
    JobInput,
    JobOutput,
    PieceInput,
    PieceResult,
)

T = TypeVar("T")
BATCHES_IN_FLIGHT = 2
READ_AHEAD = 2  # batches read before they are needed
_RETRY_SQLSTATES = ("40P01", "40001")  # deadlock (two batches naming the same endpoints), serialization


def job_failed(message: str) -> ApplicationError:
    return ApplicationError(message, type=JOB_FAILED, non_retryable=True)


def staged_segment(definition: dict[str, Any]) -> str | None:
    """The hidden segment an import collects its members in: the new segment itself, or the
    staging segment of an import into an existing one."""
    if definition.get("DefineSegment"):
        return str(definition["SegmentId"])
    staging = definition.get("_staging")
    return str(staging) if staging else None


async def load_job(conn: AsyncConnection, app_id: str, job_id: str) -> dict[str, Any]:
    """The job row; a job whose project was deleted meanwhile fails for good."""
    try:
        return await jobs_store.load(conn, app_id, job_id)
    except jobs_store.JobGone as e:
        raise job_failed(str(e)) from None


def _sqlstate(e: BaseException) -> str | None:
    seen: BaseException | None = e
    while seen is not None:
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class JobResources:
    """What both kinds of job activities share: the engine, the file root, one S3 client and
    the TLS trust for https:// sources."""

    def __init__(self, engine: AsyncEngine, settings: Settings, *, tls: ssl.SSLContext | None = None) -> None:
        self.engine = engine
        self.root: Path | None = settings.file_root
        self.s3_endpoint_url = settings.s3_endpoint_url
        self.tls = tls or ssl.create_default_context()
        self.allowed_networks = parse_networks(settings.webhook_allowed_networks)  # for https:// sources
        self._s3: Any = None
        self._s3_lock = threading.Lock()

    def s3(self) -> S3Client:
        """Built on first use (boto3 clients are slow to build but safe to share across threads).
        Credentials come from the usual AWS environment / config chain."""
        with self._s3_lock:
            if self._s3 is None:
                import boto3
                from botocore.config import Config

                path_style = Config(s3={"addressing_style": "path"}) if self.s3_endpoint_url else None
                self._s3 = boto3.client("s3", endpoint_url=self.s3_endpoint_url or None, config=path_style)
            return self._s3  # type: ignore[no-any-return]

    def location(self, url: str, field: str, *, export: bool = False) -> Location:
        try:
            return parse_location(url, field, self.root, export=export)
        except BadRequest as e:
            raise job_failed(e.message) from None

    def s3_for(self, loc: Location) -> S3Client | None:
        return self.s3() if loc.scheme == "s3" else None


class ImportActivities:
    def __init__(self, resources: JobResources) -> None:
        self.r = resources

    @activity.defn(name=PREPARE_IMPORT)
    async def prepare_import(self, job: JobInput) -> ImportPlan:
        async with self.r.engine.connect() as conn:
            row = await load_job(conn, job.app_id, job.job_id)
        definition = row["definition"]
        loc = self.r.location(definition["S3Url"], "S3Url")
        try:
            files = await asyncio.to_thread(list_files, loc, definition["Format"], self.r.root, self.r.s3_for(loc))
        except SourceError as e:
            raise job_failed(str(e)) from None
        async with self.r.engine.begin() as conn:
            segment = staged_segment(definition)
            if segment is not None:
                await jobs_store.stage_segment(conn, job.app_id, segment)
            await jobs_store.start(conn, job.app_id, job.job_id, total_pieces=len(files))
        return ImportPlan([f.url for f in files])

    @activity.defn(name=IMPORT_PIECE)
    async def import_piece(self, task: PieceInput) -> PieceResult:
        try:
            return await self._import_piece(task)
        except jobs_store.JobGone as e:
            raise job_failed(str(e)) from None

    async def _import_piece(self, task: PieceInput) -> PieceResult:
        async with self.r.engine.connect() as conn:
            row = await load_job(conn, task.app_id, task.job_id)
            app = await apps_store.get(conn, task.app_id)
        definition = row["definition"]
        progress = jobs_store.PieceProgress.of((definition.get("_pieces") or {}).get(str(task.piece)))
        if progress.state is not None:  # finished by an earlier attempt that could not report it
            return PieceResult(task.piece, progress.failure)
        writer = _BatchWriter(
            self.r.engine,
            task,
            segment=staged_segment(definition),
            register=definition.get("RegisterEndpoints", True),
            removed=app["removed_attributes"] or {},
        )
        # One thread per file: the stream is only ever touched from it, closing included.
        thread = ThreadPoolExecutor(1, thread_name_prefix=f"import-{task.job_id[:8]}-{task.piece}")
        stream: IO[bytes] | None = None

        async def blocking(fn: Callable[[], T]) -> T:
            return await asyncio.get_running_loop().run_in_executor(thread, fn)

        ahead: asyncio.Queue[RawBatch | BaseException | None] = asyncio.Queue(READ_AHEAD)

        async def read_ahead(reader: BatchReader) -> None:
            # The next batches are read while the last ones are parsed and written.
            try:
                while (raw := await blocking(reader.read)) is not None:
                    await ahead.put(raw)
                await ahead.put(None)
            except Exception as e:  # raised where the file is imported
                await ahead.put(e)

        producer: asyncio.Task[None] | None = None
        try:
            stream, reader = await blocking(lambda: self._open(task.url, definition["Format"], progress))
            producer = asyncio.create_task(read_ahead(reader))
            while (raw := await ahead.get()) is not None:
                if isinstance(raw, BaseException):
                    raise raw
                if raw.index not in progress.ahead:
                    await writer.submit(reader.parse(raw))
                activity.heartbeat(raw.index)
            await writer.drain()
        except (FormatError, SourceError) as e:
            await writer.drain(failing=True)
            failure = str(e) if isinstance(e, SourceError) else f"{task.url} {e}."
            async with self.r.engine.begin() as conn:
                await jobs_store.end_piece(conn, task.app_id, task.job_id, task.piece, failure=failure)
            return PieceResult(task.piece, failure)
        finally:
            if producer is not None:
                producer.cancel()
                await asyncio.gather(producer, return_exceptions=True)
            await writer.cancel()
            if stream is not None:
                await blocking(stream.close)  # after any read still running on the same thread
            thread.shutdown(wait=False)
        async with self.r.engine.begin() as conn:
            await jobs_store.end_piece(conn, task.app_id, task.job_id, task.piece, failure=None)
        return PieceResult(task.piece)

    def _open(self, url: str, fmt: str, progress: jobs_store.PieceProgress) -> tuple[IO[bytes], BatchReader]:
        loc = parse_location(url, "S3Url", self.r.root)
        s3 = self.r.s3_for(loc)
        header = None
        if fmt == "CSV" and progress.offset > 0:
            header = _read_first_line(url, self.r.root, s3, self.r.tls, allowed=self.r.allowed_networks)
        stream = open_file(url, progress.offset, self.r.root, s3, self.r.tls, allowed=self.r.allowed_networks)
        try:
            return stream, BatchReader(
                stream, fmt, index=progress.batches, offset=progress.offset, line=progress.line, header=header
            )
        except BaseException:
            stream.close()
            raise

    @activity.defn(name=FINISH_IMPORT)
    async def finish_import(self, finish: JobFinish) -> JobOutput:
        async with self.r.engine.begin() as conn:
            try:
                row = await jobs_store.load(conn, finish.app_id, finish.job_id, lock=True)
            except jobs_store.JobGone:
                return JobOutput(jobs_store.FAILED)
            if row["status"] in (jobs_store.COMPLETED, jobs_store.FAILED):
                return JobOutput(row["status"])
            if finish.failure is not None and finish.piece is not None:
                await jobs_store.end_piece(conn, finish.app_id, finish.job_id, finish.piece, failure=finish.failure)
            failure = finish.failure
            if failure is None and row["total_processed"] == 0:
                failure = (
                    f"None of the {row['total_failures']} rows could be imported."
                    if row["total_failures"]
                    else "The files hold no endpoint definitions."
                )
            definition = row["definition"]
            segment = staged_segment(definition)
            if failure is None and segment is not None:
                try:
                    await _publish(conn, finish.app_id, definition, segment)
                except NotFound:
                    failure = f"Segment {definition['SegmentId']} was deleted while the job ran."
            if failure is not None and segment is not None:
                # Nothing half-imported stays behind: the staged segment goes with its members.
                await segments_store.remove(conn, finish.app_id, segment)
            status = jobs_store.COMPLETED if failure is None else jobs_store.FAILED
            await jobs_store.finish(conn, finish.app_id, finish.job_id, status=status, failure=failure)
        return JobOutput(status)


async def _publish(conn: AsyncConnection, app_id: str, definition: dict[str, Any], staged: str) -> None:
    """Make the imported members visible: version 1 of a new segment, or a new version of the
    segment the job imports into, in the caller's transaction."""
    target = staged
    if not definition.get("DefineSegment"):
        target = definition["SegmentId"]
        current = await segments_store.get(conn, app_id, target, lock=True)
        await jobs_store.merge_staged(conn, app_id, staged, target)
    import_definition = {
        "ChannelCounts": jobs_store.channel_counts(definition),
        "ExternalId": definition.get("ExternalId"),
        "Format": definition["Format"],
        "RoleArn": definition["RoleArn"],
        "S3Url": definition["S3Url"],
        "Size": await segments_store.member_count(conn, app_id, target),
    }
    import_definition = {k: v for k, v in import_definition.items() if v is not None}
    if definition.get("DefineSegment"):
        if await jobs_store.staged(conn, app_id, target):
            await jobs_store.publish_segment(
                conn, app_id, target, name=definition.get("SegmentName"), import_definition=import_definition
            )
        return
    await segments_store.add_version(
        conn,
        app_id=app_id,
        segment_id=target,
        name=definition.get("SegmentName") or current["name"],
        dimensions=current["dimensions"],
        segment_groups=current["segment_groups"],
        import_definition=import_definition,
    )


class _AlreadyCounted(Exception):
    """The batch was committed by an earlier attempt: roll this transaction back."""


class _BatchWriter:
    """Writes a file's batches, at most BATCHES_IN_FLIGHT at once, each in its own transaction."""

    def __init__(
        self,
        engine: AsyncEngine,
        task: PieceInput,
        *,
        segment: str | None,
        register: bool,
        removed: dict[str, list[str]],
    ) -> None:
        self.engine = engine
        self.task = task
        self.segment = segment
        self.register = register
        self.removed = removed
        self.running: set[asyncio.Task[None]] = set()

    async def submit(self, batch: Batch) -> None:
        while len(self.running) >= BATCHES_IN_FLIGHT:
            done, _ = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                self.running.discard(t)
                t.result()  # a failed batch fails the file (and Temporal retries it)
        self.running.add(asyncio.create_task(self._write(batch)))

    async def drain(self, *, failing: bool = False) -> None:
        """Wait for the batches in flight; when the file is failing anyway, their errors are moot."""
        running, self.running = self.running, set()
        results = await asyncio.gather(*running, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not failing:
                raise result

    async def cancel(self) -> None:
        running, self.running = self.running, set()
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _write(self, batch: Batch) -> None:
        for attempt in range(5):
            try:
                async with self.engine.begin() as conn:
                    await self._apply(conn, batch)
                return
            except _AlreadyCounted:
                return
            except Exception as e:
                if _sqlstate(e) not in _RETRY_SQLSTATES or attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def _apply(self, conn: AsyncConnection, batch: Batch) -> None:
        task = self.task
        failed: dict[int, str] = dict(batch.failures)
        rows_of: dict[str, list[int]] = {}
        for eid, _req, row in batch.endpoints:
            rows_of.setdefault(eid, []).append(row)
        members: list[str] = []
        channels: dict[str, int] = {}  # per imported row, as Pinpoint counts ChannelCounts
        if batch.endpoints:
            if self.register:
                items = [(eid, req) for eid, req, _row in batch.endpoints]
                errors = await endpoints_store.upsert(
                    conn, task.app_id, items, now=datetime.now(UTC), removed=self.removed, strict=False
                )
            else:
                known = await jobs_store.existing_ids(conn, task.app_id, list(rows_of))
                errors = {
                    eid: f"Endpoint {eid} is not registered, and the job's RegisterEndpoints is false."
                    for eid in rows_of
                    if eid not in known
                }
            for eid, message in errors.items():
                for row in rows_of[eid]:
                    failed[row] = message
            members = [eid for eid in rows_of if eid not in errors]
            for eid, req, _row in batch.endpoints:
                if eid not in errors and "ChannelType" in req:
                    channels[req["ChannelType"]] = channels.get(req["ChannelType"], 0) + 1
        if batch.users:
            found: dict[str, list[str]] = {}
            for r in await jobs_store.user_endpoints(conn, task.app_id, sorted({u for u, _ in batch.users})):
                found.setdefault(r["user_id"], []).append(r["id"])
            for user, row in batch.users:
                if user in found:
                    members.extend(found[user])
                else:
                    failed[row] = f"User {user} has no endpoints in this project."
        if self.segment is not None and members:
            await jobs_store.add_staged_members(conn, task.app_id, self.segment, members)
        counted = await jobs_store.record_batch(
            conn,
            task.app_id,
            task.job_id,
            task.piece,
            index=batch.index,
            end_offset=batch.end_offset,
            end_line=batch.end_line,
            imported=batch.rows - len(failed),
            failed=len(failed),
            messages=[f"{task.url} row {row}: {message}" for row, message in sorted(failed.items())],
            channels=channels,
        )
        if not counted:
            raise _AlreadyCounted
