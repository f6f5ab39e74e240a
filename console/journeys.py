"""The Journeys pages of a project: the list, and a journey's page — its activity graph on a
canvas with live per-activity counts, its review on the nodes, and publish / pause / resume /
stop. (Test runs and participants: console/journey_tests.py; the editor at /journeys/new and
/journeys/{id}/edit: console/journey_editor.py.)

Everything goes through the API's own code: the counts are the execution metrics'
(api/journey_metrics.py, GetJourney(Run)Execution(Activity)Metrics), the review the review
extension's (api/journey_review.journey_review), state changes UpdateJourneyState's
(api/journey_states.py) with the request decoded against botocore's model, the runs
GetJourneyRuns' rows. The layout is console/journey_graph.py's (pure)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.journey_control import start_reviewed_test_run
from api.journey_metrics import activity_execution, execution, run_counts
from api.journey_review import journey_review
from api.journey_states import state_request, targets, update_state
from api.journeys import response
from console import journey_tests
from console.journey_graph import ENTRY, TYPE_NAMES, graph
from console.journey_tests import journey_of, run_request
from console.project_pages import project_for, project_of, segment_names
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from rules.journey_graph import ACTIVITY_TYPES
from store import journeys as journeys_store

router = APIRouter()

LIST_LIMIT = 500  # journeys listed; paging comes when a project has more
RUNS_SHOWN = 50  # the newest runs in the run picker
POLL = "every 3s"  # how often an ACTIVE journey's counts are fetched again
# The buttons for UpdateJourneyState's transitions, by (from, to): what a person calls them.
ACTIONS = {
    ("DRAFT", "ACTIVE"): "Publish",
    ("PAUSED", "ACTIVE"): "Resume",
    ("ACTIVE", "PAUSED"): "Pause",
}
STOP = "Stop"  # CANCELLED: ends the journey for good
ENDED = ("COMPLETED", "CANCELLED", "CLOSED")


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read journeys but not change them; an editor can.")


def entry(j: dict[str, Any], segments: dict[str, str]) -> str:
    """One line for how participants enter: a segment (by name) or an event."""
    start = j.get("StartCondition") or {}
    event = start.get("EventStartCondition") or {}
    if event:
        types = (((event.get("EventFilter") or {}).get("Dimensions") or {}).get("EventType") or {}).get("Values")
        return "On event " + ", ".join(types or []) if types else "On event"
    segment_id = (start.get("SegmentStartCondition") or {}).get("SegmentId")
    if segment_id:
        return f"Segment {segments.get(segment_id, segment_id)}"
    return "No entry set"


def schedule(j: dict[str, Any]) -> str:
    """One line for a journey's schedule and segment refresh."""
    s = j.get("Schedule") or {}
    start, end = str(s.get("StartTime") or ""), str(s.get("EndTime") or "")
    parts = [f"from {start[:16].replace('T', ' ')}" if start else "from publishing"]
    if end:
        parts.append(f"until {end[:16].replace('T', ' ')}")
    if s.get("Timezone"):
        parts.append(f"({s['Timezone']})")
    if j.get("RefreshFrequency"):
        parts.append(f"· refreshed every {j['RefreshFrequency']}")
    return " ".join(parts)


@router.get("/projects/{app_id}/journeys")
async def journey_list(request: Request, user: User, app_id: str) -> Response:
    project, projects = await project_of(request, user, app_id)
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        rows = await journeys_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
        found = [await response(ctx, conn, r) for r in rows]
    found.sort(key=lambda j: (j["LastModifiedDate"], j["Id"]), reverse=True)
    return render(
        request,
        "journeys.html",
        user=user,
        active="/journeys",
        project=project,
        projects=projects,
        section="journeys",
        journeys=found,
        segments=await segment_names(request, app_id),
        entry=entry,
        schedule=schedule,
    )


def _kind(activity: dict[str, Any]) -> str | None:
    kinds = [t for t in ACTIVITY_TYPES if activity.get(t) is not None]
    return kinds[0] if len(kinds) == 1 else None


