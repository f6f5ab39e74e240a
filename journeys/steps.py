"""One participant at one journey activity: the `journey_step` activity's work.

A step reads the journey and the participant's endpoints as they are at that moment (PINPOINT.md
§4.5: conditions use the latest data), does the activity's work, writes one `journey_steps` row
(what execution metrics and test-run traces read) and answers where to go next. Waits, random
splits and holdouts are here; messages and splits have modules of their own.
"""

from __future__ import annotations

from dataclasses import replace

from journeys import messages, splits
from journeys.context import StepContext
from journeys.step import Step
from journeys.times import instant
from rules import journey_timing as timing
from store import journeys as journeys_store
from workflows.journey import CANCELLED, DELETED, PAUSED, StepRequest, StepResult

SPLITS = ("ConditionalSplit", "MultiCondition")
WALK = 8  # steps one call takes at most (a loop of activities without holds ends too)


async def walk(ctx: StepContext, request: StepRequest, *, attempt: int, limit: int = WALK) -> StepResult:
    """`take`, then at once the step of the activity it answered, as long as the answer is to go
    on without holding (a send, then the wait after it): the steps a participant takes in a row
    cost its workflow one local activity, one history event. Every step is still its own, recorded
    as it ended and sending under its own key; a retry walks again from the first (each step
    writes the same again). The answer is the last step's, with where it ended, when it arrived
    there and each step's Activity and Outcome when it went past the first."""
    current, path = request, []
    while True:
        result = await take(ctx, current, attempt=attempt)
        if result.outcome:
            path.append({"Activity": current.activity_id, "Outcome": result.outcome})
        held = result.hold_until is not None or result.evaluate or result.stop is not None
        if result.next is None or held or result.left or len(path) >= limit:
            break
        current = replace(current, activity_id=result.next, arrived=current.now, evaluate=False, seen=[])
    if current is request:
        return result
    return replace(result, activity=current.activity_id, arrived=current.arrived, path=path)


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
    return await run(Step(ctx, journey, request, found, attempt=attempt))


async def run(step: Step) -> StepResult:
    """What the activity's kind does with the participant."""
    if step.kind in messages.KINDS:
        return await messages.message(step)
    if step.kind == "Wait":
        deadline = timing.wait_deadline(step.body.get("WaitTime") or {}, instant(step.request.arrived))
        return await step.done("ARRIVED", step.body.get("NextActivity"), hold_until=deadline)
    if step.kind in SPLITS:
        return await splits.split(step)
    if step.kind == "RandomSplit":
        branches = step.body.get("Branches") or []
        chosen = timing.choose(
            f"{step.workflow_id}/{step.request.activity_id}", [int(b.get("Percentage") or 0) for b in branches]
        )
        return await step.done(f"Branch_{chosen + 1}", branches[chosen].get("NextActivity"))
    if step.kind == "Holdout":
        held = int(step.body.get("Percentage") or 0)
        kept = timing.choose(f"{step.workflow_id}/{step.request.activity_id}", [held, 100 - held])
        return await (step.done("HOLDOUT", None) if kept == 0 else step.done("PASSED", step.body.get("NextActivity")))
    return await step.done("UNSUPPORTED", step.body.get("NextActivity"))
