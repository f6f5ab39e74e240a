"""API entries and test participants: the participant workflows the journey API starts directly
and answers with. (The journey's own workflow hears of every change through a command written
with it: engine/commands.py.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from temporalio.service import RPCError

from api.context import Context
from api.journey_review import review_failed, review_of
from api.outages import engine_error
from engine import journeys as journeys_engine
from openpoint.errors import BadRequest, NotFound
from rules.participants import in_path_order
from store import endpoints as endpoints_store
from store import journey_participants as participants
from store import journey_test_runs as test_runs
from store import journeys as journeys_store
from wire.codec import iso
from workflows.journey import ParticipantInput, TestOptions


@dataclass
class Entry:
    """The answer to an API entry: the participant's workflow, or why it did not enter."""

    entered: bool
    participant: str
    entry_key: str
    workflow_id: str | None
    reason: str = ""

    def response(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Participant": self.participant, "EntryKey": self.entry_key, "Entered": self.entered}
        if self.workflow_id:
            out["WorkflowId"] = self.workflow_id
        if self.reason:
            out["Reason"] = self.reason
        return out


async def enter(
    ctx: Context, app_id: str, journey_id: str, *, endpoint_id: str | None, user_id: str | None, entry_key: str | None
) -> Entry:
    """Put an endpoint or a user into an ACTIVE journey now. The same EntryKey answers the same
    entry again (and starts nothing new); without one every call is a new entry attempt."""
    if (endpoint_id is None) == (user_id is None):
        raise BadRequest("Exactly one of EndpointId and UserId is required.")
    key = f"api-{entry_key}" if entry_key else f"api-{uuid.uuid4().hex}"
    kind, participant = ("ENDPOINT", endpoint_id) if endpoint_id is not None else ("USER", user_id)
    assert participant is not None
    async with ctx.engine.begin() as conn:
        admitted = await participants.admit_now(conn, app_id, journey_id, participant, kind, key)
    if admitted.start_activity is None:
        return Entry(False, participant, entry_key or key, None, admitted.reason)
    who = ParticipantInput(
        app_id, journey_id, participant, key, kind, run_id=admitted.run_id, start_activity=admitted.start_activity
    )
    workflow_id = await _start_participant(ctx, who)
    return Entry(True, participant, entry_key or key, workflow_id)


TEST_WAITS = ("SKIP", "SHORTEN")
TEST_DELIVERY = ("RECORD", "SEND")
MAX_TEST_ENDPOINTS = 100
FIELD = "TestRunRequest"


def test_options(body: dict[str, Any], test_run_id: str) -> TestOptions:
    """The test-run request: which endpoints, how waits are treated, whether messages go out."""
    waits = body.get("Waits", "SKIP")
    if waits not in TEST_WAITS:
        raise BadRequest(f"{FIELD}.Waits must be one of {', '.join(TEST_WAITS)}.")
    seconds = body.get("WaitSeconds", 0)
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 86_400:
        raise BadRequest(f"{FIELD}.WaitSeconds must be a whole number of seconds from 0 to 86400.")
    if waits == "SHORTEN" and not seconds:
        raise BadRequest(f"{FIELD}.WaitSeconds is required when Waits is SHORTEN.")
    delivery = body.get("Delivery", "RECORD")
    if delivery not in TEST_DELIVERY:
        raise BadRequest(f"{FIELD}.Delivery must be one of {', '.join(TEST_DELIVERY)}.")
    return TestOptions(test_run_id, waits, seconds, delivery == "SEND")


def test_endpoints(body: dict[str, Any]) -> list[str]:
    ids = body.get("EndpointIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadRequest(f"{FIELD}.EndpointIds must be a non-empty list of endpoint ids.")
    if len(ids) > MAX_TEST_ENDPOINTS:
        raise BadRequest(f"{FIELD}.EndpointIds may name at most {MAX_TEST_ENDPOINTS} endpoints.")
    if len(set(ids)) != len(ids):
        raise BadRequest(f"{FIELD}.EndpointIds names an endpoint twice.")
    return list(ids)


async def start_test_run(ctx: Context, app_id: str, journey_id: str, body: dict[str, Any]) -> str:
    """Send the chosen endpoints through the journey (DRAFT or ACTIVE) as test participants;
    returns the test run's id. Nothing is written when the request is refused."""
    test_run_id = uuid.uuid4().hex
    options = test_options(body, test_run_id)
    endpoint_ids = test_endpoints(body)
    async with ctx.engine.begin() as conn:
        journey = await journeys_store.get(conn, app_id, journey_id)
        if journey["state"] not in ("DRAFT", "ACTIVE"):
            raise BadRequest(
                f"Journey {journey_id} is {journey['state']}; only DRAFT and ACTIVE journeys can be tested."
            )
        for endpoint_id in endpoint_ids:
            if await endpoints_store.get(conn, app_id, endpoint_id) is None:
                raise NotFound(f"{FIELD}.EndpointIds: endpoint {endpoint_id} was not found in project {app_id}.")
        stored = {
            "EndpointIds": endpoint_ids,
            "Waits": options.wait,
            "WaitSeconds": options.wait_seconds,
            "Delivery": "SEND" if options.deliver else "RECORD",
        }
        await test_runs.add_test_run(conn, app_id, journey_id, test_run_id, endpoint_ids, stored)
        start_activity = journey["definition"].get("StartActivity")
    for endpoint_id in endpoint_ids:
        who = ParticipantInput(
            app_id, journey_id, endpoint_id, f"test-{test_run_id}", start_activity=start_activity, test=options
        )
        await _start_participant(ctx, who)
    return test_run_id


async def start_reviewed_test_run(ctx: Context, app_id: str, journey_id: str, body: dict[str, Any]) -> str:
    """POST .../test-runs (the route and the console's journey page): a journey whose review
    finds errors is refused, as publishing it would be; then start_test_run."""
    async with ctx.engine.connect() as conn:
        journey = await journeys_store.get(conn, app_id, journey_id)
        errors, _warnings = await review_of(conn, app_id, journey["definition"])
    if errors:
        raise review_failed(errors)
    return await start_test_run(ctx, app_id, journey_id, body)


async def test_run(ctx: Context, app_id: str, journey_id: str, test_run_id: str) -> dict[str, Any]:
    """GET .../test-runs/{id}: each test participant's status and the path it took."""
    async with ctx.engine.connect() as conn:
        journey = await journeys_store.get(conn, app_id, journey_id)
        found = await test_runs.test_run(conn, app_id, journey_id, test_run_id)
    activities = journey["definition"].get("Activities") or {}
    by_participant: dict[str, list[dict[str, Any]]] = {}
    for step in _path_ordered(found["steps"]):
        activity = activities.get(step["activity_id"]) or {}
        by_participant.setdefault(step["participant"], []).append(
            {
                "ActivityId": step["activity_id"],
                "ActivityType": next((k for k in activity if k != "Description"), None),
                "Outcome": step["outcome"],
                "NextActivity": step["next_activity"],
                "Time": iso(step["at"]),
                "Detail": step["detail"] or None,
            }
        )
    return {
        "Id": test_run_id,
        "ApplicationId": app_id,
        "JourneyId": journey_id,
        "CreationDate": iso(found["run"]["created_at"]),
        "Options": found["run"]["options"],
        "Participants": [
            {
                "EndpointId": p["participant"],
                "WorkflowId": p["workflow_id"],
                "Status": p["status"],
                "CurrentActivity": p["current_activity"] if p["status"] == "ACTIVE" else None,
                "Steps": by_participant.get(p["participant"], []),
            }
            for p in found["participants"]
        ],
    }


def _path_ordered(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every participant's steps in the order each took them (rules.participants.in_path_order)."""
    by_participant: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        by_participant.setdefault(step["participant"], []).append(step)
    return [s for group in by_participant.values() for s in in_path_order(group)]


async def _start_participant(ctx: Context, who: ParticipantInput) -> str:
    """The participant's workflow (the same entry again: the one running already)."""
    client = await ctx.temporal()
    try:
        return await journeys_engine.start_participant(client, who, ctx.settings.task_queue)
    except RPCError as e:
        raise engine_error(e, "The participant could not be started") from None
