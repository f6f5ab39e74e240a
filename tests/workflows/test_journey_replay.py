"""Participant workflows running in a deployment when the participant workflow changed must
go on under the new code: their histories, captured from the code before the change, replay
without a nondeterminism error.

- participant_send_wait_send.json: bench/journey.py's send1 → wait (20 s) → send2 journey on
  the Temporal dev server at 2b0383a, before participants took their first steps at admission
  (journeys/prestart.py) and steps went on to the next activity in one call (steps.walk): a
  step marker for send1, one for the wait, a timer, one for send2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.journey import JourneyParticipantWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("participant_*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_a_participant_history_from_before_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=[JourneyParticipantWorkflow]).replay_workflow(history)
    assert result.replay_failure is None
