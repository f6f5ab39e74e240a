"""The campaign wizard: create a campaign, or edit one, with everything WriteCampaignRequest
takes (segment, channel and message or template, schedule, quiet time, limits, holdout and A/B
treatments), as one long form with a step index at the top.

The server holds the truth: every post carries the whole draft, "Add a treatment" and "Remove"
answer the same page with the draft changed, and nothing lives only in the browser. Fields of
the channels and schedules not chosen are hidden by CSS (`:has(:checked)`), not by script.
Saves go through CreateCampaign's / UpdateCampaign's own code (api/campaigns.py) with the body
decoded against botocore's model (`write_request`); a refusal is shown by the field its member
path names (console/campaign_form.field_of) and nothing is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.campaigns import create, update, write_request
from console import campaign_form as f
from console.campaign_review import review
from console.project_pages import project_for
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from rules.campaigns import UTC_OFFSETS
from store import campaigns as campaigns_store
from store import segments as segments_store
from store import templates as templates_store

router = APIRouter()

LIST_LIMIT = 500  # segments and templates offered; as the lists' pages show
TIMEZONES = sorted(UTC_OFFSETS, key=lambda z: (z != "UTC", z[3:4] == "+", z))


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read campaigns but not change them; an editor can.")


async def _choices(request: Request, app_id: str) -> dict[str, Any]:
    """The project's segments (with the size of imported ones: a stored list, one index scan;
    a dimensional segment is resolved when a run starts) and the account's templates by type."""
    async with ctx_of(request).engine.connect() as conn:
        rows = await segments_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
        segments = [
            {
                "id": r["id"],
                "name": r.get("name") or r["id"],
                "imported": r["segment_type"] == "IMPORT",
                "version": r["version"],
                "size": await segments_store.member_count(conn, app_id, r["id"])
                if r["segment_type"] == "IMPORT"
                else None,
            }
            for r in rows
        ]
        templates = {
            channel: await templates_store.page(conn, prefix=None, template_type=channel, after=None, limit=LIST_LIMIT)
            for channel in f.TEMPLATE_MEMBERS
        }
    return {"segments": segments, "templates": templates}


def _changed(form: dict[str, str], action: str) -> dict[str, str]:
    """The draft after "Add a treatment" or "Remove treatment i" (later ones move up)."""
    n = f.treatment_count(form)
    if action == "add-treatment" and n < f.MAX_TREATMENTS:
        form.update(f.blank_treatment(n + 1))
        form["treatments"] = str(n + 1)
    elif action.startswith("remove-treatment:") and action[17:].isdigit() and 1 <= int(action[17:]) <= n:
        for i in range(int(action[17:]), n):
            form.update({f"t{i}.{k}": form.get(f"t{i + 1}.{k}", "") for k in f.TREATMENT_FIELDS})
        form["treatments"] = str(n - 1)
    return form


async def _page(
    request: Request,
    user: ConsoleUser,
    project: dict[str, Any],
    form: dict[str, str],
    *,
    campaign: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    locked: bool = False,
) -> Response:
    choices = await _choices(request, project["id"])
    names = {s["id"]: s["name"] for s in choices["segments"]}
    return render(
        request,
        "campaign_wizard.html",
        status=status,
        user=user,
        active="/campaigns",
        project=project,
        projects=[],  # no switcher on a form: another project's segments differ
        f=f,
        form=form,
        errors=errors or {},
        campaign=campaign,
        locked=locked,
        review=review(f.request_of(form), names),
        timezones=TIMEZONES,
        **choices,
    )


async def _posted(request: Request) -> tuple[dict[str, str], str]:
    raw = await request.form()
    posted = {k: str(v) for k, v in raw.items()}
    return f.read(posted), posted.get("action", "save")[:40]


async def _stored(request: Request, app_id: str, campaign_id: str) -> dict[str, Any]:
    try:
        async with ctx_of(request).engine.connect() as conn:
            return await campaigns_store.get(conn, app_id, campaign_id[:32])
    except NotFound:
        raise HTTPException(404) from None


@router.get("/projects/{app_id}/campaigns/new")
async def new_campaign(request: Request, user: User, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    return await _page(request, user, project, f.blank())


@router.post("/projects/{app_id}/campaigns/new")
async def create_campaign(request: Request, user: Changer, app_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    form, action = await _posted(request)
    if action != "save":
        return await _page(request, user, project, _changed(form, action))
    try:
        saved = await create(ctx_of(request), app_id, write_request(f.request_of(form)))
    except PinpointError as err:
        if err.status >= 500:
            raise
        errors = {f.field_of(err.message): err.message}
        return await _page(request, user, project, form, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/campaigns/{saved['Id']}", status_code=303)


@router.post("/projects/{app_id}/campaigns/review")
async def review_part(request: Request, user: Changer, app_id: str) -> Response:
    """The Review section for the draft as it stands (htmx asks on every change)."""
    await project_for(request, user, app_id)
    _editor(user)
    form, _action = await _posted(request)
    choices = await _choices(request, app_id)
    names = {s["id"]: s["name"] for s in choices["segments"]}
    return render(request, "_campaign_review.html", user=user, review=review(f.request_of(form), names))


@router.get("/projects/{app_id}/campaigns/{campaign_id}/edit")
async def edit_campaign(request: Request, user: User, app_id: str, campaign_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    row = await _stored(request, app_id, campaign_id)
    definition = row["definition"]
    campaign = {**definition, "Id": row["id"], "Version": row["version"]}
    locked = not f.editable(definition)
    return await _page(request, user, project, f.form_of(definition), campaign=campaign, locked=locked)


@router.post("/projects/{app_id}/campaigns/{campaign_id}/edit")
async def save_campaign(request: Request, user: Changer, app_id: str, campaign_id: str) -> Response:
    project = await project_for(request, user, app_id)
    _editor(user)
    row = await _stored(request, app_id, campaign_id)
    definition = row["definition"]
    campaign = {**definition, "Id": row["id"], "Version": row["version"]}
    if not f.editable(definition):
        raise NotAllowed("This campaign has members the wizard cannot show; change it through the API.")
    form, action = await _posted(request)
    if action != "save":
        return await _page(request, user, project, _changed(form, action), campaign=campaign)
    try:
        await update(ctx_of(request), app_id, row["id"], write_request(f.request_of(form, kept=definition)))
    except PinpointError as err:
        if err.status >= 500:
            raise
        errors = {f.field_of(err.message): err.message}
        return await _page(request, user, project, form, campaign=campaign, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/campaigns/{row['id']}", status_code=303)
