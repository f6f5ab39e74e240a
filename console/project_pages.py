"""What the pages of one project share: the project itself (refused when the user may not see
it), the projects to switch to, and the switcher's route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.sessions import ConsoleUser, ctx_of
from console.views import NotAllowed, User, base_path
from openpoint.errors import NotFound
from store import apps as apps_store
from store import segments as segments_store

router = APIRouter()

SWITCH_LIMIT = 500  # as the Projects page lists
SEGMENT_NAMES_LIMIT = 500  # segments named in a list of campaigns or journeys (others show their id)
# The per-project pages the switcher can land on.
SECTIONS = ("analytics", "endpoints", "campaigns", "journeys", "settings", "settings/channels", "settings/keys")


async def project_for(request: Request, user: ConsoleUser, app_id: str) -> dict[str, Any]:
    """The project a page is about: 403 when the user was not given it, 404 when there is none
    (every per-project page checks access through here)."""
    if not user.may_see(app_id[:64]):
        raise NotAllowed("You have not been given access to this project. Ask an administrator to add you to it.")
    async with ctx_of(request).engine.connect() as conn:
        try:
            return await apps_store.get(conn, app_id)
        except NotFound:
            raise StarletteHTTPException(404) from None


async def project_of(request: Request, user: ConsoleUser, app_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The project (as `project_for`) and the projects the user may switch to, by name."""
    project = await project_for(request, user, app_id)
    async with ctx_of(request).engine.connect() as conn:
        projects = await apps_store.page(conn, after=None, limit=SWITCH_LIMIT, only=user.project_ids, newest_first=True)
    projects.sort(key=lambda p: (p["name"].lower(), p["id"]))
    return project, projects


async def segment_names(request: Request, app_id: str) -> dict[str, str]:
    """The project's segments' names by id, for pages that list what uses them."""
    async with ctx_of(request).engine.connect() as conn:
        rows = await segments_store.page(conn, app_id, after=None, limit=SEGMENT_NAMES_LIMIT)
    return {r["id"]: r.get("name") or r["id"] for r in rows}


@router.get("/projects/go")
async def switch(request: Request, user: User, project: str = "", page: str = "analytics") -> Response:
    """The project switcher (a GET form, so it works without JavaScript): the same page of
    another project."""
    section = page if page in SECTIONS else SECTIONS[0]
    if not project:
        return RedirectResponse(f"{base_path(request)}/projects", status_code=303)
    return RedirectResponse(f"{base_path(request)}/projects/{project[:32]}/{section}", status_code=303)
