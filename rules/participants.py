"""Who a journey participant is to Temporal and to the store: its workflow id, and what its
admission decided. Plain values, shared by the participant workflow, its activities and the
store's admission transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

MAX_WORKFLOW_ID_BYTES = 1000  # Temporal's default limit.maxIDLength


def participant_workflow_id(app_id: str, journey_id: str, participant: str, entry_key: str) -> str:
    """The participant's workflow id. An endpoint id and an event id may each be 512 bytes
    (rules/bounds), which together pass Temporal's limit: such an id names the two by digest."""
    found = f"journey-{app_id}-{journey_id}-{participant}-{entry_key}"
    if len(found.encode()) <= MAX_WORKFLOW_ID_BYTES:
        return found
    digest = hashlib.sha256(f"{participant}\n{entry_key}".encode()).hexdigest()
    return f"journey-{app_id}-{journey_id}-{participant[:100]}-sha256-{digest}"


@dataclass
class Admission:
    start_activity: str | None  # None: refused
    reason: str = ""  # REENTRY_CAP_EXCEEDED, ACTIVE_ENDPOINT_REJECTED, FILTERED_OUT_BY_SEGMENT, ...
    run_id: str | None = None


def in_path_order(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A participant's steps in the order it took them: by time, and among steps recorded at the
    same workflow time (a send and the wait after it, taken in one call) by their links — a step
    comes after the one whose `next_activity` it is. Steps of one entry, each activity once."""
    by_time: dict[Any, list[dict[str, Any]]] = {}
    for taken_step in steps:
        by_time.setdefault(taken_step["at"], []).append(taken_step)
    ordered: list[dict[str, Any]] = []
    for at in sorted(by_time):
        group = sorted(by_time[at], key=lambda s: str(s["activity_id"]))
        named = {s["activity_id"]: s for s in group}
        pointed = {s["next_activity"] for s in group}
        taken: set[str] = set()
        # Walk each chain from a step no other step of the group leads to; what is left (a cycle,
        # which Pinpoint's journeys cannot have) keeps the name order.
        for first in [s for s in group if s["activity_id"] not in pointed] + group:
            current: dict[str, Any] | None = first
            while current is not None and current["activity_id"] not in taken:
                taken.add(current["activity_id"])
                ordered.append(current)
                current = named.get(current["next_activity"])
    return ordered
