"""Export job activities: write the endpoints' files, then record how the job ended. The work is
jobfiles/exports.py; here a JobFailed becomes the non-retryable JOB_FAILED error, and anything
else is left for Temporal to retry.
"""

from __future__ import annotations

from temporalio import activity

from activities.jobs import failing_for_good
from jobfiles import exports
from jobfiles.resources import JobResources
from workflows.jobs import EXPORT_ENDPOINTS, FINISH_EXPORT, JobFinish, JobInput, JobOutput


class ExportActivities:
    def __init__(self, resources: JobResources) -> None:
        self.r = resources

    @activity.defn(name=EXPORT_ENDPOINTS)
    async def export_endpoints(self, job: JobInput) -> None:
        with failing_for_good():
            await exports.export_endpoints(self.r, job.app_id, job.job_id, heartbeat=activity.heartbeat)

    @activity.defn(name=FINISH_EXPORT)
    async def finish_export(self, finish: JobFinish) -> JobOutput:
        status = await exports.finish_export(
            self.r, finish.app_id, finish.job_id, finish.failure, attempt=activity.info().attempt
        )
        return JobOutput(status)
