"""The Segments pages of a project: the list (dimensional and imported segments, and the import
jobs with their progress), the builder (create and edit) with its live count, and an imported
segment's page.

Saving goes through CreateSegment's and UpdateSegment's own code (api/segments.py) with a body
decoded against botocore's model, so the console refuses exactly what the API refuses; the
live count checks a draft with the same code and counts it with the resolution campaigns use
(store.segment_sql), under a time limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.segments import check_definition, create_segment, segment_response, update_segment, write_request
from console import segment_form as forms
from console.project_pages import project_for
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from store import console_segments
from store import jobs as jobs_store
from store import segments as segments_store
from store.segment_sql import SegmentDefinition

router = APIRouter()

LIST_LIMIT = 500  # segments listed on the page; paging comes when a project has more
JOBS_SHOWN = 10  # the newest import jobs under the list
# Issue 17 asks for the live count within 2 s; past this the builder says "took too long" rather
# than keep a connection (and the person) waiting. Settable per process for slow disks.
COUNT_TIMEOUT_MS = 1500
DONE = (jobs_store.COMPLETED, jobs_store.FAILED)


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read segments but not change them; an editor can.")


def _progress(job: dict[str, Any]) -> dict[str, Any]:
    """What the progress panel shows of a job row (the same counters GetImportJob answers)."""
    name = job["definition"].get("SegmentName") or ""
    return {
        "id": job["id"],
        "status": job["status"],
        "done": job["status"] in DONE,
        "segment_id": job["segment_id"],
        "segment_name": name,
        "total_pieces": job["total_pieces"],
        "completed_pieces": job["completed_pieces"],
        "failed_pieces": job["failed_pieces"],
        "processed": job["total_processed"],
        "failures": job["total_failures"],
        "messages": (job["failures"] or [])[:3],
        "created_at": job["created_at"],
    }


@router.get("/projects/{app_id}/segments")
async def segment_list(request: Request, user: User, app_id: str, saved: str = "") -> Response:
    project = await project_for(request, user, app_id)
    async with ctx_of(request).engine.connect() as conn:
        rows = await segments_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
        jobs = await console_segments.latest_jobs(conn, app_id, "IMPORT", JOBS_SHOWN)
        sizes = {
            r["id"]: await segments_store.member_count(conn, app_id, r["id"])
            for r in rows
            if r["segment_type"] == "IMPORT"  # a stored list: counting it is one index scan
        }
    rows.sort(key=lambda r: (r["modified_at"], r["id"]), reverse=True)
    return render(
        request,
        "segments.html",
        user=user,
        active="/segments",
        project=project,
        segments=rows,
        sizes=sizes,
        jobs=[_progress(j) for j in jobs],
        saved=next((r for r in rows if r["id"] == saved[:32]), None),
    )


def _builder(
    request: Request,
    user: ConsoleUser,
    project: dict[str, Any],
    draft: forms.Draft,
    segments: list[dict[str, Any]],
    *,
    segment: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "segment_builder.html",
        status=status,
        user=user,
        active="/segments",
        project=project,
        draft=draft,
        segment=segment,
        errors=errors or {},
        sources=[s for s in segments if segment is None or s["id"] != segment["Id"]],
        f=forms,
    )


async def _segments(request: Request, app_id: str) -> list[dict[str, Any]]:
    async with ctx_of(request).engine.connect() as conn:
        rows = await segments_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
    return sorted(rows, key=lambda r: (r["name"] or "").lower())


@router.get("/projects/{app_id}/segments/new")
async def new_segment(request: Request, user: User, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    draft = forms.Draft(groups=[forms.Group(criteria=[forms.Criterion("platform")])])
    return _builder(request, user, project, draft, await _segments(request, app_id))


async def _save(request: Request, user: ConsoleUser, app_id: str, segment_id: str | None) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    form = await request.form()
    if form.get("action"):
        # An add/remove button posted without HTMX (no JavaScript): redraw, save nothing. (The
        # buttons carry no `formaction`: HTMX would take it for the form's own requests.)
        return await _redraw(request, user, project, form)
    draft = forms.from_form(form)
    segment = None
    try:
        body = write_request(forms.to_request(draft))
        if segment_id is None:
            saved = await create_segment(ctx_of(request), app_id, body)
        else:
            saved = await update_segment(ctx_of(request), app_id, segment_id, body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        if segment_id is not None:
            segment = await _segment(request, app_id, segment_id)
        errors = {forms.field_of(err.message): err.message}
        segments = await _segments(request, app_id)
        return _builder(request, user, project, draft, segments, segment=segment, errors=errors, status=422)
    # Post/redirect/get: a reload does not save twice.
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/segments?saved={saved['Id']}", status_code=303)


@router.post("/projects/{app_id}/segments/new")
async def create(request: Request, user: Changer, app_id: str) -> Response:
    return await _save(request, user, app_id, None)


@router.post("/projects/{app_id}/segments/draft")
async def redraw(request: Request, user: Changer, app_id: str) -> Response:
    """The builder again with a criterion or a group added or removed (the `action` button);
    nothing is saved. The new form counts itself again when it loads."""
    project = await project_for(request, user, app_id)
    _editor(user)
    return await _redraw(request, user, project, await request.form())


async def _redraw(request: Request, user: ConsoleUser, project: dict[str, Any], form: Any) -> Response:
    draft = forms.from_form(form)
    forms.apply(draft, str(form.get("action", "")), form)
    segment_id = str(form.get("segment_id", ""))[:32]
    segment = await _segment(request, project["id"], segment_id) if segment_id else None
    return _builder(request, user, project, draft, await _segments(request, project["id"]), segment=segment)


@router.post("/projects/{app_id}/segments/count")
async def live_count(request: Request, user: Changer, app_id: str) -> Response:
    await project_for(request, user, app_id)
    _editor(user)
    form = await request.form()
    draft = forms.from_form(form)
    segment_id = str(form.get("segment_id", ""))[:32] or None
    started = datetime.now(UTC)
    counted: int | None = None
    error = ""
    try:
        body = write_request(forms.to_request(draft))
        definition = SegmentDefinition("DIMENSIONAL", None, body.get("SegmentGroups"), segment_id)
        async with ctx_of(request).engine.begin() as conn:
            await check_definition(conn, app_id, definition, segment_id)
            counted = await console_segments.count_within(
                conn, app_id, definition, now=started, timeout_ms=COUNT_TIMEOUT_MS
            )
    except PinpointError as err:
        if err.status >= 500:
            raise
        error = err.message
    seconds = (datetime.now(UTC) - started).total_seconds()
    return render(
        request, "segment_count.html", counted=counted, error=error, seconds=seconds, timeout=COUNT_TIMEOUT_MS
    )


async def _segment(request: Request, app_id: str, segment_id: str) -> dict[str, Any]:
    try:
        async with ctx_of(request).engine.connect() as conn:
            return await segment_response(ctx_of(request), conn, await segments_store.get(conn, app_id, segment_id))
    except NotFound:
        raise HTTPException(404) from None


@router.get("/projects/{app_id}/segments/{segment_id}")
async def segment_page(request: Request, user: User, app_id: str, segment_id: str) -> Response:
    project = await project_for(request, user, app_id)
    segment = await _segment(request, app_id, segment_id[:32])
    draft = forms.from_segment(segment) if segment["SegmentType"] == "DIMENSIONAL" else None
    if user.may_edit and draft is not None:
        return _builder(request, user, project, draft, await _segments(request, app_id), segment=segment)
    async with ctx_of(request).engine.connect() as conn:
        jobs = await jobs_store.page(conn, app_id, "IMPORT", segment_id=segment["Id"], after=None, limit=JOBS_SHOWN)
        size = await segments_store.member_count(conn, app_id, segment["Id"])
    return render(
        request,
        "segment.html",
        user=user,
        active="/segments",
        project=project,
        segment=segment,
        size=size if segment["SegmentType"] == "IMPORT" else None,
        jobs=[_progress(j) for j in reversed(jobs)],
        editable=draft is not None,
    )


@router.post("/projects/{app_id}/segments/{segment_id}")
async def update(request: Request, user: Changer, app_id: str, segment_id: str) -> Response:
    return await _save(request, user, app_id, segment_id[:32])


@router.get("/projects/{app_id}/imports/{job_id}")
async def import_progress(request: Request, user: User, app_id: str, job_id: str) -> Response:
    """One import job's progress panel; the page polls it every 2 s until the job is done."""
    project = await project_for(request, user, app_id)
    try:
        async with ctx_of(request).engine.connect() as conn:
            job = await jobs_store.get(conn, app_id, job_id[:32], "IMPORT")
    except NotFound:
        raise HTTPException(404) from None
    return render(request, "import_job.html", project=project, job=_progress(job))
