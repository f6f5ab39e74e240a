"""The campaign workflow's activities: planning runs, and sending a run page by page.

Planning reads the campaign and its runs (store/) and asks rules/campaign_runs.py when the next
run is; a page is sent by sending/campaigns.py (members, treatments, targeting, the FILTER hook,
delivery through the one Deliverer, pacing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from channels.custom import CustomChannel
from channels.deliverer import Deliverer
from rules import schedules
from rules.campaign_runs import (
    RECURRING,
    activity_id,
    group_schedule,
    group_treatments,
    groups_ahead,
    next_run_time,
    runs_after,
)
from rules.instants import as_utc
from sending.campaigns import CampaignSender
from store import campaign_activities, segment_sql
from store import campaigns as campaigns_store
from workflows.campaign import (
    FINISH_RUN,
    LOCAL_WAVES,
    PLAN_RUN,
    SEND_PAGE,
    START_RUN,
    CampaignInput,
    FinishRequest,
    PageRequest,
    PageResult,
    RunPlan,
    RunRef,
    TreatmentCounts,
    Wave,
)


class CampaignActivities:
    def __init__(
        self, engine: AsyncEngine, deliverer: Deliverer, hooks: CustomChannel | None = None, *, concurrency: int = 8
    ) -> None:
        self._engine = engine
        # How pages are sent; event-triggered sends (activities/triggered.py) share it.
        self.sender = CampaignSender(engine, deliverer, hooks, concurrency=concurrency)

    # -- planning -----------------------------------------------------------------------------
    @activity.defn(name=PLAN_RUN)
    async def plan_run(self, request: CampaignInput) -> RunPlan:
        """The next run (or none), and the State that says so."""
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, request.app_id, request.campaign_id)
            if found is None:
                return RunPlan("done")
            definition = found["definition"]
            schedule = group_schedule(definition, request.treatment)
            if schedule is None:  # the treatment no longer has a schedule of its own
                return RunPlan("done")
            frequency = schedule.get("Frequency", "ONCE")
            if frequency not in RECURRING and frequency != "ONCE":
                return RunPlan("done")  # EVENT campaigns are driven by PutEvents
            at = await self._next_run_time(conn, request, schedule)
            if at is None:
                # A local-time run still rolling, or another schedule group with runs ahead,
                # completes the campaign later.
                now = as_utc(request.now) if request.now else datetime.now(UTC)
                running = await campaign_activities.running(conn, request.app_id, request.campaign_id)
                if not running and not groups_ahead(definition, request.treatment, now):
                    await campaigns_store.set_state(conn, request.app_id, request.campaign_id, "COMPLETED")
                return RunPlan("done")
            state = "SCHEDULED" if request.run_number == 0 else "PENDING_NEXT_RUN"
            if found["state"] not in ("DELETED", "INVALID"):
                await campaigns_store.set_state(conn, request.app_id, request.campaign_id, state)
            return RunPlan(
                "run",
                at.isoformat(),
                found["version"],
                bool(definition.get("IsPaused")),
                bool(schedule.get("IsLocalTime")),
                definition.get("Priority"),
            )

    async def _next_run_time(
        self, conn: AsyncConnection, request: CampaignInput, schedule: dict[str, Any]
    ) -> datetime | None:
        created = await campaigns_store.created_at(conn, request.app_id, request.campaign_id)
        return next_run_time(
            schedule,
            created=(created or datetime.now(UTC)).astimezone(UTC),
            last_run_at=request.last_run_at,
            now=request.now,
            run_number=request.run_number,
        )

    # -- a run ----------------------------------------------------------------------------------
    @activity.defn(name=START_RUN)
    async def start_run(self, run: RunRef) -> None:
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:
                return
            await campaign_activities.start(
                conn,
                app_id=run.app_id,
                campaign_id=run.campaign_id,
                run_number=run.run_number,
                version=run.version,
                scheduled_start=as_utc(run.scheduled_start),
                ids={
                    t: activity_id(run.campaign_id, run.run_number, t)
                    for t in group_treatments(found["definition"], run.treatment)
                },
            )
            await campaigns_store.set_state(conn, run.app_id, run.campaign_id, "EXECUTING")

    @activity.defn(name=LOCAL_WAVES)
    async def local_waves(self, run: RunRef) -> list[Wave]:
        """A local-time run's waves: the segment's time zones grouped by when their clocks reach
        the run's wall clock (in Schedule.Timezone). Endpoints without a valid zone are in no
        wave: Pinpoint does not message them."""
        async with self._engine.connect() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            if found is None:
                return []
            definition = found["definition"]
            segment = await segment_sql.load_definition(
                conn, run.app_id, definition["SegmentId"], definition.get("SegmentVersion")
            )
            zones = await segment_sql.time_zones(conn, run.app_id, segment, now=as_utc(run.scheduled_start))
        wall = schedules.run_wall_clock(definition.get("Schedule") or {}, as_utc(run.scheduled_start))
        return [Wave(at.isoformat(), names) for at, names in schedules.timezone_waves(wall, zones)]

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, request: FinishRequest) -> None:
        run = request.run
        async with self._engine.begin() as conn:
            found = await campaigns_store.definition(conn, run.app_id, run.campaign_id, run.version)
            ids = group_treatments(found["definition"], run.treatment) if found else list(request.counts)
            for t in ids:
                counts = request.counts.get(t, TreatmentCounts())
                await campaign_activities.finish(
                    conn,
                    app_id=run.app_id,
                    campaign_id=run.campaign_id,
                    activity_id=activity_id(run.campaign_id, run.run_number, t),
                    total=counts.total,
                    successful=counts.successful,
                    metrics=counts.metrics,
                    timezones=request.timezones,
                )
            if found is not None:
                schedule = group_schedule(found["definition"], run.treatment) or {}
                more = runs_after(schedule, as_utc(run.scheduled_start))
                await campaigns_store.set_state(
                    conn, run.app_id, run.campaign_id, "PENDING_NEXT_RUN" if more else "COMPLETED"
                )

    # -- sending ----------------------------------------------------------------------------------
    @activity.defn(name=SEND_PAGE)
    async def send_page(self, request: PageRequest) -> PageResult:
        return await self.sender.send_page(request, attempt=activity.info().attempt)
