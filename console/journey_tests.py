"""A journey's participants on its console page: test runs (start one for endpoint ids typed by
the user, then its trace, activity by activity, polled until every test participant is done),
the recent live participants a page at a time, and for each a link to its workflow in the
Temporal Web UI (OPENPOINT_TEMPORAL_UI_URL; without it the workflow id as text).

Test runs go through the extension routes' own code (api/journey_control.start_reviewed_test_run
and test_run: the review first, then the test participants' workflows); the request is the one
POST .../test-runs takes, so the console refuses what the API refuses."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from api import journey_control
from api.journeys import response
from console.journey_graph import graph
from console.project_pages import project_of
from console.sessions import ConsoleUser, ctx_of
from console.views import User, render
from openpoint.errors import NotFound
from openpoint.settings import Settings
from store import console_journeys
from store import journeys as journeys_store

router = APIRouter()

PARTICIPANTS_SHOWN = 20  # live participants a page
TEST_RUNS_SHOWN = 10
TESTABLE = ("DRAFT", "ACTIVE")  # what journey_control.start_test_run accepts
_IDS = re.compile(r"[\s,]+")


def workflow_url(settings: Settings, workflow_id: str | None) -> str | None:
    """The workflow's page in the Temporal Web UI, when the console knows where the UI is."""
    ui = settings.temporal_ui_url.rstrip("/")
    if not ui or not workflow_id:
        return None
    return f"{ui}/namespaces/{quote(settings.temporal_namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"


def endpoint_ids(typed: str) -> list[str]:
    """Endpoint ids as a person types them: separated by commas, spaces or new lines."""
    return [i for i in _IDS.split(typed.strip()) if i]


def run_request(form: dict[str, str]) -> dict[str, Any]:
    """The test-run form as the body POST .../test-runs takes (TestRunRequest)."""
    body: dict[str, Any] = {"EndpointIds": endpoint_ids(form.get("endpoints", "")), "Waits": form.get("waits", "SKIP")}
    if body["Waits"] == "SHORTEN":
        seconds = form.get("seconds", "").strip()
        body["WaitSeconds"] = int(seconds) if seconds.isdigit() and len(seconds) < 7 else seconds or 0
    body["Delivery"] = form.get("delivery", "RECORD")
    return body


async def journey_of(request: Request, app_id: str, journey_id: str) -> dict[str, Any]:
    """The journey as GetJourney answers it; 404 when the project has none by that id."""
    ctx = ctx_of(request)
    try:
        async with ctx.engine.connect() as conn:
            return await response(ctx, conn, await journeys_store.get(conn, app_id, journey_id[:32]))
    except NotFound:
        raise HTTPException(404) from None


async def page_parts(request: Request, user: ConsoleUser, app_id: str, journey: dict[str, Any]) -> dict[str, Any]:
    """What the journey page shows of its participants: a page of the live ones (from the
    `after` / `after_key` cursor in the URL) and the newest test runs."""
    after = request.query_params.get("after")
    cursor = (after[:256], request.query_params.get("after_key", "")[:256]) if after else None
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        people = await console_journeys.participants(
            conn, app_id, journey["Id"], after=cursor, limit=PARTICIPANTS_SHOWN + 1
        )
        runs = await console_journeys.test_runs(conn, app_id, journey["Id"], TEST_RUNS_SHOWN)
    more = people[PARTICIPANTS_SHOWN - 1] if len(people) > PARTICIPANTS_SHOWN else None
    return {
        "participants": [
            {**p, "workflow_url": workflow_url(ctx.settings, p["workflow_id"])} for p in people[:PARTICIPANTS_SHOWN]
        ],
        "participants_next": {"after": more["participant"], "after_key": more["entry_key"]} if more else None,
        "participants_paged": cursor is not None,
        "test_runs": runs,
        "testable": journey["State"] in TESTABLE and user.may_edit,
        "test_form": {"endpoints": "", "waits": "SKIP", "seconds": "", "delivery": "RECORD"},
        "test_error": "",
    }


def done(trace: dict[str, Any]) -> bool:
    """Every test participant has left (or was stopped): nothing more will happen."""
    return all(p["Status"] != "ACTIVE" for p in trace["Participants"])


@router.get("/projects/{app_id}/journeys/{journey_id}/test-runs/{test_run_id}")
async def test_run_page(request: Request, user: User, app_id: str, journey_id: str, test_run_id: str) -> Response:
    project, projects = await project_of(request, user, app_id)
    journey = await journey_of(request, app_id, journey_id)
    ctx = ctx_of(request)
    try:
        trace = await journey_control.test_run(ctx, app_id, journey["Id"], test_run_id[:32])
    except NotFound:
        raise HTTPException(404) from None
    names = {n["id"]: n["label"] for n in graph(journey)["nodes"]}  # as the canvas names them
    for p in trace["Participants"]:
        p["workflow_url"] = workflow_url(ctx.settings, p["WorkflowId"])
    return render(
        request,
        "journey_test_run.html",
        user=user,
        active="/journeys",
        project=project,
        projects=projects,
        section="journeys",
        journey=journey,
        trace=trace,
        names=names,
        done=done(trace),
    )
