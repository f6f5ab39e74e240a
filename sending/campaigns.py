"""Sending a campaign: one page of a run end to end, and the steps event-triggered sends
(sending/triggered.py) share with it — treatments, targeting history, the FILTER hook and the
delivery through the one Deliverer (channels/deliverer.py), in parallel sub-batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from channels.custom import CustomChannel
from channels.deliverer import Deliverer
from rules.campaign_runs import activity_id, messages_per_second
from rules.instants import as_utc
from rules.settings import effective_hook
from sending.campaign_pages import PAGE_SIZE, PagePlan
from sending.fanout import SEND_CONCURRENCY, Lanes, deliver_all, pace
from sending.hooks import filter_through_hook
from sending.treatments import Treatment, campaign_treatments
from store import apps as apps_store
from store import campaign_targets, segment_sql
from store import campaigns as campaigns_store
from workflows.campaign import PageRequest, PageResult, RunRef, TreatmentCounts
from workflows.shared import SUCCESSFUL, DeliveryBatch, DeliveryResult

# The activity Ids a run's targeting history leaves out: its own, whichever of the five
# treatments (the default and at most four more) it sends.
_RUN_TREATMENTS = ("0", "1", "2", "3", "4")
# One send activity walks this many pages (while it has taken less than CALL_SECONDS): fewer
# activities, and the next page prepared while one sends. A retry repeats at most this much.
PAGES_PER_CALL = 10
CALL_SECONDS = 60.0
PACED_PAGE_SECONDS = 30.0  # a page under MessagesPerSecond holds at most this many seconds of sends


class CampaignSender:
    """What a campaign send needs: the database, the Deliverer and the hooks' caller (web URLs
    and Lambda functions; None where the worker has no custom channel)."""

    def __init__(
        self,
        engine: AsyncEngine,
        deliverer: Deliverer,
        hooks: CustomChannel | None = None,
        *,
        concurrency: int = SEND_CONCURRENCY,
    ) -> None:
        self.engine = engine
        self.deliverer = deliverer
        self.hooks = hooks
        self.concurrency = concurrency  # provider connections a page send keeps busy

    async def treatments(
        self, conn: AsyncConnection, app_id: str, definition: dict[str, Any], app_settings: dict[str, Any]
    ) -> list[Treatment]:
        return await campaign_treatments(conn, app_id, definition, app_settings)

    async def history(
        self, conn: AsyncConnection, run: RunRef, endpoint_ids: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        """(targeted over the campaign's life, targeted in the last 24 h) per endpoint, this run
        excluded (a retried page must not count its own first attempt)."""
        return await campaign_targets.history(
            conn,
            app_id=run.app_id,
            campaign_id=run.campaign_id,
            endpoint_ids=endpoint_ids,
            excluding=[activity_id(run.campaign_id, run.run_number, t) for t in _RUN_TREATMENTS],
            # The run's own time, not the clock: runs exactly 24 h apart do not count each other.
            since=as_utc(run.scheduled_start) - timedelta(days=1),
        )

    async def filter(
        self,
        definition: dict[str, Any],
        app_settings: dict[str, Any],
        plans: list[PagePlan],
        setups: list[Treatment],
        *,
        attempt: int,
    ) -> None:
        """The campaign's FILTER hook (its own or the project's default), if it has one, judges
        the plans' recipients (sending/hooks.py)."""
        hook = effective_hook(definition.get("Hook"), app_settings.get("CampaignHook"))
        if hook is not None and hook[1] == "FILTER" and self.hooks is not None:
            await filter_through_hook(self.hooks, self.deliverer, hook[0], plans, setups, attempt=attempt)

    async def deliver(
        self, batches: list[tuple[str, DeliveryBatch]], *, attempt: int
    ) -> list[tuple[str, DeliveryResult]]:
        """The batches through the Deliverer (sending/fanout.py: raises for a retry when
        messages met transient trouble), each result with its treatment."""
        return await deliver_all(self.deliverer, batches, attempt=attempt)

    async def send_page(self, request: PageRequest, *, attempt: int) -> PageResult:
        """Pages of a run from `request.after` on, up to PAGES_PER_CALL of them or
        CALL_SECONDS: the next page is read and planned while this one sends, and its batches
        start on the provider connections this one frees (sending/fanout.py Lanes). Each page:
        read the members and the campaign as they are now, plan, let the hook filter, record
        the targeting, send and count; paced to MessagesPerSecond over the whole call. Returns
        where the next call starts. A retried call sends its pages again under the same
        idempotency keys: what went out is found in the delivery log and not sent twice."""
        started = time.monotonic()
        lanes = Lanes(self.deliverer, attempt=attempt, lanes=self.concurrency)
        plans: list[PagePlan] = []
        offered, pages, next_after, mps = 0, 0, request.after, None
        try:
            page = await self._prepare(request, request.after, attempt)
            while page is not None:
                pages += 1
                plans.append(page.plan)
                next_after = page.next_after
                # MessagesPerSecond: a page is handed over once those before it had their time.
                mps = page.messages_per_second
                await pace(offered, mps, started)
                offered += page.plan.sent
                more = next_after is not None and pages < PAGES_PER_CALL
                # Within the call's budget, counting the time MessagesPerSecond will take.
                paced = offered / mps if mps else 0.0
                more = more and max(time.monotonic() - started, paced) < CALL_SECONDS
                ahead = asyncio.create_task(self._prepare(request, next_after, attempt)) if more else None
                try:
                    for treatment, batch in page.plan.batches:
                        await lanes.put(batch, partial(_count, page.plan, treatment))
                    if ahead is None or lanes.throttled:
                        break
                    page = await ahead
                finally:
                    if ahead is not None and not ahead.done():
                        ahead.cancel()
                        await asyncio.gather(ahead, return_exceptions=True)
            else:
                next_after = None  # the campaign was deleted while running: stop here
            await lanes.drain()
        except BaseException:
            await lanes.abort()
            raise
        await pace(offered, mps, started)
        totals: dict[str, TreatmentCounts] = {}
        for plan in plans:
            for treatment, counts in plan.by_treatment.items():
                totals.setdefault(treatment, TreatmentCounts()).add(counts)
        return PageResult(next_after, totals)

    async def _prepare(self, request: PageRequest, after: str | None, attempt: int) -> _Page | None:
        """A page's members read and planned, the hook asked, the targeting recorded: what is
        left is sending it. None when the campaign is gone."""
        run = request.run
        async with self.engine.connect() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:
                return None
            definition = found["definition"]
            app_settings = (await apps_store.get(conn, run.app_id)).get("settings") or {}
            segment = await segment_sql.load_definition(
                conn, run.app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            # A slow MessagesPerSecond gets smaller pages: each is handed over at once and the
            # next waits for it, within the activity's timeouts.
            mps = messages_per_second(definition, app_settings)
            limit = min(PAGE_SIZE, max(1, int(mps * PACED_PAGE_SECONDS))) if mps else PAGE_SIZE
            rows = await segment_sql.resolve_rows(
                conn,
                run.app_id,
                segment,
                after=after,
                limit=limit,
                now=as_utc(request.now),
                zones=request.zones,
            )
            setups = await self.treatments(conn, run.app_id, definition, app_settings)
            history = await self.history(conn, run, [r["id"] for r in rows])
        plan = PagePlan(run, definition, app_settings, setups, history, as_utc(request.now))
        plan.lanes = self.concurrency
        for row in rows:
            plan.place(dict(row))
        await self.filter(definition, app_settings, [plan], setups, attempt=attempt)
        if plan.targeted:
            async with self.engine.begin() as conn:
                await campaign_targets.record(conn, plan.targeted)
        next_after = rows[-1]["id"] if len(rows) == limit else None
        return _Page(plan, next_after, mps)


def _count(plan: PagePlan, treatment: str, results: list[DeliveryResult]) -> None:
    for result in results:
        if result.delivery_status == SUCCESSFUL:
            plan.counts(treatment).successful += 1
        else:
            # Every targeted message that did not go out is counted by its outcome, so the
            # run's ExecutionMetrics account for all of TotalEndpointCount: UNKNOWN_FAILURE is
            # a message a killed worker was handing over (it may or may not have arrived).
            plan.count_failure(treatment, result.delivery_status)


@dataclass
class _Page:
    plan: PagePlan
    next_after: str | None  # None: the run's last page
    messages_per_second: int | None
