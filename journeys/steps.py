"""One participant at one journey activity: the `journey_step` activity's work.

A step reads the journey and the participant's endpoints as they are at that moment (PINPOINT.md
§4.5: conditions use the latest data), does the activity's work, writes one `journey_steps` row
(what execution metrics and test-run traces read) and answers where to go next. Waits, random
splits and holdouts are here; messages and splits have modules of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys import messages, splits
from journeys.context import StepContext
from journeys.times import instant
from rules import journey_timing as timing
from rules.journey_graph import activity_type
from rules.participants import participant_workflow_id
from store import endpoints as endpoints_store
from store import journey_events
from store import journey_steps as steps_store
from store import journeys as journeys_store
from workflows.journey import CANCELLED, DELETED, PAUSED, ParticipantInput, StepRequest, StepResult

SPLITS = ("ConditionalSplit", "MultiCondition")


async def take(ctx: StepContext, request: StepRequest, *, attempt: int) -> StepResult:
    """The step `request` asks for, on the journey as it is now (read at most once a second);
    `attempt`: the activity's attempt, which decides whether transient send trouble is raised.
    A journey paused, cancelled or deleted stops the participant instead."""
    who = request.who
    key = ("journey", who.app_id, who.journey_id)
    journey = await ctx.recent(key, lambda c: journeys_store.find(c, who.app_id, who.journey_id))
    if journey is not None and journey["updated_at"].isoformat() < request.state_at:
        # The participant has heard of a newer state than the one kept: read it again.
        ctx.forget(key)
        journey = await ctx.recent(key, lambda c: journeys_store.find(c, who.app_id, who.journey_id))
    if journey is None:
        return StepResult(None, stop=DELETED, state_at="9999")  # its rows are gone: nothing to wait for
    state, state_at = journey["state"], journey["updated_at"].isoformat()
    if state in (DELETED, CANCELLED) or (state == PAUSED and who.test is None):
        return StepResult(None, stop=state, state_at=state_at)
    activities = journey["definition"].get("Activities") or {}
    found = activities.get(request.activity_id)
    if found is None:
        return StepResult(None, "MISSING_ACTIVITY")
    return await Step(ctx, journey, request, found, attempt=attempt).run()


class Step:
    """One participant at one journey activity."""

    def __init__(
        self,
        ctx: StepContext,
        journey: dict[str, Any],
        request: StepRequest,
        activity: dict[str, Any],
        *,
        attempt: int = 1,
    ) -> None:
        self.ctx = ctx
        self.journey = journey
        self.definition: dict[str, Any] = journey["definition"]
        self.who: ParticipantInput = request.who
        self.request = request
        self.activity = activity
        self.kind = activity_type(activity)
        self.body: dict[str, Any] = activity[self.kind]
        self.now = instant(request.now)
        self.attempt = attempt
        who = self.who
        self.workflow_id = participant_workflow_id(who.app_id, who.journey_id, who.participant, who.entry_key)

    async def run(self) -> StepResult:
        if self.kind in messages.KINDS:
            return await messages.message(self)
        if self.kind == "Wait":
            deadline = timing.wait_deadline(self.body.get("WaitTime") or {}, instant(self.request.arrived))
            return await self.done("ARRIVED", self.body.get("NextActivity"), hold_until=deadline)
        if self.kind in SPLITS:
            return await splits.split(self)
        if self.kind == "RandomSplit":
            branches = self.body.get("Branches") or []
            chosen = timing.choose(
                f"{self.workflow_id}/{self.request.activity_id}", [int(b.get("Percentage") or 0) for b in branches]
            )
            return await self.done(f"Branch_{chosen + 1}", branches[chosen].get("NextActivity"))
        if self.kind == "Holdout":
            held = int(self.body.get("Percentage") or 0)
            kept = timing.choose(f"{self.workflow_id}/{self.request.activity_id}", [held, 100 - held])
            return await (
                self.done("HOLDOUT", None) if kept == 0 else self.done("PASSED", self.body.get("NextActivity"))
            )
        return await self.done("UNSUPPORTED", self.body.get("NextActivity"))

    async def done(
        self,
        outcome: str,
        next_activity: str | None,
        *,
        hold_until: datetime | None = None,
        detail: dict[str, Any] | None = None,
    ) -> StepResult:
        """Record the step as it ended and answer where to go (after holding until
        `hold_until`); a path that ends here ends the entry."""
        who = self.who
        hold = hold_until.isoformat() if hold_until is not None and hold_until > self.now else None
        leaves = next_activity is None and hold is None  # the path ends here: so does the entry
        async with self.ctx.engine.begin() as conn:
            await steps_store.record_step(
                conn,
                app_id=who.app_id,
                journey_id=who.journey_id,
                participant=who.participant,
                entry_key=who.entry_key,
                activity_id=self.request.activity_id,
                run_id=who.run_id,
                test_run_id=who.test.test_run_id if who.test else None,
                outcome=outcome,
                next_activity=next_activity,
                at=self.now,
                detail=detail,
                leaves=leaves,
            )
            if self.kind in SPLITS and splits.listens(self):
                await journey_events.unlisten(conn, who.app_id, self.workflow_id)
        return StepResult(next_activity, outcome, hold_until=hold, left=leaves)

    async def endpoints(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """The participant's endpoints as they are now (a user's: all of them)."""
        if self.who.kind == "USER":
            return await endpoints_store.of_user(conn, self.who.app_id, self.who.participant)
        row = await endpoints_store.get(conn, self.who.app_id, self.who.participant)
        return [row] if row is not None else []
