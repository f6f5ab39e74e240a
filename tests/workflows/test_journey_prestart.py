"""Where a participant stands after the first steps its entry cycle's page took
(journeys/prestart.py), and how its workflow is started from there (engine/journeys.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engine.journeys import participant_start_options
from journeys.prestart import resume_from, takes_first_steps
from workflows.journey import ParticipantInput, Resume, StepResult

NOW = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
WHO = ParticipantInput("app", "j", "ep-1", "run-0", start_activity="send1", run_id="r")


def test_a_send_then_a_wait_resumes_at_the_next_activity_after_the_hold() -> None:
    until = (NOW + timedelta(days=2)).isoformat()
    walked = StepResult(
        "send2",
        "ARRIVED",
        hold_until=until,
        activity="wait",
        arrived=NOW.isoformat(),
        path=[{"Activity": "send1", "Outcome": "SUCCESSFUL"}, {"Activity": "wait", "Outcome": "ARRIVED"}],
    )
    resume = resume_from(WHO, walked, NOW)
    assert resume == Resume("wait", NOW.isoformat(), "send2", hold_until=until, path=walked.path)
    options = participant_start_options(replace(WHO, resume=resume), "q", searchable=False, now=NOW)
    assert options["start_delay"] == timedelta(days=2)
    assert options["static_summary"] == f"send1: SUCCESSFUL, wait: ARRIVED → send2 at {until}"


def test_one_step_that_ends_the_path_resumes_as_left() -> None:
    resume = resume_from(WHO, StepResult(None, "SUCCESSFUL", left=True), NOW)
    assert resume is not None and resume.activity == "send1" and resume.next is None and resume.left
    assert resume.path == [{"Activity": "send1", "Outcome": "SUCCESSFUL"}]
    assert "start_delay" not in participant_start_options(replace(WHO, resume=resume), "q", searchable=False, now=NOW)


def test_a_split_waiting_to_evaluate_resumes_evaluating_it() -> None:
    until = (NOW + timedelta(hours=6)).isoformat()
    walked = StepResult(
        "check",
        "",
        hold_until=until,
        evaluate=True,
        activity="check",
        arrived=NOW.isoformat(),
        path=[{"Activity": "send1", "Outcome": "SUCCESSFUL"}],
    )
    resume = resume_from(WHO, walked, NOW)
    assert resume == Resume("check", NOW.isoformat(), "check", hold_until=until, evaluate=True, path=walked.path)
    options = participant_start_options(replace(WHO, resume=resume), "q", searchable=False, now=NOW)
    assert options["static_summary"] == f"send1: SUCCESSFUL → check at {until}"


def test_a_journey_paused_before_any_step_leaves_the_participant_to_its_workflow() -> None:
    assert resume_from(WHO, StepResult(None, stop="PAUSED", state_at="x"), NOW) is None
    stopped = StepResult(
        None,
        stop="PAUSED",
        state_at="x",
        activity="wait",
        arrived=NOW.isoformat(),
        path=[{"Activity": "send1", "Outcome": "SUCCESSFUL"}],
    )
    assert resume_from(WHO, stopped, NOW) == Resume("wait", NOW.isoformat(), "wait", path=stopped.path)


def test_slow_paced_journeys_take_their_steps_in_their_workflows() -> None:
    assert takes_first_steps({})
    assert takes_first_steps({"Limits": {"MessagesPerSecond": 50}})
    assert not takes_first_steps({"Limits": {"MessagesPerSecond": 1}})
