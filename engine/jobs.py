"""Starting import and export jobs: one workflow per job (`import-{app}-{job}`,
`export-{app}-{job}`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from workflows.jobs import ExportJobWorkflow, ImportJobWorkflow, JobInput

WORKFLOWS: dict[str, type[ImportJobWorkflow] | type[ExportJobWorkflow]] = {
    "IMPORT": ImportJobWorkflow,
    "EXPORT": ExportJobWorkflow,
}
EXECUTION_TIMEOUT = timedelta(days=7)


def job_workflow_id(kind: str, app_id: str, job_id: str) -> str:
    return f"{kind.lower()}-{app_id}-{job_id}"


async def start_job(client: Client, task_queue: str, kind: str, app_id: str, job_id: str) -> None:
    """`kind`: IMPORT or EXPORT. Raises what Temporal raised."""
    await client.start_workflow(
        WORKFLOWS[kind].run,
        JobInput(app_id, job_id),
        id=job_workflow_id(kind, app_id, job_id),
        task_queue=task_queue,
        execution_timeout=EXECUTION_TIMEOUT,
    )
