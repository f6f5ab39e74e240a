"""Message activities (EMAIL, SMS, PUSH, CUSTOM): the message goes out on arrival through the
sending pipeline (sending/: content, eligibility, recipient, delivery), under the key
`{participant workflow id}/{activity}/{endpoint}` in the delivery log, so one message goes per
participant, activity and endpoint whatever retries or restarts happen.

What is the journey's own: which endpoints an activity's channel takes, quiet time with open
hours and closed days in the endpoint's time zone (WaitForQuietTime holds the participant until
the next allowed moment), the participant's caps counted from its steps, test runs that record
instead of sending, and MessagesPerSecond per worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys.step import Step
from journeys.times import endpoint_zone
from rules import eligibility
from rules import journey_timing as timing
from rules.engagement import PUSH_CHANNELS
from sending.content import message_contents
from sending.recipients import endpoint_recipient, idempotency_key
from store import apps as apps_store
from store import journey_steps as steps_store
from workflows.journey import StepResult
from workflows.policy import LAST_SEND_ATTEMPT
from workflows.shared import SUCCESSFUL, DeliveryBatch, Recipient

# The channel each message activity sends on, by the endpoint's ChannelType (CUSTOM: below).
_FITS: dict[str, Callable[[str], bool]] = {
    "EMAIL": lambda c: c == "EMAIL",
    "SMS": lambda c: c == "SMS",
    "PUSH": lambda c: c in PUSH_CHANNELS,
}
KINDS = (*_FITS, "CUSTOM")
# The TemplateConfiguration member that names a message activity's TemplateName.
_TEMPLATES = {"EMAIL": "EmailTemplate", "SMS": "SMSTemplate", "PUSH": "PushTemplate"}
# Eligibility's reasons in a journey step's words (the outcomes execution metrics count).
_OUTCOMES = {
    eligibility.OPT_OUT: "OPT_OUT",
    eligibility.INACTIVE: "ENDPOINT_INACTIVE",
    eligibility.MISSING_ADDRESS: "MISSING_ADDRESS",
}


async def message(step: Step) -> StepResult:
    nxt = step.body.get("NextActivity")
    settings = await step.ctx.recent(("settings", step.who.app_id), lambda c: _settings(step, c))
    async with step.ctx.engine.connect() as conn:
        ready = await _prepare(step, conn, settings)
    if isinstance(ready, StepResult):
        return ready
    if isinstance(ready, str):
        return await step.done(ready, nxt)
    reachable = ready
    channels = sorted({_channel(step, r) for r in reachable})
    key = ("contents", step.who.app_id, step.who.journey_id, step.request.activity_id, *channels)
    contents = await step.ctx.recent(key, lambda c: _contents(step, c, channels))
    who = step.who
    if who.test is not None and not who.test.deliver:
        first = reachable[0]
        detail = {
            "Channel": _channel(step, first),
            "Address": first["address"],
            "Template": step.body.get("TemplateName"),
        }
        return await step.done("RECORDED", nxt, detail=detail)
    limits = step.definition.get("Limits") or {}
    await step.ctx.pace(who.journey_id, limits.get("MessagesPerSecond"))
    statuses = await _send(step, reachable, contents)
    outcome = SUCCESSFUL if SUCCESSFUL in statuses else (statuses[0] if statuses else "PERMANENT_FAILURE")
    return await step.done(outcome, nxt, detail={"Sent": len(statuses)})


async def _prepare(
    step: Step, conn: AsyncConnection, settings: dict[str, Any]
) -> str | StepResult | list[dict[str, Any]]:
    """Which of the participant's endpoints get the message; or why none does (an outcome),
    or a hold until sending is allowed. Reads only: the caller writes the step once this
    connection is back in the pool."""
    rows = await step.endpoints(conn)
    candidates = [r for r in rows if _fits(step, r)]
    if not candidates:
        return "UNSUPPORTED_CHANNEL"
    reachable, why = eligibility.reachable(candidates)
    if not reachable:
        assert why is not None
        return _OUTCOMES[why]
    blocked, until = _window(step, reachable[0], settings)
    if until is not None:  # WaitForQuietTime: come back when sending is allowed
        return StepResult(step.body.get("NextActivity"), hold_until=until.isoformat(), evaluate=True)
    if blocked is not None:
        return blocked
    if step.who.test is None and await _capped(step, conn, settings):
        return "ENDPOINT_LIMIT_EXCEEDED"
    return reachable


async def _settings(step: Step, conn: AsyncConnection) -> dict[str, Any]:
    app = await apps_store.get(conn, step.who.app_id)
    settings: dict[str, Any] = app.get("settings") or {}
    return settings


def _channel(step: Step, row: dict[str, Any]) -> str:
    return "CUSTOM" if step.kind == "CUSTOM" else str(row["channel_type"])


def _fits(step: Step, row: dict[str, Any]) -> bool:
    channel = row["channel_type"] or ""
    if step.kind == "CUSTOM":
        types = step.body.get("EndpointTypes")
        return not types or channel in types
    return _FITS[step.kind](channel)


def _window(step: Step, row: dict[str, Any], settings: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """Quiet time, open hours and closed days: (why the message may not go now, when it
    may: set only with WaitForQuietTime); (None, None) when it may go now."""
    definition = step.definition
    channel = "PUSH" if step.kind == "PUSH" else step.kind
    scheduled = bool(definition.get("SendingSchedule"))
    quiet = definition.get("QuietTime") or settings.get("QuietTime")
    open_hours = (definition.get("OpenHours") or {}).get(channel) if scheduled else None
    closed = (definition.get("ClosedDays") or {}).get(channel) if scheduled else None
    zone = endpoint_zone(row, definition)
    blocked = timing.sending_blocked(step.now, zone, quiet=quiet, open_hours=open_hours, closed_days=closed)
    if blocked is None or step.who.test is not None:  # test participants are never held back
        return None, None
    if definition.get("WaitForQuietTime"):
        try:
            until = timing.next_send_time(step.now, zone, quiet=quiet, open_hours=open_hours, closed_days=closed)
        except ValueError:  # the rules leave no time to send at all: the message is skipped
            until = None
        if until is not None and until > step.now:
            return blocked, until
    return blocked, None


async def _capped(step: Step, conn: AsyncConnection, settings: dict[str, Any]) -> bool:
    """DailyCap and TotalCap (this journey) and TimeframeCap (every journey) per participant,
    counted from the steps it took; the project's JourneyLimits are the defaults."""
    limits = {**(settings.get("JourneyLimits") or {}), **(step.definition.get("Limits") or {})}
    daily, total = int(limits.get("DailyCap") or 0), int(limits.get("TotalCap") or 0)
    frame = limits.get("TimeframeCap") or {}
    frame_cap, frame_days = int(frame.get("Cap") or 0), int(frame.get("Days") or 0)
    if not (daily or total or (frame_cap and frame_days)):
        return False
    today, ever, in_frame = await steps_store.sent_counts(
        conn,
        step.who.app_id,
        step.who.journey_id,
        step.who.participant,
        day_from=step.now - timedelta(days=1),
        frame_from=step.now - timedelta(days=frame_days),
    )
    return bool(
        (daily and today >= daily) or (total and ever >= total) or (frame_cap and frame_days and in_frame >= frame_cap)
    )


