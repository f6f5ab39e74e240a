"""The Analytics pages of a project: each page of docs/analytics.md (and the funnel) as a chart
and its table, with a date range, the endpoint filters, and a CSV download.

Nothing here computes a figure: the question is read by analytics/queries.py's readers and
answered by the API route's own page functions (api/routes/analytics_pages.py `PAGE_ANSWERS`,
which call analytics/), so the console and the API always show the same numbers and refuse the
same input with the same message, shown next to the field it names. The view lives in the URL
(GET parameters under the API's names), so a view can be shared as a link."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from analytics import funnels
from analytics.demographics import NAMES as DIMENSIONS
from analytics.model import Table
from analytics.queries import MAX_FUNNEL_STEPS, VIEWS, parse_funnel, parse_page_query
from api.outages import outage_of
from api.routes.analytics_pages import CSV, PAGE_ANSWERS
from console.analytics_form import FILTER_FIELDS, AnalyticsForm, field_of
from console.charts import shown
from console.project_pages import project_of
from console.sessions import ctx_of
from console.views import User, base_path, render
from openpoint.errors import BadRequest
from store import segments as segments_store

router = APIRouter()

SEGMENT_CHOICES = 500  # the segment filter's options; an id past them can still be given in the URL

FUNNEL = "funnel"
TABS = ("usage", "retention", "revenue", "events", "demographics", FUNNEL, "campaigns", "journeys", "transactional")
VIEW_LABELS = {
    "active": "Active & stickiness",
    "daily": "Daily",
    "sessions-by-hour": "Sessions by hour",
    "weekly": "Weekly cohorts",
    "products": "Top products",
    "paying-users": "Paying users",
    "treatments": "Treatments",
    "sms-by-country": "SMS by country",
}
TITLES = {
    "usage/active": "Daily and monthly active endpoints, stickiness",
    "usage/daily": "Active endpoints, users, new endpoints and sessions per day",
    "usage/sessions-by-hour": "Sessions started per hour of day (UTC)",
    "retention/daily": "Retention of each day's new endpoints",
    "retention/weekly": "Retention of each week's new endpoints",
    "revenue/daily": "Revenue per day and currency",
    "revenue/products": "Top products by revenue",
    "revenue/paying-users": "Paying users in the range",
    "events": "Events per day and type",
    "demographics": "Active endpoints by {dimension}",
    "funnel": "Endpoints reaching each step",
    "campaigns/treatments": "Campaign messages per treatment",
    "campaigns/sessions-by-hour": "Sessions opened from a campaign, per hour of day (UTC)",
    "journeys": "Journey messages per activity",
    "transactional/daily": "Transactional email and SMS",
    "transactional/sms-by-country": "Transactional SMS by country",
}
# The fields each page's form shows beyond the date range and the filters.
OWN_FIELDS = {
    "events": ("event-type", "metric"),
    "demographics": ("dimension",),
    "campaigns": ("campaign-id",),
    "journeys": ("journey-id",),
    "transactional": ("granularity",),
}


def _title(page: str, view: str | None, form: AnalyticsForm) -> str:
    title = TITLES.get(f"{page}/{view}", TITLES.get(page, page))
    return title.replace("{dimension}", form.get("dimension") or "platform")


async def _answer(
    request: Request, app_id: str, page: str, form: AnalyticsForm
) -> tuple[Table | None, bool, list[str]]:
    """The page's table (None for a funnel with no steps yet), whether CSV was asked, and the
    window's days; raises the API's BadRequest for bad input."""
    ctx = ctx_of(request)
    now = datetime.now(UTC)
    retention = ctx.settings.analytics_retention_days
    if page == FUNNEL:
        if not form.steps:
            form.filter_pairs()  # still refuse a malformed attribute filter
            return None, False, []
        f = parse_funnel(form.funnel_body(now.date()), form.filter_pairs(), now=now, retention_days=retention)
        async with ctx.engine.connect() as conn:
            await funnels.check_steps(conn, app_id, f.steps)
            table = await funnels.funnel(conn, app_id, f.window, f.filters, f.steps, ch=ctx.clickhouse)
        return table, f.csv, []
    q = parse_page_query(page, form.page_query(now.date()), now=now, retention_days=retention)
    async with ctx.engine.connect() as conn:
        table = await PAGE_ANSWERS[q.page](conn, app_id, q, ctx.clickhouse)
    return table, q.csv, [d.isoformat() for d in q.window.days]


@router.get("/projects/{app_id}/analytics")
async def analytics_home(request: Request, user: User, app_id: str) -> Response:
    await project_of(request, user, app_id)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/analytics/usage", status_code=303)


@router.get("/projects/{app_id}/analytics/{page}")
async def analytics_page(request: Request, user: User, app_id: str, page: str) -> Response:
    if page not in TABS:
        raise StarletteHTTPException(404)
    project, projects = await project_of(request, user, app_id)
    form = AnalyticsForm.read(request.query_params.multi_items())
    status, errors, load_error = 200, {}, ""
    table: Table | None = None
    days: list[str] = []
    segments: list[tuple[str, str]] = []
    try:
        if not form.get("format"):
            segments = await _segments(request, app_id)
        table, csv, days = await _answer(request, app_id, page, form)
    except BadRequest as err:
        status = 422  # swapped in by HTMX like a form's errors
        errors[field_of(err)] = err.message
    except Exception as e:
        outage = outage_of(e)
        if outage is None:
            raise
        status, load_error = outage.status, f"{outage.what} is unavailable right now."
    else:
        if csv and table is not None:
            # The API's CSV of the same table (analytics/model.py), under the same file name.
            return StreamingResponse(
                table.csv_lines(),
                media_type=f"{CSV}; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{page}.csv"'},
            )
    view = form.get("view") or (VIEWS[page][0] if page in VIEWS else None)
    own = OWN_FIELDS.get(page, ())
    shown_fields = {"range", "start", "end", *FILTER_FIELDS, *own, *(f"step-{i}" for i in range(MAX_FUNNEL_STEPS))}
    general = " ".join(m for f, m in errors.items() if f not in shown_fields)
    here = f"{base_path(request)}/projects/{app_id}/analytics/{page}"
    title = _title(page, view, form)
    return render(
        request,
        "analytics.html",
        status=status,
        user=user,
        active="/analytics",
        project=project,
        projects=projects,
        section="analytics",
        page=page,
        tabs=TABS,
        views=[(v, VIEW_LABELS.get(v, v), f"{here}?{urlencode(form.url_query(view=v))}") for v in VIEWS.get(page, ())],
        view=view,
        own=own,
        dimensions=DIMENSIONS,
        segments=segments,
        form=form,
        steps=_step_fields(form),
        errors={f: m for f, m in errors.items() if f in shown_fields},
        general_error=general,
        load_error=load_error,
        title=title,
        result=shown(table, title, days) if table is not None else None,
        here=here,
        shown_dates=[(d or "")[:10] for d in form.dates(datetime.now(UTC).date())]
        if form.range != "custom"
        else ["", ""],
        shared=urlencode(form.shared_query()),
        csv_url=f"{here}?{urlencode(form.url_query(format='csv'))}",
    )


async def _segments(request: Request, app_id: str) -> list[tuple[str, str]]:
    """(id, name) of the project's segments, by name: the segment filter's choices."""
    async with ctx_of(request).engine.connect() as conn:
        rows = await segments_store.page(conn, app_id, after=None, limit=SEGMENT_CHOICES)
    return sorted(((r["id"], r.get("name") or r["id"]) for r in rows), key=lambda s: (s[1].lower(), s[0]))


def _step_fields(form: AnalyticsForm) -> list[str]:
    """The funnel's step inputs: those given and one more (three at first), at most ten."""
    count = min(MAX_FUNNEL_STEPS, max(3, len(form.steps) + 1))
    return (form.steps + [""] * count)[:count]