async def live_figures(request: Request, app_id: str, journey: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    """The journey's (or one run's) execution metrics and each activity's, as the API answers."""
    ctx = ctx_of(request)
    stored = {"id": journey["Id"], "definition": journey}
    per_activity: dict[str, dict[str, str]] = {}
    async with ctx.engine.connect() as conn:
        try:
            if run_id:
                await run_counts(conn, app_id, journey["Id"], run_id)
            totals = await execution(conn, app_id, journey["Id"], run_id or None)
        except NotFound:
            raise HTTPException(404) from None
        for activity_id, activity in (journey.get("Activities") or {}).items():
            if _kind(activity or {}) is not None:  # a draft's untyped activity has no metrics
                _type, per_activity[activity_id] = await activity_execution(conn, app_id, stored, activity_id, run_id)
    return {"totals": totals, "activities": per_activity}


def drawn(journey: dict[str, Any], figures: dict[str, Any], review: dict[str, Any] | None) -> dict[str, Any]:
    """The canvas's data: the layout with each node's count, outcomes and review findings."""
    g = graph(journey)
    findings: dict[str | None, list[dict[str, Any]]] = {}
    for level, items in (("error", (review or {}).get("Errors", [])), ("warning", (review or {}).get("Warnings", []))):
        for f in items:
            findings.setdefault(f["ActivityId"], []).append({**f, "Level": level})
    names = {n["id"]: n["label"] for n in g["nodes"]}
    for node in g["nodes"]:
        metrics = figures["activities"].get(node["id"], {})
        if node["id"] == ENTRY:
            metrics = {"ENDPOINT_ENTERED": figures["totals"].get("ENDPOINT_ENTERED", "0")}
            node["findings"] = findings.get(None, [])  # the journey as a whole: on its entry
        else:
            node["findings"] = findings.get(node["id"], [])
        node["metrics"] = metrics
        node["count"] = (
            sum(int(v) for k, v in metrics.items()) if node["id"] != ENTRY else int(metrics["ENDPOINT_ENTERED"])
        )
        node["next"] = [
            {"id": e["target"], "label": e["label"], "name": names.get(e["target"], e["target"])}
            for e in g["edges"]
            if e["source"] == node["id"]
        ]
    g["nodes"].sort(key=lambda n: (n["y"], n["x"]))  # the table reads top to bottom, as the canvas
    return g


@router.get("/projects/{app_id}/journeys/{journey_id}")
async def journey_page(request: Request, user: User, app_id: str, journey_id: str, run: str = "") -> Response:
    return await _page(request, user, app_id, journey_id, run=run[:64])


@router.get("/projects/{app_id}/journeys/{journey_id}/live")
async def live(request: Request, user: User, app_id: str, journey_id: str, run: str = "") -> Response:
    """The figures alone (polled by HTMX while the journey is ACTIVE): totals, the canvas's data
    and the activities' table, with the review read again so the nodes keep their findings."""
    project = await project_for(request, user, app_id)
    journey = await journey_of(request, app_id, journey_id)
    figures = await live_figures(request, app_id, journey, run[:64] or None)
    review = await journey_review(ctx_of(request), app_id, journey["Id"])
    return render(
        request,
        "_journey_live.html",
        user=user,
        project=project,
        journey=journey,
        run=run[:64],
        figures=figures,
        g=drawn(journey, figures, review),
        poll=POLL if journey["State"] == "ACTIVE" else "",
        type_names=TYPE_NAMES,
    )


async def _page(
    request: Request,
    user: ConsoleUser,
    app_id: str,
    journey_id: str,
    *,
    run: str = "",
    error: str = "",
    status: int = 200,
    **tests: Any,
) -> Response:
    """The journey page; `error`: why a change was refused (rendered here, never taken from the URL)."""
    project, projects = await project_of(request, user, app_id)
    journey = await journey_of(request, app_id, journey_id)
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        runs = await journeys_store.run_page(conn, app_id, journey["Id"], before=None, limit=RUNS_SHOWN)
    figures = await live_figures(request, app_id, journey, run or None)
    review = await journey_review(ctx, app_id, journey["Id"])
    state = journey["State"]
    actions = [
        (to, ACTIONS.get((state, to), STOP)) for to in targets(state) if user.may_edit
    ]  # fmt: skip
    segments = await segment_names(request, app_id)
    return render(
        request,
        "journey.html",
        status=status,
        user=user,
        active="/journeys",
        project=project,
        projects=projects,
        section="journeys",
        journey=journey,
        entry=entry(journey, segments),
        schedule=schedule(journey),
        runs=runs,
        run=run,
        figures=figures,
        review=review,
        g=drawn(journey, figures, review),
        poll=POLL if state == "ACTIVE" else "",
        actions=actions,
        type_names=TYPE_NAMES,
        error=error,
        **{**await journey_tests.page_parts(request, user, app_id, journey), **tests},
    )


@router.post("/projects/{app_id}/journeys/{journey_id}/state")
async def change_state(request: Request, user: Changer, app_id: str, journey_id: str) -> Response:
    """Publish, pause, resume or stop through UpdateJourneyState's code; its refusal on the page."""
    await project_for(request, user, app_id)
    _editor(user)
    journey = await journey_of(request, app_id, journey_id)
    form = await request.form()
    try:
        body = state_request({"State": str(form.get("state", ""))[:20]})
        await update_state(ctx_of(request), app_id, journey["Id"], body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        return await _page(request, user, app_id, journey["Id"], error=err.message, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/journeys/{journey['Id']}", status_code=303)


@router.post("/projects/{app_id}/journeys/{journey_id}/test-runs")
async def start_test(request: Request, user: Changer, app_id: str, journey_id: str) -> Response:
    """A test run for the endpoint ids typed (StartJourneyTestRun's code); its trace's page next."""
    await project_for(request, user, app_id)
    _editor(user)
    journey = await journey_of(request, app_id, journey_id)
    raw = await request.form()
    form = {k: str(raw.get(k, ""))[:10_000] for k in ("endpoints", "waits", "seconds", "delivery")}
    try:
        test_run_id = await start_reviewed_test_run(ctx_of(request), app_id, journey["Id"], run_request(form))
    except PinpointError as err:
        if err.status >= 500:
            raise
        return await _page(
            request, user, app_id, journey["Id"], status=422, test_form=form, test_error=err.message
        )  # fmt: skip
    here = f"{base_path(request)}/projects/{app_id}/journeys/{journey['Id']}/test-runs/{test_run_id}"
    return RedirectResponse(here, status_code=303)
