"""ConditionalSplit and MultiCondition: decided when EvaluationWaitTime ends (on arrival without
one), on the participant's endpoints as they are then. A split that waits and has an event
condition registers its listener first, so the dispatcher signals the participant the events of
its endpoints meanwhile."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys.step import Step
from journeys.times import instant
from rules import journey_timing as timing
from rules.event_filters import matches
from store import journey_events, segment_sql
from store import journey_participants as participants
from workflows.journey import StepResult


async def split(step: Step) -> StepResult:
    wait_time = step.body.get("EvaluationWaitTime")
    if wait_time and not step.request.evaluate:
        deadline = timing.wait_deadline(wait_time, instant(step.request.arrived))
        if deadline > step.now:
            if listens(step):
                async with step.ctx.engine.begin() as conn:
                    ids = [r["id"] for r in await step.endpoints(conn)]
                    await journey_events.listen(
                        conn,
                        step.who.app_id,
                        step.who.journey_id,
                        step.workflow_id,
                        ids,
                        instant(step.request.arrived),
                        deadline,
                    )
            return StepResult(None, hold_until=deadline.isoformat(), evaluate=True)
    async with step.ctx.engine.connect() as conn:
        outcome, nxt = await _decide(step, Judge(step, conn, await step.endpoints(conn)))
    return await step.done(outcome, nxt, unlisten=listens(step))


async def _decide(step: Step, judge: Judge) -> tuple[str, str | None]:
    if step.kind == "ConditionalSplit":
        met = await judge.condition(step.body.get("Condition") or {})
        return ("True", step.body.get("TrueActivity")) if met else ("False", step.body.get("FalseActivity"))
    for n, branch in enumerate(step.body.get("Branches") or [], start=1):
        if await judge.simple(branch.get("Condition") or {}):
            return f"Branch_{n}", branch.get("NextActivity")
    return "Else", step.body.get("DefaultActivity")


def listens(step: Step) -> bool:
    """Whether the split waits for events (an EventCondition among its conditions)."""
    conditions = (
        (step.body.get("Condition") or {}).get("Conditions") or []
        if step.kind == "ConditionalSplit"
        else [b.get("Condition") or {} for b in step.body.get("Branches") or []]
    )
    return any(c.get("EventCondition") for c in conditions)


class Judge:
    """Evaluates split conditions for one participant: segment membership and inline criteria
    over the endpoints' latest data (a user: any of its endpoints), events since entry."""

    def __init__(self, step: Step, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        self.step = step
        self.conn = conn
        self.ids = [r["id"] for r in rows]

    async def condition(self, condition: dict[str, Any]) -> bool:
        results = [await self.simple(c) for c in condition.get("Conditions") or []]
        if not results:
            return False
        return any(results) if condition.get("Operator") == "ANY" else all(results)

    async def simple(self, condition: dict[str, Any]) -> bool:
        app_id = self.step.who.app_id
        if condition.get("SegmentCondition"):
            segment = await segment_sql.load_definition(self.conn, app_id, condition["SegmentCondition"]["SegmentId"])
            return await self._any_member(segment)
        if condition.get("SegmentDimensions"):
            return await self._any_member(
                segment_sql.SegmentDefinition("DIMENSIONAL", condition["SegmentDimensions"], None)
            )
        if condition.get("EventCondition"):
            return await self._event(condition["EventCondition"])
        return False

    async def _any_member(self, segment: segment_sql.SegmentDefinition) -> bool:
        for endpoint_id in self.ids:
            if await segment_sql.contains(self.conn, self.step.who.app_id, segment, endpoint_id, now=self.step.now):
                return True
        return False

    async def _event(self, condition: dict[str, Any]) -> bool:
        """An event of the participant since it entered: engagement with the message the
        MessageActivity sent in this entry, or (without one) any event, matching Dimensions.
        Events that arrived as signals count too (they are stored, but may still be in flight
        to the database of another process)."""
        step = self.step
        who = step.who
        wanted = {"Dimensions": condition.get("Dimensions") or {}}
        message = condition.get("MessageActivity")
        for event in step.request.seen:
            if (not message or event.get("Attributes", {}).get("journey_activity_id") == message) and matches(
                wanted, event
            ):
                return True
        if message:
            # Engagement carries the entry it belongs to: no clock needed to tell it apart.
            rows = await journey_events.engagement(
                self.conn, who.app_id, self.ids, journey_id=who.journey_id, activity_id=message, entry_key=who.entry_key
            )
        else:
            entered = await participants.entered_at(
                self.conn, who.app_id, who.journey_id, who.participant, who.entry_key
            )
            rows = await journey_events.events_since(
                self.conn, who.app_id, self.ids, entered or instant(step.request.arrived)
            )
        for r in rows:
            event = {"EventType": r["event_type"], "Attributes": r["attributes"] or {}, "Metrics": r["metrics"] or {}}
            if matches(wanted, event):
                return True
        return False
