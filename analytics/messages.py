"""Campaigns, journeys and transactional sends, over the standard events with rules/kpis.py's
definitions (Sent, Delivered, opens and clicks once per message and clock hour, hard bounces):
for the whole project from the message rollups (store/analytics_message_rollups.py, folded as
events arrive); under an endpoint filter from the filtered endpoints' raw events, counted by
store/kpis.py's aggregates (store/analytics_messages.py groups them per page), as the KPIs are.

Columns of the campaign and journey tables (docs/analytics.md):
Sent, Delivered, DeliveryRate (Delivered / Sent), Opens (email and push, once per message and
hour), OpenRate (opened messages / delivered email and push messages), Clicks (once per message
and hour), Bounces (hard bounces), OptOuts (endpoints that unsubscribed or opted out in reply),
Endpoints (endpoints sent to; for the HOLDOUT row, the endpoints the runs held out).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from analytics.endpoints import condition, ids
from analytics.model import Column, Filters, Granularity, Table, Window
from rules import kpis as k
from store import analytics_message_rollups as rolled
from store import analytics_messages as store
from store import clickhouse_messages as ch_messages
from store.clickhouse import ClickHouse

HOLDOUT = "HOLDOUT"
OPENS = k.OPENS
OPT_OUTS = k.OPT_OUTS

# The measures each engagement table reads, in this order.
_ENGAGEMENT: list[k.Measure] = [
    k.SENT,
    k.DELIVERED,
    k.Measure(OPENS, k.Count.MESSAGE_HOURS),
    k.Measure(OPENS, k.Count.MESSAGES),
    k.EMAIL_DELIVERED,
    k.PUSH_DELIVERED,
    k.Measure(k.EMAIL_CLICKS, k.Count.MESSAGE_HOURS),
    k.HARD_BOUNCES,
    k.Measure(OPT_OUTS, k.Count.ENDPOINTS),
    k.Measure(k.SENT.events, k.Count.ENDPOINTS, outcomes_only=True),
]
_ENGAGEMENT_COLUMNS = [
    Column("Sent", "Long"),
    Column("Delivered", "Long"),
    Column("DeliveryRate"),
    Column("Opens", "Long"),
    Column("OpenRate"),
    Column("Clicks", "Long"),
    Column("Bounces", "Long"),
    Column("OptOuts", "Long"),
    Column("Endpoints", "Long"),
]


def _rate(value: int, per: int) -> float | None:
    return min(1.0, value / per) if per > 0 else None


def _engagement(counts: Sequence[int]) -> list[float | int | None]:
    sent, delivered, opens, opened, email_delivered, push_delivered, clicks, bounces, opt_outs, endpoints = counts
    return [
        sent,
        delivered,
        _rate(delivered, sent),
        opens,
        _rate(opened, email_delivered + push_delivered),
        clicks,
        bounces,
        opt_outs,
        endpoints,
    ]


async def _measured(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    scope: str,
    groups: Sequence[str],
    measures: Sequence[k.Measure],
    owner: dict[str, str] | None = None,
    *,
    rollup: tuple[str, str] | None = None,
    ch: ClickHouse | None = None,
) -> store.Grouped:
    """The measures per group: from the message rollups (`rollup`: their kind and axis) when no
    filter narrows the endpoints (the rollups keep no endpoint dimensions), else from the raw
    events of the filtered endpoints (store/analytics_messages.py); with ClickHouse, from its
    raw events whatever the filter (store/clickhouse_messages.py)."""
    if ch is not None:
        return await ch_messages.measured(
            ch,
            app_id=app_id,
            start=window.start,
            end=window.end,
            scope=scope,
            groups=groups,
            measures=measures,
            endpoints=await ids(conn, app_id, filters),
            owner=owner,
        )
    if rollup is not None and filters.empty:
        kind, axis = rollup
        return await rolled.measured(
            conn,
            app_id=app_id,
            first=window.first,
            last=window.last,
            kind=kind,
            axis=axis,
            measures=measures,
            g1=next(iter(owner.values())) if owner else None,
        )
    params: list[Any] = []
    endpoints = await condition(conn, app_id, filters, params, "endpoint_id")
    return await store.measured(
        conn,
        app_id=app_id,
        start=window.start,
        end=window.end,
        scope=scope,
        groups=groups,
        measures=measures,
        endpoints=endpoints,
        params=params,
        owner=owner,
    )


async def campaigns(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    campaign_id: str | None = None,
    view: str = "treatments",
    ch: ClickHouse | None = None,
) -> Table:
    """`treatments`: per campaign and treatment the engagement columns, and beside each
    campaign's treatments a HOLDOUT row (Endpoints: the endpoints its runs held out).
    `sessions-by-hour`: sessions opened from campaigns per UTC hour of day (00-23)."""
    owner = {"campaign_id": campaign_id} if campaign_id else None
    scope_suffix = "campaign" if campaign_id else "campaigns"
    if view == "sessions-by-hour":
        scope = "campaign_session" if campaign_id else "campaign_sessions"
        sessions = k.Measure(frozenset({"_session.start"}))
        counted = await _measured(
            conn,
            app_id,
            window,
            filters,
            scope,
            [store.HOUR_OF_DAY],
            [sessions],
            owner,
            rollup=("s", "hour_of_day"),
            ch=ch,
        )
        by_hour = {g[0]: c[0] for g, c in counted}
        table = Table(groups=[Column("HourOfDay")], values=[Column("Sessions", "Long")])
        for hour in range(24):
            table.add([f"{hour:02d}"], [by_hour.get(f"{hour:02d}", 0)])
        return table
    counted = await _measured(
        conn,
        app_id,
        window,
        filters,
        scope_suffix,
        [store.CAMPAIGN, store.TREATMENT],
        _ENGAGEMENT,
        owner,
        rollup=("c", "groups"),
        ch=ch,
    )
    held = await store.holdouts(conn, app_id=app_id, start=window.start, end=window.end, campaign_id=campaign_id)
    table = Table(groups=[Column("CampaignId"), Column("TreatmentId")], values=list(_ENGAGEMENT_COLUMNS))
    rows = {group: _engagement(counts) for group, counts in counted}
    for campaign, count in held.items():
        rows[(campaign, HOLDOUT)] = [None] * (len(_ENGAGEMENT_COLUMNS) - 1) + [count]
    for group in sorted(rows):
        table.add(group, rows[group])
    return table


async def journeys(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    journey_id: str | None = None,
    ch: ClickHouse | None = None,
) -> Table:
    """Per journey and activity the engagement columns (test participants' messages excluded)."""
    owner = {"journey_id": journey_id} if journey_id else None
    counted = await _measured(
        conn,
        app_id,
        window,
        filters,
        "journey" if journey_id else "journeys",
        [store.JOURNEY, store.JOURNEY_ACTIVITY],
        _ENGAGEMENT,
        owner,
        rollup=("j", "groups"),
        ch=ch,
    )
    table = Table(groups=[Column("JourneyId"), Column("JourneyActivityId")], values=list(_ENGAGEMENT_COLUMNS))
    for group, counts in counted:
        table.add(group, _engagement(counts))
    return table


EMAIL_REJECTED = k.Measure(frozenset({"_email.rejected"}), outcomes_only=True)
SMS_FAILED = k.Measure(frozenset({"_SMS.FAILURE"}))  # refused, and failures the carrier reported later
_TRANSACTIONAL = [
    *(k.EMAIL_SENT, k.EMAIL_DELIVERED, EMAIL_REJECTED, k.HARD_BOUNCES),
    *(k.SMS_SENT, k.SMS_DELIVERED, SMS_FAILED),
]


async def transactional(
    conn: AsyncConnection,
    app_id: str,
    window: Window,
    filters: Filters,
    *,
    view: str = "daily",
    ch: ClickHouse | None = None,
) -> Table:
    """`daily`: per day (or hour) EmailSent, EmailDelivered, EmailFailed (refused + hard
    bounces), SmsSent, SmsDelivered, SmsFailed; every day of the window has a row.
    `sms-by-country`: per country (from the phone number) SmsSent, SmsDelivered, SmsFailed."""
    if view == "sms-by-country":
        measures = [k.SMS_SENT, k.SMS_DELIVERED, SMS_FAILED]
        # The rollups keep the country of each number; raw events are grouped by number.
        counted = await _measured(
            conn, app_id, window, filters, "transactional", [store.ADDRESS], measures, rollup=("t", "country"), ch=ch
        )
        by_number = ch is not None or not filters.empty
        countries: dict[str, list[int]] = {}
        for (number,), counts in counted:
            country = k.country_of(number) if by_number else number
            if country is not None and any(counts):
                total = countries.setdefault(country, [0, 0, 0])
                for i, c in enumerate(counts):
                    total[i] += c
        table = Table(
            groups=[Column("Country")],
            values=[Column("SmsSent", "Long"), Column("SmsDelivered", "Long"), Column("SmsFailed", "Long")],
        )
        for country in sorted(countries):
            table.add([country], countries[country])
        return table
    hourly = window.granularity is Granularity.HOUR
    axis = store.HOUR if hourly else store.DATE
    counted = await _measured(
        conn,
        app_id,
        window,
        filters,
        "transactional",
        [axis],
        _TRANSACTIONAL,
        rollup=("t", "hour" if hourly else "date"),
        ch=ch,
    )
    by_time = {g[0]: c for g, c in counted}
    table = Table(
        groups=[Column("Hour" if hourly else "Date")],
        values=[
            Column(name, "Long")
            for name in ("EmailSent", "EmailDelivered", "EmailFailed", "SmsSent", "SmsDelivered", "SmsFailed")
        ],
    )
    for slot in _slots(window):
        e_sent, e_delivered, e_rejected, e_bounced, s_sent, s_delivered, s_failed = by_time.get(slot, [0] * 7)
        table.add([slot], [e_sent, e_delivered, e_rejected + e_bounced, s_sent, s_delivered, s_failed])
    return table


def _slots(window: Window) -> list[str]:
    """The window's days (YYYY-MM-DD) or hours (YYYY-MM-DDTHH:00Z), as the query labels them."""
    if window.granularity is not Granularity.HOUR:
        return [d.isoformat() for d in window.days]
    hours = int((window.end - window.start) / timedelta(hours=1))
    return [(window.start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:00Z") for h in range(hours)]
