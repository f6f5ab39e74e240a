"""One participant at one journey activity: what the step knows (the journey, the request, the
activity), how it ends (recorded, with where to go next) and the participant's endpoints. What
each kind of activity does is in steps.py (waits, random splits, holdouts), messages.py and
splits.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys.context import StepContext
from journeys.times import instant
from rules.journey_graph import activity_type
from rules.participants import participant_workflow_id
from store import endpoints as endpoints_store
from store import journey_events
from store import journey_steps as steps_store
from workflows.journey import ParticipantInput, StepRequest, StepResult


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

    async def done(
        self,
        outcome: str,
        next_activity: str | None,
        *,
        hold_until: datetime | None = None,
        detail: dict[str, Any] | None = None,
        unlisten: bool = False,
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
            if unlisten:  # a split that listened for engagement: it has decided
                await journey_events.unlisten(conn, who.app_id, self.workflow_id)
        return StepResult(next_activity, outcome, hold_until=hold, left=leaves)

    async def endpoints(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """The participant's endpoints as they are now (a user's: all of them)."""
        if self.who.kind == "USER":
            return await endpoints_store.of_user(conn, self.who.app_id, self.who.participant)
        row = await endpoints_store.get(conn, self.who.app_id, self.who.participant)
        return [row] if row is not None else []
