"""The Endpoints pages of a project: finding endpoints by the start of their id, address or user
id, and an
endpoint's page: what GetEndpoint answers (read through the same store function and shaped by
the same `endpoint_response`), and its timeline: recent events, the messages sent to it with
their outcome (the delivery log and the standard events that came back), and the journeys it
entered, newest first, a page at a time. Read-only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.outages import outage_of
from console.project_pages import project_of
from console.sessions import ctx_of
from console.views import User, base_path, render
from rules.endpoints import endpoint_response
from store import console_endpoints
from store import endpoints as endpoints_store
from wire.codec import iso

router = APIRouter()

SEARCH_LIMIT = 50  # more than a page a person reads; a user has at most 15 endpoints (Pinpoint's limit)
SEARCH_TIMEOUT_MS = 2000
PAGE_SIZE = 20  # rows of each timeline list per page
MAX_PAGE = 500  # deeper than this, use the API (or export the events)
MAX_TEXT = 500
LISTS = ("events", "messages", "journeys")
# Standard events that tell how a message went, in the order they are shown.
OUTCOME_EVENTS = {
    "_email.delivered": "delivered",
    "_email.open": "opened",
    "_email.click": "clicked",
    "_email.hardbounce": "bounced",
    "_email.softbounce": "soft bounce",
    "_email.complaint": "complaint",
    "_email.rejected": "rejected",
    "_email.unsubscribe": "unsubscribed",
    "_SMS.SUCCESS": "delivered",
    "_SMS.FAILURE": "failed",
    "_SMS.OPTOUT": "opted out",
    "_push.failure": "failed",
    "_voice.success": "answered",
    "_voice.failure": "failed",
}


def _outage(e: Exception) -> str:
    outage = outage_of(e)
    if outage is None:
        raise e
    return f"{outage.what} is unavailable right now."


@router.get("/projects/{app_id}/endpoints")
async def search(request: Request, user: User, app_id: str, q: str = "") -> Response:
    project, projects = await project_of(request, user, app_id)
    text = q.strip()[:MAX_TEXT]
    rows: list[dict[str, Any]] | None = []
    load_error = ""
    if text:
        try:
            async with ctx_of(request).engine.connect() as conn:
                rows = await console_endpoints.search(conn, app_id, text, SEARCH_LIMIT, timeout_ms=SEARCH_TIMEOUT_MS)
        except Exception as e:
            load_error = _outage(e)
    return render(
        request,
        "endpoints.html",
        status=503 if load_error else 200,
        user=user,
        active="/endpoints",
        project=project,
        projects=projects,
        section="endpoints",
        q=text,
        found=rows or [],
        too_slow=rows is None,
        limit=SEARCH_LIMIT,
        load_error=load_error,
    )


def _page_number(raw: str | None) -> int:
    return min(int(raw), MAX_PAGE) if raw and raw.isdigit() else 0


@router.get("/projects/{app_id}/endpoints/{endpoint_id}")
async def endpoint(request: Request, user: User, app_id: str, endpoint_id: str) -> Response:
    project, projects = await project_of(request, user, app_id)
    pages = {name: _page_number(request.query_params.get(name)) for name in LISTS}
    lists: dict[str, list[dict[str, Any]]] = {}
    try:
        async with ctx_of(request).engine.connect() as conn:
            row = await endpoints_store.get(conn, app_id, endpoint_id)
            if row is None:
                raise StarletteHTTPException(404)
            for name, read in (
                ("events", console_endpoints.events),
                ("messages", console_endpoints.messages),
                ("journeys", console_endpoints.journeys),
            ):
                # One more row than shown: whether there is an older page.
                lists[name] = await read(conn, app_id, endpoint_id, PAGE_SIZE + 1, pages[name] * PAGE_SIZE)
    except StarletteHTTPException:
        raise
    except Exception as e:
        message = _outage(e)
        return render(request, "error.html", status=503, user=user, title="Try again shortly", message=message)
    here = f"{base_path(request)}/projects/{app_id}/endpoints/{endpoint_id}"

    def link(name: str, page: int) -> str:
        return f"{here}?{urlencode({**pages, name: page})}#{name}"

    paging = {
        name: {
            "newer": link(name, pages[name] - 1) if pages[name] > 0 else "",
            "older": link(name, pages[name] + 1) if len(lists[name]) > PAGE_SIZE and pages[name] < MAX_PAGE else "",
        }
        for name in LISTS
    }
    for sent in lists["messages"]:
        sent["outcomes"] = [OUTCOME_EVENTS[e] for e in sent["events"] if e in OUTCOME_EVENTS]
    return render(
        request,
        "endpoint.html",
        user=user,
        active="/endpoints",
        project=project,
        projects=projects,
        section="endpoints",
        endpoint=endpoint_response(row, iso),
        events=lists["events"][:PAGE_SIZE],
        messages=lists["messages"][:PAGE_SIZE],
        journeys=lists["journeys"][:PAGE_SIZE],
        paging=paging,
    )
