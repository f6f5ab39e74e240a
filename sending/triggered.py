"""A batch of events that matched one event-triggered campaign, sent as one campaign page whose
members are the endpoints that reported them.

Each event is its own trigger: its own targeting record (Limits count it), its own idempotency
key (`campaign-{app}-{campaign}/{trigger}/{endpoint}`, the trigger a hash of endpoint and event),
and one row in `trigger_outcomes`: claimed (PENDING, owned by the workflow that got it first),
then its outcome — SENT, a filter's metric, or MAXIMUM_DELAY_EXCEEDED when the message could not
go out within the allowed delay. A trigger handed over twice at once is acted on by its owner
only, and only an outcome recorded for the first time is counted in the campaign's
ExecutionMetrics, so neither a second hand-over nor a retry after a crash sends or counts twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.ttl import TTLCache
from rules.campaign_runs import DEFAULT_TREATMENT, activity_id, allocation_of, treatment_ids, trigger_key
from rules.instants import as_utc
from sending.campaign_pages import PRODUCED, SUB_BATCH, PagePlan
from sending.campaigns import CampaignSender
from sending.fanout import SEND_CONCURRENCY
from sending.treatments import Treatment
from store import apps as apps_store
from store import campaign_activities, campaign_targets, outbox, segment_sql
from store import campaigns as campaigns_store
from store import endpoints as endpoints_store
from workflows.campaign import RunRef, TriggerBatch, TriggeredEvent
from workflows.shared import SUCCESSFUL, DeliveryBatch, DeliveryResult

EXPIRED = "MAXIMUM_DELAY_EXCEEDED"
SETUP_SECONDS = 1.0  # an event-triggered campaign's change takes effect within this

Plans = list[tuple[TriggeredEvent, PagePlan]]
Outcomes = dict[str, tuple[TriggeredEvent, str]]  # trigger key -> (its event, how it ended)


def _key(event: TriggeredEvent) -> str:
    return trigger_key(event.endpoint_id, event.event_id)


@dataclass
class _Setup:
    found: dict[str, Any]
    segment: Any
    treatments: list[Treatment]
    app: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.app.get("settings") or {}
        return settings


class TriggerSender:
    """Sends batches of event triggers with a CampaignSender's steps."""

    def __init__(self, sender: CampaignSender) -> None:
        self._sender = sender
        # What every event of a campaign needs (definition, segment, treatments, project), kept
        # briefly: under a stream of events the same few campaigns are read again and again.
        self._setups: TTLCache[tuple[str, str], _Setup | None] = TTLCache(SETUP_SECONDS)

    async def _setup(self, conn: AsyncConnection, app_id: str, campaign_id: str) -> _Setup | None:
        async def load() -> _Setup | None:
            found = await campaigns_store.definition(conn, app_id, campaign_id)
            if found is None or found["state"] in ("DELETED", "COMPLETED"):
                return None
            definition = found["definition"]
            segment = await segment_sql.load_definition(
                conn, app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            app = await apps_store.get(conn, app_id)
            treatments = await self._sender.treatments(conn, app_id, definition, app.get("settings") or {})
            return _Setup(found, segment, treatments, app)

        return await self._setups.get_or_load((app_id, campaign_id), load)

    async def send(self, batch: TriggerBatch, *, owner: str, attempt: int) -> dict[str, int]:
        """How many triggers of the batch ended how (SENT, or why not). `owner`: the workflow
        that claims the triggers; `attempt`: the activity's."""
        now = datetime.now(UTC)
        max_delay = timedelta(seconds=batch.max_delay_seconds)
        outcomes: Outcomes = {}
        fresh: list[TriggeredEvent] = []
        # The same event twice in one batch (a retried PutEvents): one trigger. And a trigger
        # that another workflow claimed first (handed over twice at once) is left to it.
        events = list({_key(e): e for e in batch.events}.values())
        async with self._sender.engine.begin() as conn:
            mine = await outbox.claim_triggers(
                conn, batch.app_id, batch.campaign_id, owner, [(_key(e), e.endpoint_id) for e in events]
            )
        for event in events:
            if _key(event) not in mine:
                continue
            if batch.expire or now - as_utc(event.event_time) > max_delay:
                outcomes[_key(event)] = (event, EXPIRED)
            else:
                fresh.append(event)
        setup, plans = await self._plan(batch, fresh, now, outcomes) if fresh else (None, [])
        if setup is not None and plans:
            # The campaign's FILTER hook judges the batch's endpoints in one call per treatment.
            definition, treatments = setup.found["definition"], setup.treatments
            await self._sender.filter(definition, setup.settings, [p for _, p in plans], treatments, attempt=attempt)
        results = await self._deliver(plans, attempt)
        for event, plan in plans:
            key = _key(event)
            sent = results.get(key)
            if sent is not None:
                outcome = "SENT" if sent.delivery_status == SUCCESSFUL else sent.delivery_status
            else:
                reasons = [k for c in plan.by_treatment.values() for k in c.metrics if k != PRODUCED]
                outcome = reasons[0] if reasons else "NOT_SENT"
            outcomes[key] = (event, outcome)
        await self._count(batch, owner, setup, plans, outcomes, results)
        return dict(Counter(outcome for _, outcome in outcomes.values()))

    async def _plan(
        self, batch: TriggerBatch, fresh: list[TriggeredEvent], now: datetime, outcomes: Outcomes
    ) -> tuple[_Setup | None, Plans]:
        """One plan per fresh trigger (its endpoint placed as on a page); the triggers that
        reach no plan get their outcome in `outcomes`."""
        async with self._sender.engine.connect() as conn:
            setup = await self._setup(conn, batch.app_id, batch.campaign_id)
            if setup is None or setup.found["definition"].get("IsPaused"):
                reason = "CAMPAIGN_GONE" if setup is None else "PAUSED"
                outcomes.update((_key(e), (e, reason)) for e in fresh)
                return setup, []
            ids = sorted({e.endpoint_id for e in fresh})
            members = await segment_sql.members(conn, batch.app_id, setup.segment, ids, now=now)
            rows = {r["id"]: r for r in await endpoints_store.get_many(conn, batch.app_id, ids)}
            run = RunRef(batch.app_id, batch.campaign_id, 0, setup.found["version"], fresh[0].event_time)
            history = await self._sender.history(conn, run, ids)
        definition = setup.found["definition"]
        allocation = allocation_of(definition)
        plans: Plans = []
        for event in fresh:
            if event.endpoint_id not in members or event.endpoint_id not in rows:
                outcomes[_key(event)] = (event, "FILTERED_OUT_BY_SEGMENT")
                continue
            event_run = RunRef(batch.app_id, batch.campaign_id, 0, setup.found["version"], event.event_time)
            plan = PagePlan(
                event_run, definition, setup.settings, setup.treatments, history, now, _key(event), allocation
            )
            plan.place(dict(rows[event.endpoint_id]))
            if plan.targeted:
                # A second event of the same endpoint in this batch sees the first one's
                # targeting (Daily and Total limits).
                life, day = history.get(event.endpoint_id, (0, 0))
                history[event.endpoint_id] = (life + 1, day + 1)
            plans.append((event, plan))
        return setup, plans

    async def _deliver(self, plans: Plans, attempt: int) -> dict[str, DeliveryResult]:
        """Every plan's messages in sub-batches per (treatment, channel) through the one delivery
        path; the results by trigger key."""
        merged: dict[tuple[str, str], DeliveryBatch] = {}
        owner: dict[str, str] = {}  # idempotency key -> trigger key
        for event, plan in plans:
            for treatment, b in plan.batches:
                into = merged.get((treatment, b.channel))
                if into is None:
                    merged[(treatment, b.channel)] = into = DeliveryBatch(**{**b.__dict__, "recipients": []})
                into.recipients.extend(b.recipients)
                owner.update((r.key, _key(event)) for r in b.recipients)
        # Spread over the sends in flight a page may have, so the last event of a batch does not
        # wait for all the others on one connection.
        size = min(SUB_BATCH, max(10, -(-sum(len(b.recipients) for b in merged.values()) // SEND_CONCURRENCY)))
        batches = [
            (treatment, DeliveryBatch(**{**b.__dict__, "recipients": b.recipients[i : i + size]}))
            for (treatment, _), b in merged.items()
            for i in range(0, len(b.recipients), size)
        ]
        if not batches:
            return {}
        return {owner[r.key]: r for _, r in await self._sender.deliver(batches, attempt=attempt)}

    async def _count(
        self,
        batch: TriggerBatch,
        owner: str,
        setup: _Setup | None,
        plans: Plans,
        outcomes: Outcomes,
        results: dict[str, DeliveryResult],
    ) -> None:
        """Targeting, outcomes and the campaign's counts in one transaction, each trigger once."""
        async with self._sender.engine.begin() as conn:
            if setup is None:
                found = await campaigns_store.definition(conn, batch.app_id, batch.campaign_id)
                if found is None:
                    return  # the campaign is gone: nothing to count against
                definition, version = found["definition"], found["version"]
            else:
                definition, version = setup.found["definition"], setup.found["version"]
            first = await outbox.finish_triggers(
                conn, batch.app_id, batch.campaign_id, owner, [(key, outcome) for key, (_, outcome) in outcomes.items()]
            )
            if not first:
                return
            # An event-triggered campaign reports its sends as one running activity per treatment.
            await campaign_activities.start(
                conn,
                app_id=batch.app_id,
                campaign_id=batch.campaign_id,
                run_number=0,
                version=version,
                scheduled_start=as_utc(next(iter(outcomes.values()))[0].event_time),
                ids={t: activity_id(batch.campaign_id, 0, t) for t in treatment_ids(definition)},
            )
            await campaign_targets.record(
                conn, [row for event, plan in plans if _key(event) in first for row in plan.targeted]
            )
            for treatment, (total, ok, metrics) in _totals(plans, outcomes, results, first).items():
                await campaign_activities.add_counts(
                    conn,
                    batch.app_id,
                    batch.campaign_id,
                    activity_id(batch.campaign_id, 0, treatment),
                    total=total,
                    successful=ok,
                    metrics=dict(metrics),
                )


def _totals(
    plans: Plans, outcomes: Outcomes, results: dict[str, DeliveryResult], first: set[str]
) -> dict[str, tuple[int, int, Counter[str]]]:
    """(targeted, successful, metrics) per treatment of the triggers whose outcome was recorded
    for the first time (`first`)."""
    totals: dict[str, tuple[int, int, Counter[str]]] = {}
    for event, plan in plans:
        key = _key(event)
        if key not in first:
            continue
        sent = results.get(key)
        for treatment, counts in plan.by_treatment.items():
            total, ok, metrics = totals.setdefault(treatment, (0, 0, Counter()))
            metrics.update(counts.metrics)
            success = int(sent is not None and sent.delivery_status == SUCCESSFUL)
            if sent is not None and sent.delivery_status != SUCCESSFUL:
                metrics[sent.delivery_status] += 1
            totals[treatment] = (total + counts.total, ok + success, metrics)
    # Triggers that never reached a plan (expired, paused, out of the segment) count against the
    # default treatment: they were never assigned one.
    planned = {_key(e) for e, _ in plans}
    unplanned = Counter(outcome for key, (_, outcome) in outcomes.items() if key in first and key not in planned)
    if unplanned:
        _, _, metrics = totals.setdefault(DEFAULT_TREATMENT, (0, 0, Counter()))
        metrics.update(unplanned)
    return totals