async def _contents(step: Step, conn: AsyncConnection, channels: list[str]) -> dict[str, dict[str, Any] | None]:
    """The activity's message on each channel, through the campaigns' content stage: its
    MessageConfig in a campaign's shape, its TemplateName as a TemplateConfiguration."""
    name = step.body.get("TemplateName")
    templates: dict[str, Any] = {}
    if name and step.kind in _TEMPLATES:
        templates[_TEMPLATES[step.kind]] = {"Name": name, "Version": step.body.get("TemplateVersion")}
    return await message_contents(
        conn,
        step.who.app_id,
        channels,
        config=_campaign_config(step.kind, step.body.get("MessageConfig") or {}),
        templates=templates,
        custom_uri=step.body.get("DeliveryUri"),
    )


async def _send(step: Step, rows: list[dict[str, Any]], contents: dict[str, dict[str, Any] | None]) -> list[str]:
    """Deliver to `rows`, a batch per channel; the delivery statuses, those of endpoints whose
    channel has no content first (PERMANENT_FAILURE), then each channel's in order."""
    who = step.who
    attributes = {
        "journey_id": who.journey_id,
        "journey_activity_id": step.request.activity_id,
        "journey_run_id": who.run_id or "",
        "journey_entry": who.entry_key,
    }
    if who.test is not None:
        attributes["journey_test_run_id"] = who.test.test_run_id
    by_channel: dict[str, list[Recipient]] = {}
    statuses: list[str] = []
    for row in rows:
        channel = _channel(step, row)
        if contents.get(channel) is None:
            statuses.append("PERMANENT_FAILURE")  # nothing to send on that channel
            continue
        key = idempotency_key(step.workflow_id, step.request.activity_id, row["id"])
        by_channel.setdefault(channel, []).append(endpoint_recipient(key, row))
    batches: list[tuple[str, DeliveryBatch]] = []
    for channel, recipients in by_channel.items():
        content = contents[channel]
        assert content is not None
        batch = DeliveryBatch(
            app_id=who.app_id,
            channel=channel,
            source="journey" if who.test is None else "journey-test",
            source_id=who.journey_id,
            content=content,
            recipients=recipients,
            max_attempts=LAST_SEND_ATTEMPT,
            attributes=attributes,
        )
        batches.append((channel, batch))
    # With other participants' messages of this activity (journeys/sends.py); every batch is
    # through before an error is raised, as deliver_all does.
    sent = await asyncio.gather(
        *(step.ctx.sends.deliver(b, attempt=step.attempt) for _, b in batches), return_exceptions=True
    )
    for outcome in sent:
        if isinstance(outcome, BaseException):
            raise outcome
    for results in sent:  # channel by channel, as the batches were made
        assert not isinstance(results, BaseException)
        statuses.extend(r.delivery_status for r in results)
    return statuses


def _campaign_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A journey activity's MessageConfig in the shape a campaign's MessageConfiguration has,
    so that one content builder serves both."""
    if kind == "EMAIL":
        return {"EmailMessage": {"FromAddress": config["FromAddress"]}} if config.get("FromAddress") else {}
    if kind == "SMS":
        keep = ("MessageType", "OriginationNumber", "SenderId")
        return {"SMSMessage": {k: config[k] for k in keep if config.get(k)}}
    if kind == "PUSH":
        ttl = config.get("TimeToLive")
        return {"DefaultMessage": {"TimeToLive": int(ttl)}} if ttl and str(ttl).isdigit() else {}
    if kind == "CUSTOM":
        return {"CustomMessage": {"Data": config.get("Data")}}
    return {}
