"""Who enters a journey: a page of a segment-started journey's entry cycle, or the endpoint of
one event. The filters here (opted out, inactive, a user met twice, LocalTime windows, the event
window and segment) come first; the re-entry rules are the store's admission transaction
(store/journey_participants.py). Every refusal is counted in the run's filter metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from journeys import prestart
from journeys.planning import entry_window
from journeys.times import endpoint_zone, instant
from rules import journey_timing as timing
from rules.participants import Admission
from store import journey_participants as participants
from store import journey_runs as runs
from store import journeys as journeys_store
from store import segment_sql
from workflows.journey import ACTIVE, AdmitPage, ParticipantInput

PAGE_SIZE = 500  # segment members read, and admitted, per activity


@dataclass
class AdmittedPage:
    starts: list[ParticipantInput] = field(default_factory=list)  # participants to start
    next_after: str | None = None  # the last member read, when there may be more
    first_steps: bool = False  # the page takes its participants' first steps (journeys/prestart.py)


async def admit_page(conn: AsyncConnection, request: AdmitPage) -> AdmittedPage:
    """One page of the entry cycle's segment, as it is at the cycle's time, admitted: the
    participants to start (a retried page answers the same ones again)."""
    run = request.run
    now = instant(run.now)
    journey = await journeys_store.find(conn, run.app_id, run.journey_id)
    if journey is None or journey["state"] != ACTIVE:
        return AdmittedPage()
    definition = journey["definition"]
    rid = await runs.ensure_run(conn, run.app_id, run.journey_id, run.run_number, "RUNNING")
    await runs.set_run_status(conn, run.app_id, run.journey_id, rid, "RUNNING")
    segment_id = definition["StartCondition"]["SegmentStartCondition"]["SegmentId"]
    segment = await segment_sql.load_definition(conn, run.app_id, segment_id)
    rows = await segment_sql.resolve_rows(conn, run.app_id, segment, after=request.after, limit=PAGE_SIZE, now=now)
    metrics: dict[str, int] = {}
    candidates: dict[str, ParticipantInput] = {}
    for row in rows:
        who = candidate(journey, dict(row), rid, run.run_number, now, metrics, candidates)
        if who is not None:
            candidates[who.participant] = who
    admitted, refused = await participants.admit_many(
        conn,
        app_id=run.app_id,
        journey_id=run.journey_id,
        definition=definition,
        members={p: who.kind for p, who in candidates.items()},
        entry_key=f"run-{run.run_number}",
        rid=rid,
        now=now,
    )
    for reason, n in refused.items():
        metrics[reason] = metrics.get(reason, 0) + n
    await runs.count(conn, run.app_id, run.journey_id, rid, metrics)
    return AdmittedPage(
        [candidates[p] for p in admitted],
        rows[-1]["id"] if len(rows) == PAGE_SIZE else None,
        first_steps=prestart.takes_first_steps(definition),
    )


def candidate(
    journey: dict[str, Any],
    row: dict[str, Any],
    rid: str,
    run_number: int,
    now: datetime,
    metrics: dict[str, int],
    seen: dict[str, ParticipantInput],
) -> ParticipantInput | None:
    """A segment member as a participant to admit, or None with the metric saying why not."""

    def metric(name: str) -> None:
        metrics[name] = metrics.get(name, 0) + 1

    definition = journey["definition"]
    metric("ENDPOINT_PRODUCED")
    if row["opt_out"] == "ALL":
        metric("ENDPOINT_OPT_OUT")
        return None
    if row["endpoint_status"] != "ACTIVE":
        metric("ENDPOINT_INACTIVE")
        return None
    # A segment with user ids makes the user the participant: its endpoints move together.
    kind, participant = ("USER", row["user_id"]) if row["user_id"] else ("ENDPOINT", row["id"])
    if kind == "USER":
        metric("ENDPOINTS_FROM_USER")
        if participant in seen:
            metric("DUPLICATE_USER")
            return None
    not_before: datetime | None = None
    if definition.get("LocalTime"):
        zone = endpoint_zone(row, definition)
        if zone is None:
            metric("ENDPOINT_MISSING_TIMEZONE")
            return None
        local_start, local_end = timing.local_window(definition.get("Schedule") or {}, zone)
        if local_end is not None and now >= local_end:
            metric("ENDED")
            return None
        if local_start is not None and local_start > now:
            not_before = local_start
    return ParticipantInput(
        journey["app_id"],
        journey["id"],
        participant,
        f"run-{run_number}",
        kind,
        run_id=rid,
        start_activity=definition.get("StartActivity"),
        not_before=not_before.isoformat() if not_before else None,
    )


async def enter(conn: AsyncConnection, who: ParticipantInput) -> Admission:
    """An event-triggered entry: the journey must be ACTIVE, the event inside its window, the
    endpoint in the start condition's segment (when it names one), the re-entry rules met."""
    journey = await journeys_store.find(conn, who.app_id, who.journey_id)
    if journey is None or journey["state"] != ACTIVE:
        return Admission(None, "NOT_ACTIVE")
    definition = journey["definition"]
    rid = await runs.latest_run(conn, who.app_id, who.journey_id)
    at = instant(who.event_time) if who.event_time else datetime.now(UTC)
    start, end = entry_window(journey)
    if not start <= at < end:
        await runs.count(conn, who.app_id, who.journey_id, rid, {"ENDED": 1})
        return Admission(None, "ENDED", rid)
    segment_id = (definition["StartCondition"].get("EventStartCondition") or {}).get("SegmentId")
    if segment_id:
        segment = await segment_sql.load_definition(conn, who.app_id, segment_id)
        if not await segment_sql.contains(conn, who.app_id, segment, who.participant, now=datetime.now(UTC)):
            await runs.count(conn, who.app_id, who.journey_id, rid, {"FILTERED_OUT_BY_SEGMENT": 1})
            return Admission(None, "FILTERED_OUT_BY_SEGMENT", rid)
    await runs.count(conn, who.app_id, who.journey_id, rid, {"ENDPOINT_PRODUCED": 1})
    return await participants.admit(
        conn,
        app_id=who.app_id,
        journey_id=who.journey_id,
        definition=definition,
        participant=who.participant,
        kind=who.kind,
        entry_key=who.entry_key,
        rid=rid,
        now=datetime.now(UTC),
    )
