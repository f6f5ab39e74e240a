"""Import and export jobs: Create/Get ImportJob(s) and ExportJob(s), and the per-segment lists.

The gateway checks the request (URL scheme, file root, segment) and records the job; a Temporal
workflow does the reading and writing, and progress is read back from the job row.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from temporalio.service import RPCError

from api.operations import Call, pinpoint
from api.outages import engine_error
from api.paging import created_after, next_created_token, page_size
from engine.jobs import start_job
from jobfiles.sources import parse_location
from openpoint.errors import BadRequest, EngineUnavailable, NotFound, TooManyRequests
from store import apps as apps_store
from store import jobs as store
from store import segments as segments_store
from wire.codec import iso

router = APIRouter(tags=["jobs"])

IMPORT, EXPORT = "IMPORT", "EXPORT"
MEMBERS = {
    IMPORT: (
        "DefineSegment",
        "ExternalId",
        "Format",
        "RegisterEndpoints",
        "RoleArn",
        "S3Url",
        "SegmentId",
        "SegmentName",
    ),
    EXPORT: ("RoleArn", "S3UrlPrefix", "SegmentId", "SegmentVersion"),
}
# PINPOINT.md §7: 10 active import jobs per account, applied per project as the other account
# quotas are. Past it: TooManyRequestsException, because the limit is on concurrency and frees
# itself as jobs finish, so the same request succeeds later unchanged; botocore's retry modes
# treat that code as throttling and retry it with backoff. BadRequest would say the request is
# wrong, which it is not.
MAX_ACTIVE_IMPORT_JOBS = 10


def job_response(row: dict[str, Any]) -> dict[str, Any]:
    definition = row["definition"]
    return {
        "ApplicationId": row["app_id"],
        "CompletedPieces": row["completed_pieces"],
        "CompletionDate": iso(row["completed_at"]),
        "CreationDate": iso(row["created_at"]),
        # Only the modeled members: the job's private progress members stay in the store.
        "Definition": {k: definition[k] for k in MEMBERS[row["job_type"]] if k in definition},
        "FailedPieces": row["failed_pieces"],
        "Failures": row["failures"] or None,
        "Id": row["id"],
        "JobStatus": row["status"],
        "TotalFailures": row["total_failures"],
        "TotalPieces": row["total_pieces"],
        "TotalProcessed": row["total_processed"],
        "Type": row["job_type"],
    }


async def _start(call: Call, row: dict[str, Any]) -> None:
    kind = row["job_type"]
    try:
        client = await call.ctx.temporal()
        await start_job(client, call.ctx.settings.task_queue, kind, call.app_id, row["id"])
    except (RPCError, EngineUnavailable) as e:
        async with call.ctx.engine.begin() as conn:
            await store.finish(conn, call.app_id, row["id"], status=store.FAILED, failure=f"Not started: {e}")
        raise engine_error(e, f"The {kind.lower()} job could not be started") from None


@pinpoint(router, "CreateImportJob")
async def create_import_job(call: Call) -> dict[str, Any]:
    body, field = call.body, "ImportJobRequest"
    parse_location(body["S3Url"], f"{field}.S3Url", call.ctx.settings.file_root)
    define, segment_id = bool(body.get("DefineSegment")), body.get("SegmentId")
    if define and segment_id:
        raise BadRequest(f"Invalid value for {field}: give DefineSegment (a new segment) or SegmentId, not both.")
    if define and not str(body.get("SegmentName", "")).strip():
        raise BadRequest(f"Missing required member {field}.SegmentName: DefineSegment needs a name for the segment.")
    if not define and not segment_id and body.get("RegisterEndpoints") is False:
        raise BadRequest(
            f"Invalid value for {field}: with RegisterEndpoints false and neither DefineSegment nor SegmentId,"
            " the job would do nothing."
        )
    definition = {k: body[k] for k in MEMBERS[IMPORT] if k in body}
    async with call.ctx.engine.begin() as conn:
        # The project's row serialises creates, so two cannot both take the last place.
        await apps_store.get(conn, call.app_id, lock=True)
        if await store.count_active(conn, call.app_id, IMPORT) >= MAX_ACTIVE_IMPORT_JOBS:
            raise TooManyRequests(
                f"Too many active import jobs: a project runs at most {MAX_ACTIVE_IMPORT_JOBS} import jobs at a time;"
                " retry when one has completed or failed."
            )
        if segment_id:
            segment = await segments_store.get(conn, call.app_id, segment_id)
            if segment["segment_type"] != "IMPORT":
                raise BadRequest(
                    f"Invalid value for {field}.SegmentId: segment {segment_id} is a dimensional segment;"
                    " a job imports into an imported segment."
                )
            # Members are collected in a hidden segment and merged when the job completes.
            definition["_staging"] = uuid.uuid4().hex
        elif define:
            # The new segment's id is known from the start (GetImportJob shows it); the segment
            # itself becomes visible only when the job completes.
            segment_id = definition["SegmentId"] = uuid.uuid4().hex
        row = await store.create(
            conn,
            app_id=call.app_id,
            job_id=uuid.uuid4().hex,
            job_type=IMPORT,
            definition=definition,
            segment_id=segment_id,
        )
    await _start(call, row)
    return job_response(row)


@pinpoint(router, "CreateExportJob")
async def create_export_job(call: Call) -> dict[str, Any]:
    body, field = call.body, "ExportJobRequest"
    parse_location(body["S3UrlPrefix"], f"{field}.S3UrlPrefix", call.ctx.settings.file_root, export=True)
    segment_id, version = body.get("SegmentId"), body.get("SegmentVersion")
    if version is not None and not segment_id:
        raise BadRequest(f"Invalid value for {field}.SegmentVersion: it needs a SegmentId.")
    if version is not None and version < 1:
        raise BadRequest(f"Invalid value for {field}.SegmentVersion: versions start at 1.")
    definition = {k: body[k] for k in MEMBERS[EXPORT] if k in body}
    async with call.ctx.engine.begin() as conn:
        await apps_store.get(conn, call.app_id)
        if segment_id:
            await segments_store.get(conn, call.app_id, segment_id, version)
        row = await store.create(
            conn,
            app_id=call.app_id,
            job_id=uuid.uuid4().hex,
            job_type=EXPORT,
            definition=definition,
            segment_id=segment_id,
        )
    await _start(call, row)
    return job_response(row)


async def _get(call: Call, kind: str) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        return job_response(await store.get(conn, call.app_id, call.labels["JobId"], kind))


async def _list(call: Call, kind: str, segment_id: str | None = None) -> dict[str, Any]:
    limit = page_size(call.query.get("PageSize"))
    after = created_after(call.query.get("Token"))
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        if segment_id is not None:
            await _segment_known(conn, call.app_id, segment_id, kind)
        rows = await store.page(conn, call.app_id, kind, segment_id=segment_id, after=after, limit=limit + 1)
    return {"Item": [job_response(r) for r in rows[:limit]], "NextToken": next_created_token(rows, limit)}


async def _segment_known(conn: Any, app_id: str, segment_id: str, kind: str) -> None:
    """A segment's jobs can be listed while it exists, and afterwards while jobs name it (the
    segment of a failed import never appeared, but its job did)."""
    try:
        await segments_store.get(conn, app_id, segment_id)
    except NotFound:
        if not await store.has_segment_jobs(conn, app_id, segment_id, kind):
            raise


@pinpoint(router, "GetImportJob")
async def get_import_job(call: Call) -> dict[str, Any]:
    return await _get(call, IMPORT)


@pinpoint(router, "GetExportJob")
async def get_export_job(call: Call) -> dict[str, Any]:
    return await _get(call, EXPORT)


@pinpoint(router, "GetImportJobs")
async def get_import_jobs(call: Call) -> dict[str, Any]:
    return await _list(call, IMPORT)


@pinpoint(router, "GetExportJobs")
async def get_export_jobs(call: Call) -> dict[str, Any]:
    return await _list(call, EXPORT)


@pinpoint(router, "GetSegmentImportJobs")
async def get_segment_import_jobs(call: Call) -> dict[str, Any]:
    return await _list(call, IMPORT, call.labels["SegmentId"])


@pinpoint(router, "GetSegmentExportJobs")
async def get_segment_export_jobs(call: Call) -> dict[str, Any]:
    return await _list(call, EXPORT, call.labels["SegmentId"])
