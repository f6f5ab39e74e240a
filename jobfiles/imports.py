"""Import jobs: list the files, import each one batch by batch, publish the segment.

A file is read in batches of 1,000 rows on a thread of its own (boto3, urllib and file reads
block), a couple of batches ahead; the rows become endpoint requests on the event loop's thread
and are written by jobfiles/import_batches.py. The job activities (activities/jobs.py) call these
functions: a JobFailed fails the job for good, anything else is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from jobfiles.import_batches import BatchWriter
from jobfiles.resources import JobFailed, JobResources, load_job
from jobfiles.rows import BatchReader, FormatError, RawBatch
from jobfiles.sources import SourceError, list_files, open_file, parse_location
from jobfiles.sources import read_first_line as _read_first_line
from openpoint.errors import NotFound
from store import apps as apps_store
from store import jobs as jobs_store
from store import segments as segments_store

T = TypeVar("T")
READ_AHEAD = 2  # batches read before they are needed


def staged_segment(definition: dict[str, Any]) -> str | None:
    """The hidden segment an import collects its members in: the new segment itself, or the
    staging segment of an import into an existing one."""
    if definition.get("DefineSegment"):
        return str(definition["SegmentId"])
    staging = definition.get("_staging")
    return str(staging) if staging else None


async def prepare_import(r: JobResources, app_id: str, job_id: str) -> list[str]:
    """The URLs of the files to import, one piece each; the job is started with that many."""
    async with r.engine.connect() as conn:
        row = await load_job(conn, app_id, job_id)
    definition = row["definition"]
    loc = r.location(definition["S3Url"], "S3Url")
    try:
        files = await asyncio.to_thread(list_files, loc, definition["Format"], r.root, r.s3_for(loc))
    except SourceError as e:
        raise JobFailed(str(e)) from None
    async with r.engine.begin() as conn:
        segment = staged_segment(definition)
        if segment is not None:
            await jobs_store.stage_segment(conn, app_id, segment)
        await jobs_store.start(conn, app_id, job_id, total_pieces=len(files))
    return [f.url for f in files]


async def import_piece(
    r: JobResources, app_id: str, job_id: str, piece: int, url: str, *, heartbeat: Callable[[int], None]
) -> str | None:
    """Import one file (a piece of the job): its failure when it cannot be read or parsed, else
    None. `heartbeat` gets each batch's index as the batch is handed on."""
    try:
        return await _import_piece(r, app_id, job_id, piece, url, heartbeat)
    except jobs_store.JobGone as e:
        raise JobFailed(str(e)) from None


async def _import_piece(
    r: JobResources, app_id: str, job_id: str, piece: int, url: str, heartbeat: Callable[[int], None]
) -> str | None:
    async with r.engine.connect() as conn:
        row = await load_job(conn, app_id, job_id)
        app = await apps_store.get(conn, app_id)
    definition = row["definition"]
    progress = jobs_store.PieceProgress.of((definition.get("_pieces") or {}).get(str(piece)))
    if progress.state is not None:  # finished by an earlier attempt that could not report it
        return progress.failure
    writer = BatchWriter(
        r.engine,
        app_id,
        job_id,
        piece,
        url,
        segment=staged_segment(definition),
        register=definition.get("RegisterEndpoints", True),
        removed=app["removed_attributes"] or {},
    )
    # One thread per file: the stream is only ever touched from it, closing included.
    thread = ThreadPoolExecutor(1, thread_name_prefix=f"import-{job_id[:8]}-{piece}")
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
        stream, reader = await blocking(lambda: _open(r, url, definition["Format"], progress))
        producer = asyncio.create_task(read_ahead(reader))
        while (raw := await ahead.get()) is not None:
            if isinstance(raw, BaseException):
                raise raw
            if raw.index not in progress.ahead:
                await writer.submit(reader.parse(raw))
            heartbeat(raw.index)
        await writer.drain()
    except (FormatError, SourceError) as e:
        await writer.drain(failing=True)
        failure = str(e) if isinstance(e, SourceError) else f"{url} {e}."
        async with r.engine.begin() as conn:
            await jobs_store.end_piece(conn, app_id, job_id, piece, failure=failure)
        return failure
    finally:
        if producer is not None:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
        await writer.cancel()
        if stream is not None:
            await blocking(stream.close)  # after any read still running on the same thread
        thread.shutdown(wait=False)
    async with r.engine.begin() as conn:
        await jobs_store.end_piece(conn, app_id, job_id, piece, failure=None)
    return None


def _open(r: JobResources, url: str, fmt: str, progress: jobs_store.PieceProgress) -> tuple[IO[bytes], BatchReader]:
    loc = parse_location(url, "S3Url", r.root)
    s3 = r.s3_for(loc)
    header = None
    if fmt == "CSV" and progress.offset > 0:
        header = _read_first_line(url, r.root, s3, r.tls, allowed=r.allowed_networks)
    stream = open_file(url, progress.offset, r.root, s3, r.tls, allowed=r.allowed_networks)
    try:
        return stream, BatchReader(
            stream, fmt, index=progress.batches, offset=progress.offset, line=progress.line, header=header
        )
    except BaseException:
        stream.close()
        raise


async def finish_import(r: JobResources, app_id: str, job_id: str, piece: int | None, failure: str | None) -> str:
    """The job's final status. When every piece went in, the members are published as the
    segment; when one failed (`failure`, and the `piece` it failed in), nothing staged stays."""
    async with r.engine.begin() as conn:
        try:
            row = await jobs_store.load(conn, app_id, job_id, lock=True)
        except jobs_store.JobGone:
            return jobs_store.FAILED
        if row["status"] in (jobs_store.COMPLETED, jobs_store.FAILED):
            return str(row["status"])
        if failure is not None and piece is not None:
            await jobs_store.end_piece(conn, app_id, job_id, piece, failure=failure)
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
                await _publish(conn, app_id, definition, segment)
            except NotFound:
                failure = f"Segment {definition['SegmentId']} was deleted while the job ran."
        if failure is not None and segment is not None:
            # Nothing half-imported stays behind: the staged segment goes with its members.
            await segments_store.remove(conn, app_id, segment)
        status = jobs_store.COMPLETED if failure is None else jobs_store.FAILED
        await jobs_store.finish(conn, app_id, job_id, status=status, failure=failure)
    return status


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
