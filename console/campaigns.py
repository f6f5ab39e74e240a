"""The Campaigns pages of a project: the list (state, segment, channel, schedule) and a
campaign's page (its definition, its runs, pause / resume, and its figures as a chart).

Pause and resume go through UpdateCampaign's own code (api/campaigns.py) with the campaign's
current definition and IsPaused changed, so the console refuses exactly what the API refuses;
runs are GetCampaignActivities' rows and the chart is the campaigns analytics page for this one
campaign, answered by the analytics module as the Analytics pages are (console/analytics.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.campaigns import response, update
from api.routes.campaign_activities import activity_response
from console.analytics import _answer as analytics_answer
from console.analytics_form import AnalyticsForm
from console.charts import shown
from console.project_pages import project_for, project_of, segment_names
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from store import campaign_activities as activities_store
from store import campaigns as campaigns_store

router = APIRouter()

LIST_LIMIT = 500  # campaigns listed; paging comes when a project has more
RUNS_SHOWN = 50  # the newest runs (per treatment) on a campaign's page
CHART_RANGE = "90"  # days of figures on a campaign's page; the Analytics page takes any range
CHANNELS = {
    "EmailMessage": "Email",
    "SMSMessage": "SMS",
    "DefaultMessage": "Push",
    "APNSMessage": "Push",
    "GCMMessage": "Push",
    "BaiduMessage": "Push",
    "ADMMessage": "Push",
    "CustomMessage": "Custom",
    "InAppMessage": "In-app",
    "EmailTemplate": "Email",
    "SMSTemplate": "SMS",
    "PushTemplate": "Push",
    "VoiceTemplate": "Voice",
    "InAppTemplate": "In-app",
}


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read campaigns but not change them; an editor can.")


def channels(c: dict[str, Any]) -> str:
    """The channels a campaign's messages or templates are for (Pinpoint has no one field)."""
    found = [
        CHANNELS[k]
        for part in ("MessageConfiguration", "TemplateConfiguration")
        for k, v in (c.get(part) or {}).items()
        if v and k in CHANNELS
    ]
    return ", ".join(dict.fromkeys(found)) or "—"


def schedule(c: dict[str, Any]) -> str:
    """One line for a schedule: how often, from when, in whose time."""
    s = c.get("Schedule") or {}
    frequency = str(s.get("Frequency") or "ONCE")
    if frequency == "EVENT":
        event = ((s.get("EventFilter") or {}).get("Dimensions") or {}).get("EventType") or {}
        return "On event " + ", ".join(event.get("Values") or []) if event else "On event"
    start = str(s.get("StartTime") or "")
    when = "now" if start == "IMMEDIATE" else f"from {start[:16].replace('T', ' ')} UTC"
    local = " (endpoint's local time)" if s.get("IsLocalTime") else ""
    return f"{frequency.capitalize().replace('_', ' ')}, {when}{local}"


@router.get("/projects/{app_id}/campaigns")
async def campaign_list(request: Request, user: User, app_id: str) -> Response:
    project, projects = await project_of(request, user, app_id)
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        rows = await campaigns_store.page(conn, app_id, after=None, limit=LIST_LIMIT)
        found = [await response(ctx, conn, r) for r in rows]
    found.sort(key=lambda c: (c["LastModifiedDate"], c["Id"]), reverse=True)
    return render(
        request,
        "campaigns.html",
        user=user,
        active="/campaigns",
        project=project,
        projects=projects,
        section="campaigns",
        campaigns=found,
        segments=await segment_names(request, app_id),
        channels=channels,
        schedule=schedule,
    )


async def _campaign(request: Request, app_id: str, campaign_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The campaign as GetCampaign answers it, and its stored row."""
    ctx = ctx_of(request)
    try:
        async with ctx.engine.connect() as conn:
            row = await campaigns_store.get(conn, app_id, campaign_id)
            return await response(ctx, conn, row), row
    except NotFound:
        raise HTTPException(404) from None


@router.get("/projects/{app_id}/campaigns/{campaign_id}")
async def campaign_page(request: Request, user: User, app_id: str, campaign_id: str) -> Response:
    return await _page(request, user, app_id, campaign_id)


async def _page(
    request: Request, user: ConsoleUser, app_id: str, campaign_id: str, *, error: str = "", status: int = 200
) -> Response:
    """The campaign page; `error`: why a change was refused (rendered here, never taken from the
    URL, so a link cannot make the page say something the server did not)."""
    project, projects = await project_of(request, user, app_id)
    campaign, _row = await _campaign(request, app_id, campaign_id[:32])
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        runs = await activities_store.page(
            conn, app_id=app_id, campaign_id=campaign["Id"], after=None, limit=RUNS_SHOWN
        )
    form = AnalyticsForm.read([("range", CHART_RANGE), ("campaign-id", campaign["Id"])])
    title = "Messages per treatment, last 90 days"
    table, _csv, days = await analytics_answer(request, app_id, "campaigns", form)
    analytics = f"{base_path(request)}/projects/{app_id}/analytics/campaigns"
    return render(
        request,
        "campaign.html",
        status=status,
        user=user,
        active="/campaigns",
        project=project,
        projects=projects,
        section="campaigns",
        campaign=campaign,
        segments=await segment_names(request, app_id),
        runs=[activity_response(r) for r in runs],
        channels=channels,
        schedule=schedule,
        title=title,
        result=shown(table, title, days) if table is not None else None,
        csv_url=f"{analytics}?{urlencode(form.url_query(format='csv'))}",
        analytics_url=f"{analytics}?{urlencode(form.url_query())}",
        error=error,
    )


@router.post("/projects/{app_id}/campaigns/{campaign_id}/pause")
async def pause(request: Request, user: Changer, app_id: str, campaign_id: str) -> Response:
    return await _set_paused(request, user, app_id, campaign_id[:32], paused=True)


@router.post("/projects/{app_id}/campaigns/{campaign_id}/resume")
async def resume(request: Request, user: Changer, app_id: str, campaign_id: str) -> Response:
    return await _set_paused(request, user, app_id, campaign_id[:32], paused=False)


async def _set_paused(request: Request, user: ConsoleUser, app_id: str, campaign_id: str, *, paused: bool) -> Response:
    await project_for(request, user, app_id)
    _editor(user)
    _campaign_now, row = await _campaign(request, app_id, campaign_id)
    # UpdateCampaign replaces the definition: send the current one back with IsPaused changed
    # (without the treatment ids the store numbers, which a WriteCampaignRequest does not carry).
    body = {**row["definition"], "IsPaused": paused}
    if body.get("AdditionalTreatments"):
        body["AdditionalTreatments"] = [{k: v for k, v in t.items() if k != "Id"} for t in body["AdditionalTreatments"]]
    here = f"{base_path(request)}/projects/{app_id}/campaigns/{campaign_id}"
    try:
        await update(ctx_of(request), app_id, campaign_id, body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        return await _page(request, user, app_id, campaign_id, error=err.message, status=422)
    return RedirectResponse(here, status_code=303)
