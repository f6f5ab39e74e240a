"""A project's Settings: General (the project, quiet time, campaign and journey limits, the
campaign hook, metrics and event tagging) and deleting the project. The Channels and Access keys
sections are console/channels.py and console/access_keys.py.

Everyone given the project reads its settings; only an administrator changes them (their
forged POSTs are 403, nothing written). Saves go through UpdateApplicationSettings' own code,
the form decoded against botocore's model first (api/app_settings.py), so the console refuses
exactly what the API refuses; deleting is DeleteApp's code after the project's name is typed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.app_settings import delete_project, settings_request, settings_response, stored_settings, update_settings
from console.project_pages import project_for, project_of
from console.sessions import ConsoleUser, ctx_of
from console.settings_form import GENERAL_FIELDS, field_of, settings_fields, settings_form
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import PinpointError
from store import apps as apps_store

router = APIRouter()

FIELD_LIMIT = 2_000  # characters kept of a form field; longer is the API's to refuse anyway


def admin_only(user: ConsoleUser, what: str = "change a project's settings") -> None:
    if not user.may_administer:
        raise NotAllowed(f"Your role ({user.role}) may read this page but not {what}; an administrator can.")


async def _settings_page(
    request: Request,
    user: ConsoleUser,
    app_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    project, projects = await project_of(request, user, app_id)
    async with ctx_of(request).engine.connect() as conn:
        row = await apps_store.get(conn, app_id)
    stored = stored_settings(row)
    return render(
        request,
        "settings.html",
        status=status,
        user=user,
        active="/settings",
        project=project,
        projects=projects,
        section="settings",
        tab="general",
        resource=settings_response(row),
        stored=stored,
        form=form if form is not None else settings_form(stored),
        errors=errors or {},
        saved=saved,
    )


@router.get("/projects/{app_id}/settings")
async def settings_page(request: Request, user: User, app_id: str, saved: str = "") -> Response:
    return await _settings_page(request, user, app_id, saved=saved == "1")


@router.post("/projects/{app_id}/settings")
async def save_settings(request: Request, user: Changer, app_id: str) -> Response:
    await project_for(request, user, app_id)
    admin_only(user)
    raw = await request.form()
    form = {k: str(raw.get(k, ""))[:FIELD_LIMIT] for k in GENERAL_FIELDS}
    ctx = ctx_of(request)
    try:
        async with ctx.engine.connect() as conn:
            stored = stored_settings(await apps_store.get(conn, app_id))
        await update_settings(ctx, app_id, settings_request(settings_fields(form, stored)))
    except PinpointError as err:
        if err.status >= 500:
            raise
        errors = {field_of(err.message, GENERAL_FIELDS): err.message}
        return await _settings_page(request, user, app_id, form=form, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/settings?saved=1", status_code=303)


def _delete_page(
    request: Request, user: ConsoleUser, project: dict[str, Any], *, error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "settings_delete.html",
        status=status,
        user=user,
        active="/settings",
        project=project,
        projects=[],  # no switcher on a destructive form
        tab="general",
        error=error,
    )


@router.get("/projects/{app_id}/settings/delete")
async def delete_form(request: Request, user: User, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    admin_only(user, "delete the project")
    return _delete_page(request, user, project)


@router.post("/projects/{app_id}/settings/delete")
async def delete(request: Request, user: Changer, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    admin_only(user, "delete the project")
    typed = str((await request.form()).get("confirm_name", ""))[:FIELD_LIMIT]
    if typed != project["name"]:
        # The name typed exactly: a slip of the mouse cannot delete a project.
        message = "Type the project's name exactly as shown to delete it." if typed else "Type the project's name."
        return _delete_page(request, user, project, error=message, status=422)
    await delete_project(ctx_of(request), app_id)
    return RedirectResponse(f"{base_path(request)}/projects", status_code=303)
