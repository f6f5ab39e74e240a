"""The Projects page: the projects the user may see, and creating one (administrators) through
CreateApp's own code (api/projects.py), its errors shown next to the field they are about."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.outages import outage_of
from api.projects import create_project, create_request
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import PinpointError
from store import apps as apps_store

router = APIRouter()

LIST_LIMIT = 500  # the page lists the newest this many; paging comes when someone has more


async def _page(
    request: Request,
    user: ConsoleUser,
    *,
    status: int = 200,
    name: str = "",
    errors: dict[str, str] | None = None,
    created: str = "",
) -> Response:
    rows: list[dict[str, Any]] = []
    load_error = ""
    try:
        async with ctx_of(request).engine.connect() as conn:
            rows = await apps_store.page(conn, after=None, limit=LIST_LIMIT, only=user.project_ids, newest_first=True)
    except Exception as e:
        outage = outage_of(e)
        if outage is None:
            raise
        load_error = f"{outage.what} is unavailable right now."
        status = outage.status
    rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)  # the newest first
    return render(
        request,
        "projects.html",
        status=status,
        user=user,
        active="/projects",
        projects=rows,
        load_error=load_error,
        name=name,
        errors=errors or {},
        created=next((r for r in rows if r["id"] == created), None),
    )


@router.get("/projects")
async def projects(request: Request, user: User, created: str = "") -> Response:
    return await _page(request, user, created=created[:32])


def _field_of(err: PinpointError) -> str:
    """Which form field an error of CreateApp is about ('' for the form as a whole)."""
    return "name" if "CreateApplicationRequest.Name" in err.message else ""


@router.post("/projects")
async def create(request: Request, user: Changer, name: Annotated[str, Form()] = "") -> Response:
    if not user.may_create_projects:
        raise NotAllowed(f"Your role ({user.role}) may not create projects; an administrator can.")
    try:
        body = create_request({"Name": name})
        project = await create_project(ctx_of(request), body, scoped_to=None)
    except PinpointError as err:
        if err.status >= 500:
            raise
        return await _page(request, user, status=422, name=name, errors={_field_of(err): err.message})
    # Post/redirect/get: a reload does not create the project twice. HTMX follows the redirect
    # and swaps the list in place.
    return RedirectResponse(f"{base_path(request)}/projects?created={project['Id']}", status_code=303)
