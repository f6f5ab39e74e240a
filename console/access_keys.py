"""A project's Access keys (Settings → Access keys, administrators only): the API key pairs that
may use the project (scoped to it, or to every project), created and revoked by the functions
`openpoint keys create | revoke` call (store/access_keys.py). A new key's secret is shown once,
on the answer to the create form (never stored in the clear, never listed again).

A revoked key is refused by this gateway process from the next request on (`KeyStore.forget`);
other gateway processes notice within KeyStore's cache time (30 s)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from console.project_pages import project_for, project_of
from console.project_settings import admin_only
from console.sessions import ctx_of
from console.views import Changer, User, base_path, render
from store import access_keys as keys_store

router = APIRouter()

DESCRIPTION_LIMIT = 200


@router.get("/projects/{app_id}/settings/keys")
async def keys_page(request: Request, user: User, app_id: str) -> Response:
    project, projects = await project_of(request, user, app_id)
    admin_only(user, "see or manage access keys")
    keys = await keys_store.list_keys(ctx_of(request).engine, project_id=app_id)
    return render(
        request,
        "settings_keys.html",
        user=user,
        active="/settings",
        project=project,
        projects=projects,
        section="settings/keys",
        tab="keys",
        keys=keys,
    )


@router.post("/projects/{app_id}/settings/keys")
async def create_key(request: Request, user: Changer, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    admin_only(user, "create access keys")
    description = str((await request.form()).get("description", "")).strip()[:DESCRIPTION_LIMIT]
    ctx = ctx_of(request)
    # Scoped to this project: a key for every project is `openpoint keys create` without --project.
    key_id, secret = await keys_store.create_key(ctx.engine, ctx.vault, description=description, project_ids=[app_id])
    return render(
        request,
        "settings_key_created.html",
        user=user,
        active="/settings",
        project=project,
        projects=[],
        tab="keys",
        key_id=key_id,
        secret=secret,
        description=description,
        endpoint=f"{request.url.scheme}://{request.url.netloc}",
    )


@router.post("/projects/{app_id}/settings/keys/{key_id}/revoke")
async def revoke_key(request: Request, user: Changer, app_id: str, key_id: str) -> Response:
    await project_for(request, user, app_id)
    admin_only(user, "revoke access keys")
    key_id = key_id[:128]
    ctx = ctx_of(request)
    # Only a key listed on this project's page: another project's key id in the URL is refused.
    listed = {k["access_key_id"] for k in await keys_store.list_keys(ctx.engine, project_id=app_id)}
    if key_id not in listed:
        raise HTTPException(404)
    await keys_store.revoke(ctx.engine, key_id)
    ctx.keys.forget(key_id)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/settings/keys", status_code=303)
