"""A segment member's first steps, taken by its entry cycle's page before its workflow starts.

Most journeys open with a message and a wait. Taken by the participant's workflow, that is one
workflow task, a step marker and a timer before the second step; taken here, in the page that
admitted the participant (the same step code, sending under the same keys, recorded the same
way), the workflow is started delayed to the end of the hold with where it is (`Resume`), and
its first workflow task takes the next step: a send-wait-send journey costs the participant's
history 6 events instead of 13. Its workflow exists from the page on (the Web UI shows it with
its search attributes, the steps taken in its input and summary); a pause or a cancellation
signalled meanwhile wakes it, and it holds or leaves as a workflow that took the steps itself.

A step that fails here (a provider's transient trouble) leaves the participant to its workflow
as before: it takes its steps from the start activity, where a send already made is found under
its key and a step already recorded is written again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from journeys import steps
from journeys.context import StepContext
from workflows.journey import ParticipantInput, Resume, StepRequest, StepResult

log = logging.getLogger("openpoint.journeys")

# MessagesPerSecond below this and the page's sends would outlast its activity's timeout (a page
# of 500 at 5/s: 100 s); such journeys' participants take their steps in their workflows.
MIN_PACE = 5


def takes_first_steps(definition: dict[str, Any]) -> bool:
    """Whether an entry cycle's page takes its participants' first steps (MIN_PACE)."""
    pace = (definition.get("Limits") or {}).get("MessagesPerSecond")
    return not pace or int(pace) >= MIN_PACE


def resume_from(who: ParticipantInput, result: StepResult, now: datetime) -> Resume | None:
    """Where the participant stands after `steps.walk` from its start activity answered
    `result`; None when no step was taken (the journey was paused or ended meanwhile: its
    workflow finds that out itself)."""
    first = who.start_activity or ""
    path = result.path or ([{"Activity": first, "Outcome": result.outcome}] if result.outcome else [])
    if not path:
        return None
    at = result.activity or first  # the last step's activity
    arrived = result.arrived or now.isoformat()
    if result.stop is not None:  # taken again by the workflow, which then holds or leaves
        return Resume(at, arrived, next=at, path=path)
    return Resume(
        at, arrived, result.next, hold_until=result.hold_until, evaluate=result.evaluate, left=result.left, path=path
    )


async def first_steps(ctx: StepContext, who: ParticipantInput, now: datetime) -> ParticipantInput:
    """`who` with the steps it took from its start activity at `now` (Temporal's time), or as
    it was when it takes none here (a LocalTime entry, a test, a step that failed)."""
    if who.start_activity is None or who.not_before is not None or who.test is not None:
        return who
    at = now.isoformat()
    try:
        result = await steps.walk(ctx, StepRequest(who, who.start_activity, at, at), attempt=1)
    except Exception as e:  # noqa: BLE001 - its workflow takes the steps again, with its retries
        log.info("journey %s: %s's first steps left to its workflow (%s)", who.journey_id, who.participant, e)
        return who
    resume = resume_from(who, result, now)
    return who if resume is None else replace(who, resume=resume)
