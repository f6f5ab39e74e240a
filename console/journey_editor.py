"""The journey editor of a project: a new journey and an existing one's settings and activities,
as one server-rendered form (console/journey_form.py reads and writes it), with a live preview of
the draft's graph.

Saving goes through CreateJourney's and UpdateJourney's own code (api/journeys.py) with a body
decoded against botocore's model, so the console refuses exactly what the API refuses (an ACTIVE
journey's locked members included); the error is shown by the field or activity its member path
names and nothing is saved. Adding or removing an activity or a branch posts the whole form and
redraws it (no state kept in the browser)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.journeys import create as create_journey
from api.journeys import response, update, write_request
from console import journey_form as forms
from console.journey_saved import from_journey as saved_form
from console.project_pages import project_for
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from rules import journeys as journey_rules
from rules.campaigns import UTC_OFFSETS
from rules.journey_graph import successors
from store import journeys as journeys_store
from store import segments as segments_store
from store import templates as templates_store

router = APIRouter()

LIST_LIMIT = 500  # segments and templates offered in the selects
TIMEZONES = sorted(UTC_OFFSETS, key=lambda z: (z != "UTC", z.replace("+", "0").replace("-", "1")))
# The journeys pages' canvas: its layout (console/journey_graph.py) and drawing (static/journey.js),
# used by the preview when both are there; the list of steps is shown in any case.
GRAPH = (Path(__file__).parent / "journey_graph.py").exists()
CANVAS_JS = Path(__file__).parent / "static" / "journey.js"
PATH_WORDS = {"Next": "then", "True": "yes", "False": "no", "Else": "otherwise"}


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read journeys but not change them; an editor can.")


async def _choices(request: Request, app_id: str) -> dict[str, Any]:
    """The project's segments and the account's templates per type, for the selects."""
    async with ctx_of(request).engine.connect() as conn:
        segments = await segments_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
        templates = {
            t: [
                r["name"]
                for r in await templates_store.page(conn, prefix=None, template_type=t, after=None, limit=LIST_LIMIT)
            ]
            for t in sorted(set(forms.TEMPLATE_TYPE.values()))
        }
    names = {s["id"]: s.get("name") or s["id"] for s in sorted(segments, key=lambda s: (s.get("name") or "").lower())}
    return {"segments": names, "templates": templates}


async def _journey(request: Request, app_id: str, journey_id: str) -> dict[str, Any]:
    ctx = ctx_of(request)
    try:
        async with ctx.engine.connect() as conn:
            return await response(ctx, conn, await journeys_store.get(conn, app_id, journey_id))
    except NotFound:
        raise HTTPException(404) from None


async def _editor_page(
    request: Request,
    user: ConsoleUser,
    project: dict[str, Any],
    draft: forms.Draft,
    *,
    journey: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "journey_editor.html",
        status=status,
        user=user,
        active="/journeys",
        project=project,
        draft=draft,
        journey=journey,
        problems=problems or [],
        errors=errors or {},
        timezones=TIMEZONES,
        canvas=GRAPH and CANVAS_JS.exists(),
        f=forms,
        **await _choices(request, project["id"]),
    )


@router.get("/projects/{app_id}/journeys/new")
async def new_journey(request: Request, user: User, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    return await _editor_page(request, user, project, forms.Draft())


@router.get("/projects/{app_id}/journeys/{journey_id}/edit")
async def edit_journey(request: Request, user: User, app_id: str, journey_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    journey = await _journey(request, app_id, journey_id[:32])
    draft, problems = saved_form(journey)
    return await _editor_page(request, user, project, draft, journey=journey, problems=problems)


@router.post("/projects/{app_id}/journeys/new")
async def create(request: Request, user: Changer, app_id: str) -> Response:
    return await _save(request, user, app_id, None)


@router.post("/projects/{app_id}/journeys/{journey_id}/edit")
async def save_edit(request: Request, user: Changer, app_id: str, journey_id: str) -> Response:
    return await _save(request, user, app_id, journey_id[:32])


async def _save(request: Request, user: ConsoleUser, app_id: str, journey_id: str | None) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    form = await request.form()
    journey = await _journey(request, app_id, journey_id) if journey_id else None
    draft = forms.from_form(form)
    if form.get("action"):
        # An add / remove button posted without HTMX (no JavaScript): redraw, save nothing.
        forms.apply(draft, str(form.get("action", "")), str(form.get("new_kind", "")))
        return await _editor_page(request, user, project, draft, journey=journey)
    if journey is not None and saved_form(journey)[1]:
        raise NotAllowed("This journey has parts the editor cannot show; change it through the API.")
    try:
        body = write_request(forms.to_request(draft, keep=journey))
        if journey_id is None:
            saved = await create_journey(ctx_of(request), app_id, body)
        else:
            saved = await update(ctx_of(request), app_id, journey_id, body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        errors = {forms.field_of(err.message, draft): err.message}
        return await _editor_page(request, user, project, draft, journey=journey, errors=errors, status=422)
    # Post/redirect/get: a reload does not save twice.
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/journeys/{saved['Id']}", status_code=303)


@router.post("/projects/{app_id}/journeys/new/draft")
async def redraw(request: Request, user: Changer, app_id: str) -> Response:
    """The form again with an activity or a branch added or removed (the `action` button);
    nothing is saved."""
    project = await project_for(request, user, app_id)
    _editor(user)
    form = await request.form()
    draft = forms.from_form(form)
    forms.apply(draft, str(form.get("action", "")), str(form.get("new_kind", "")))
    journey_id = str(form.get("journey_id", ""))[:32]
    journey = await _journey(request, app_id, journey_id) if journey_id else None
    return await _editor_page(request, user, project, draft, journey=journey)


def steps(request_body: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft's activities as a list in the order a participant meets them (from
    StartActivity, breadth first; then any not reached), each with where its paths lead."""
    activities = request_body.get("Activities") or {}
    order: list[str] = []
    queue = [request_body.get("StartActivity") or ""]
    while queue:
        current = queue.pop(0)
        if current in activities and current not in order:
            order.append(current)
            queue.extend(target for _label, target in successors(activities[current]))
    reached = set(order)
    order += [a for a in activities if a not in reached]
    out = []
    for activity_id in order:
        activity = activities[activity_id]
        kind = next(k for k in forms.KINDS if k in activity)
        paths = [
            (PATH_WORDS.get(label, label.replace("_", " ").lower()), target) for label, target in successors(activity)
        ]
        out.append({"id": activity_id, "kind": forms.KINDS[kind], "paths": paths, "reached": activity_id in reached})
    return out


@router.post("/projects/{app_id}/journeys/new/preview")
async def preview(request: Request, user: Changer, app_id: str) -> Response:
    """The draft as the list of its activities and next steps (and the canvas's graph data when
    console/journey_graph.py is there); a draft the model or the request rules refuse says why."""
    await project_for(request, user, app_id)
    _editor(user)
    draft = forms.from_form(await request.form())
    error, body, graph = "", {}, None
    try:
        body = write_request(forms.to_request(draft))
        journey_rules.check_journey(body, now=datetime.now(UTC))
    except PinpointError as err:
        error = err.message
    if body and GRAPH and CANVAS_JS.exists():
        from console.journey_graph import graph as layout  # noqa: PLC0415 - present only once its helper committed it

        graph = layout(body)
    return render(
        request, "journey_preview.html", steps=steps(body), error=error, graph=graph, start=draft.start_activity
    )
