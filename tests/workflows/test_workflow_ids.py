"""Journey participant workflow ids stay within Temporal's id limit whatever the client ids."""

from __future__ import annotations

from rules.participants import MAX_WORKFLOW_ID_BYTES, participant_workflow_id

APP, JOURNEY = "a" * 32, "b" * 32


def test_ordinary_ids_are_readable() -> None:
    assert participant_workflow_id(APP, JOURNEY, "e1", "run-3") == f"journey-{APP}-{JOURNEY}-e1-run-3"


def test_ids_at_their_bounds_fit_and_stay_distinct() -> None:
    # An endpoint id and an event id may each be 512 bytes of UTF-8 (rules/bounds).
    long_endpoint, long_event = "😀" * 128, "event-" + "é" * 253
    first = participant_workflow_id(APP, JOURNEY, long_endpoint, long_event)
    second = participant_workflow_id(APP, JOURNEY, long_endpoint, long_event[:-1] + "è")
    assert len(first.encode()) <= MAX_WORKFLOW_ID_BYTES and len(second.encode()) <= MAX_WORKFLOW_ID_BYTES
    assert first != second
    assert first == participant_workflow_id(APP, JOURNEY, long_endpoint, long_event)  # deterministic
