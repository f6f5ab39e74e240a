"""Import and export jobs: one workflow per job (`import-{app}-{job}`, `export-{app}-{job}`).

The workflows only sequence activities; the files, the database and the job's progress are the
activities' business. Progress lives in the job row, written in the same transaction as the data
it counts, so an activity retried on another worker resumes where the last commit left off.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

PREPARE_IMPORT = "prepare_import"
IMPORT_PIECE = "import_piece"
FINISH_IMPORT = "finish_import"
EXPORT_ENDPOINTS = "export_endpoints"
FINISH_EXPORT = "finish_export"

# ApplicationError type of failures that retrying cannot fix (a missing bucket, a deleted segment).
JOB_FAILED = "JobFailed"
PARALLEL_PIECES = 4  # files of one import read at the same time
# A worker that stops heartbeating for this long is presumed dead; its file is resumed elsewhere.
HEARTBEAT = timedelta(seconds=30)


@dataclass
class JobInput:
    app_id: str
    job_id: str


@dataclass
class ImportPlan:
    files: list[str]  # one URL per piece


@dataclass
class PieceInput:
    app_id: str
    job_id: str
    piece: int
    url: str


@dataclass
class PieceResult:
    piece: int
    failure: str | None = None  # set when the file could not be imported at all


@dataclass
class JobFinish:
    app_id: str
    job_id: str
    failure: str | None = None
    piece: int | None = None  # the file the failure belongs to, if any


@dataclass
class JobOutput:
    status: str


def _retry() -> RetryPolicy:
    # Network and database trouble is retried with backoff; what retrying cannot fix is raised
    # as JOB_FAILED, and a file that keeps failing ends up failing the job.
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=8,
        non_retryable_error_types=[JOB_FAILED],
    )


def _reason(e: ActivityError) -> str:
    cause = e.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or e)


async def _finish(name: str, finish: JobFinish) -> JobOutput:
    output: JobOutput = await workflow.execute_activity(
        name,
        finish,
        result_type=JobOutput,
        start_to_close_timeout=timedelta(minutes=10),
        retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), non_retryable_error_types=[JOB_FAILED]),
    )
    return output


@workflow.defn
class ImportJobWorkflow:
    """One import job: list its files, import them a few at a time, then publish the segment it
    fills, or discard that segment if any file could not be imported."""

    @workflow.run
    async def run(self, job: JobInput) -> JobOutput:
        try:
            plan = await workflow.execute_activity(
                PREPARE_IMPORT,
                job,
                result_type=ImportPlan,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=_retry(),
            )
        except ActivityError as e:
            return await _finish(FINISH_IMPORT, JobFinish(job.app_id, job.job_id, _reason(e)))

        failed: list[JobFinish] = []
        slots = asyncio.Semaphore(PARALLEL_PIECES)

        async def import_piece(piece: int, url: str) -> None:
            async with slots:
                if failed:
                    return  # the job has failed already: start no more files
                try:
                    result = await workflow.execute_activity(
                        IMPORT_PIECE,
                        PieceInput(job.app_id, job.job_id, piece, url),
                        result_type=PieceResult,
                        start_to_close_timeout=timedelta(hours=12),
                        heartbeat_timeout=HEARTBEAT,
                        retry_policy=_retry(),
                    )
                except ActivityError as e:
                    result = PieceResult(piece, f"{url}: {_reason(e)}")
                if result.failure is not None:
                    failed.append(JobFinish(job.app_id, job.job_id, result.failure, piece))

        await asyncio.gather(*(import_piece(i, url) for i, url in enumerate(plan.files)))
        return await _finish(FINISH_IMPORT, failed[0] if failed else JobFinish(job.app_id, job.job_id))


@workflow.defn
class ExportJobWorkflow:
    """One export job: write the endpoints (of the project or of a segment) as files under the
    prefix, then record the outcome."""

    @workflow.run
    async def run(self, job: JobInput) -> JobOutput:
        failure: str | None = None
        try:
            await workflow.execute_activity(
                EXPORT_ENDPOINTS,
                job,
                start_to_close_timeout=timedelta(hours=12),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=_retry(),
            )
        except ActivityError as e:
            failure = _reason(e)
        return await _finish(FINISH_EXPORT, JobFinish(job.app_id, job.job_id, failure))
