"""Who a journey participant is to Temporal and to the store: its workflow id, and what its
admission decided. Plain values, shared by the participant workflow, its activities and the
store's admission transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
