"""Import job activities: list the files, import each one, publish the segment. The work is
jobfiles/imports.py; here a JobFailed becomes the non-retryable JOB_FAILED error, and anything
else is left for Temporal to retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from jobfiles import imports
from jobfiles.resources import JobFailed, JobResources
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


def job_failed(message: str) -> ApplicationError:
    return ApplicationError(message, type=JOB_FAILED, non_retryable=True)


@contextmanager
def failing_for_good() -> Iterator[None]:
    """A JobFailed raised inside fails the job without retries."""
    try:
        yield
    except JobFailed as e:
        raise job_failed(str(e)) from None


class ImportActivities:
    def __init__(self, resources: JobResources) -> None:
        self.r = resources

    @activity.defn(name=PREPARE_IMPORT)
    async def prepare_import(self, job: JobInput) -> ImportPlan:
        with failing_for_good():
            return ImportPlan(await imports.prepare_import(self.r, job.app_id, job.job_id))

    @activity.defn(name=IMPORT_PIECE)
    async def import_piece(self, task: PieceInput) -> PieceResult:
        with failing_for_good():
            failure = await imports.import_piece(
                self.r, task.app_id, task.job_id, task.piece, task.url, heartbeat=activity.heartbeat
            )
        return PieceResult(task.piece, failure)

    @activity.defn(name=FINISH_IMPORT)
    async def finish_import(self, finish: JobFinish) -> JobOutput:
        status = await imports.finish_import(self.r, finish.app_id, finish.job_id, finish.piece, finish.failure)
        return JobOutput(status)
