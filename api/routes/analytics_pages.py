"""OpenPoint's analytics pages (docs/analytics.md), SigV4-signed like the Pinpoint API:
`GET /v1/apps/{application-id}/analytics/{page}` and `POST .../analytics/funnel`.

The question is read and checked first (analytics/queries.py: nothing is queried for a bad
one), then answered by analytics/ in one read-only connection. Every answer is the page's
`Table` as Pinpoint's KpiResult Rows, or the same table as CSV (`?format=csv` or
`Accept: text/csv`), streamed a line at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from analytics import demographics, events, funnels, messages, revenue, usage
from analytics.model import Table, Window
from analytics.queries import (
    FILTERS,
    MAX_FUNNEL_STEPS,
    PAGES,
    VIEWS,
    PageQuery,
    parse_funnel,
    parse_page_query,
)
from api.extensions import ExtensionCall, extension, json_object
from openpoint.errors import BadRequest, NotFound
from store import apps as apps_store
from store import campaign_activities
from store import journeys as journeys_store
from store.clickhouse import ClickHouse
from wire.codec import iso

router = APIRouter(tags=["OpenPoint extensions"])

ANALYTICS_PATH = "/v1/apps/{application_id}/analytics"
CSV = "text/csv"

_STRING = {"type": "string"}
_ROWS = {
    "type": "array",
    "items": json_object(
        GroupedBys={"type": "array", "items": json_object(Key="string", Type="string", Value="string")},
        Values={"type": "array", "items": json_object(Key="string", Type="string", Value="string")},
    ),
}
_ANSWER = json_object(
    ApplicationId="string",
    Page="string",
    StartTime="string",
    EndTime="string",
    Granularity="string",
    KpiResult=json_object(Rows=_ROWS),
)
_FILTER_PARAMETERS: list[dict[str, Any]] = [
    {"name": "segment-id", "schema": _STRING, "description": "Only the segment's endpoints (its members now)."},
    {"name": "platform", "schema": _STRING, "description": "Demographic.Platform values, comma-separated."},
    {"name": "channel", "schema": _STRING, "description": "Endpoint ChannelType values, comma-separated."},
    {"name": "app-version", "schema": _STRING, "description": "Demographic.AppVersion values, comma-separated."},
    {"name": "format", "schema": {"type": "string", "enum": ["json", "csv"]}, "description": "csv: the table as CSV."},
]
_PAGE_PARAMETERS: list[dict[str, Any]] = [
    {"name": "start-time", "schema": _STRING, "description": "ISO-8601; its UTC day is the first (default: 30 days)."},
    {"name": "end-time", "schema": _STRING, "description": "ISO-8601; its UTC day is the last (default: today)."},
    {"name": "granularity", "schema": {"type": "string", "enum": ["DAY", "HOUR"]}},
    *_FILTER_PARAMETERS,
    {"name": "event-type", "schema": _STRING, "description": "events page: one event type (default: all)."},
    {"name": "metric", "schema": _STRING, "description": "events page: the event metric summed and averaged."},
    {"name": "dimension", "schema": _STRING, "description": "demographics page: the grouping (default: platform)."},
    {"name": "campaign-id", "schema": _STRING, "description": "campaigns page: one campaign."},
    {"name": "journey-id", "schema": _STRING, "description": "journeys page: one journey."},
    {
        "name": "view",
        "schema": _STRING,
        "description": "the page's table: " + "; ".join(f"{p}: {' | '.join(v)}" for p, v in VIEWS.items()),
    },
]
_FUNNEL = json_object(
    StartTime="string",
    EndTime="string",
    Steps={
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_FUNNEL_STEPS,
        "items": json_object(
            EventType="string",
            Attributes={"type": "object", "additionalProperties": {"type": "array", "items": _STRING}},
        ),
    },
)

# A page's answer: the connection (PostgreSQL: the rollups, and the checks and filters on
# projects' data), the project, the question, and the ClickHouse backend when one is configured.
Page = Callable[[AsyncConnection, str, PageQuery, ClickHouse | None], Awaitable[Table]]


async def _campaigns(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    campaign_id = q.one("campaign-id")
    if campaign_id is not None:
        try:
            await campaign_activities.require_campaign(conn, app_id, campaign_id)
        except NotFound:
            raise BadRequest(f"Invalid value for campaign-id: campaign {campaign_id} does not exist.") from None
    return await messages.campaigns(
        conn, app_id, q.window, q.filters, campaign_id=campaign_id, view=q.one("view") or "treatments", ch=ch
    )


async def _journeys(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    journey_id = q.one("journey-id")
    if journey_id is not None:
        try:
            await journeys_store.get(conn, app_id, journey_id)
        except NotFound:
            raise BadRequest(f"Invalid value for journey-id: journey {journey_id} does not exist.") from None
    return await messages.journeys(conn, app_id, q.window, q.filters, journey_id=journey_id, ch=ch)


async def _transactional(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    return await messages.transactional(conn, app_id, q.window, q.filters, view=q.one("view") or "daily", ch=ch)


async def _usage(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    view = q.one("view")
    if view == "daily":
        return await usage.daily(conn, app_id, q.window, q.filters, ch=ch)
    figure = usage.sessions_by_hour if view == "sessions-by-hour" else usage.active
    return await figure(conn, app_id, q.window, q.filters, ch=ch)


async def _retention_page(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    return await usage.retention(conn, app_id, q.window, q.filters, weekly=q.one("view") == "weekly")


async def _revenue(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    view = q.one("view")
    if view == "products":
        return await revenue.products(conn, app_id, q.window, q.filters, ch=ch)
    if view == "paying-users":
        return await revenue.paying_users(conn, app_id, q.window, q.filters, ch=ch)
    return await revenue.revenue(conn, app_id, q.window, q.filters, ch=ch)


async def _events(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    event_type = q.one("event-type")
    if event_type is not None and not await funnels.known_event_type(conn, app_id, event_type):
        raise BadRequest(f"Invalid value for event-type: project {app_id} has no event of type '{event_type}'.")
    return await events.events(
        conn,
        app_id,
        q.window,
        q.filters,
        event_type=event_type,
        attributes=q.event_attributes or None,
        metric=q.one("metric"),
        ch=ch,
    )


async def _demographics(conn: AsyncConnection, app_id: str, q: PageQuery, ch: ClickHouse | None) -> Table:
    return await demographics.demographics(conn, app_id, q.window, q.filters, q.one("dimension") or "platform", ch=ch)


PAGE_ANSWERS: dict[str, Page] = {
    "usage": _usage,
    "retention": _retention_page,
    "revenue": _revenue,
    "events": _events,
    "demographics": _demographics,
    "campaigns": _campaigns,
    "journeys": _journeys,
    "transactional": _transactional,
}


def _retention(call: ExtensionCall) -> int:
    return call.ctx.settings.analytics_retention_days


def _answer(call: ExtensionCall, page: str, window: Window, table: Table, csv: bool) -> dict[str, Any] | Response:
    if csv or CSV in call.accept.lower():
        return StreamingResponse(
            table.csv_lines(),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{page}.csv"'},
        )
    return {
        "ApplicationId": call.app_id,
        "Page": page,
        "StartTime": iso(window.start),
        "EndTime": iso(window.end),
        "Granularity": window.granularity.value,
        "KpiResult": {"Rows": table.kpi_rows()},
    }


@extension(
    router,
    "GET",
    ANALYTICS_PATH + "/{page}",
    name="GetAnalyticsPage",
    summary=f"One analytics page ({', '.join(PAGES)}) as KpiResult rows, or CSV",
    response_schema=_ANSWER,
    query=_PAGE_PARAMETERS,
    content_types=(CSV,),
)
async def get_analytics_page(call: ExtensionCall) -> dict[str, Any] | Response:
    q = parse_page_query(call.labels["page"], call.query, now=datetime.now(UTC), retention_days=_retention(call))
    answer = PAGE_ANSWERS[q.page]
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        table = await answer(conn, call.app_id, q, call.ctx.clickhouse)
    return _answer(call, q.page, q.window, table, q.csv)


@extension(
    router,
    "POST",
    ANALYTICS_PATH + "/funnel",
    name="GetAnalyticsFunnel",
    summary=f"A funnel of up to {MAX_FUNNEL_STEPS} ordered event steps: endpoints and users reaching each, conversion",
    request_schema=_FUNNEL,
    response_schema=_ANSWER,
    query=[q for q in _FILTER_PARAMETERS if q["name"] in FILTERS | {"format"}],
    content_types=(CSV,),
)
async def get_analytics_funnel(call: ExtensionCall) -> dict[str, Any] | Response:
    f = parse_funnel(call.body, call.query, now=datetime.now(UTC), retention_days=_retention(call))
    async with call.ctx.engine.connect() as conn:
        await apps_store.get(conn, call.app_id)
        await funnels.check_steps(conn, call.app_id, f.steps)
        table = await funnels.funnel(conn, call.app_id, f.window, f.filters, f.steps, ch=call.ctx.clickhouse)
    return _answer(call, "funnel", f.window, table, f.csv)
