"""OpenPoint's journey extensions (docs/journeys.md), SigV4-signed like the Pinpoint API:
review before publishing, entry through the API, test runs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from api import journey_control
from api.extensions import ExtensionCall, extension, json_object
from api.journey_review import journey_review
from openpoint.errors import BadRequest

router = APIRouter(tags=["OpenPoint extensions"])

JOURNEY_PATH = "/v1/apps/{application_id}/journeys/{journey_id}"
ENTRY_FIELD = "JourneyEntryRequest"
ENTRY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_FINDINGS = {"type": "array", "items": json_object(ActivityId="string", Code="string", Message="string")}
_REVIEW = json_object(JourneyId="string", Publishable="boolean", Errors=_FINDINGS, Warnings=_FINDINGS)
_ENTRY = json_object(EndpointId="string", UserId="string", EntryKey="string")
_ENTERED = json_object(Participant="string", EntryKey="string", Entered="boolean", WorkflowId="string", Reason="string")
_TEST_RUN = json_object(
    EndpointIds={"type": "array", "items": {"type": "string"}},
    Waits={"type": "string", "enum": list(journey_control.TEST_WAITS)},
    WaitSeconds="integer",
    Delivery={"type": "string", "enum": list(journey_control.TEST_DELIVERY)},
)


@extension(
    router,
    "POST",
    f"{JOURNEY_PATH}/review",
    name="ReviewJourney",
    summary="Review a journey: what blocks publishing (errors) and what is probably a mistake (warnings)",
    response_schema=_REVIEW,
)
async def review_journey(call: ExtensionCall) -> dict[str, Any]:
    return await journey_review(call.ctx, call.app_id, call.labels["journey_id"])


@extension(
    router,
    "POST",
    f"{JOURNEY_PATH}/participants",
    name="EnterJourney",
    summary="Put an endpoint or a user into an ACTIVE journey now (idempotent per EntryKey)",
    request_schema=_ENTRY,
    response_schema=_ENTERED,
)
async def enter_journey(call: ExtensionCall) -> dict[str, Any]:
    body = call.body
    for member in ("EndpointId", "UserId"):
        if body.get(member) is not None and (not isinstance(body[member], str) or not body[member]):
            raise BadRequest(f"Invalid value for {ENTRY_FIELD}.{member}: expected a non-empty string.")
    key = body.get("EntryKey")
    if key is not None and (not isinstance(key, str) or not ENTRY_KEY.fullmatch(key)):
        raise BadRequest(
            f"Invalid value for {ENTRY_FIELD}.EntryKey: 1 to 128 letters, digits and the characters _ . : -."
        )
    entry = await journey_control.enter(
        call.ctx,
        call.app_id,
        call.labels["journey_id"],
        endpoint_id=body.get("EndpointId"),
        user_id=body.get("UserId"),
        entry_key=key,
    )
    return entry.response()


@extension(
    router,
    "POST",
    f"{JOURNEY_PATH}/test-runs",
    name="StartJourneyTestRun",
    summary="Send test participants through a DRAFT or ACTIVE journey, waits skipped or shortened",
    status=201,
    request_schema=_TEST_RUN,
)
async def start_test_run(call: ExtensionCall) -> dict[str, Any]:
    journey_id = call.labels["journey_id"]
    test_run_id = await journey_control.start_reviewed_test_run(call.ctx, call.app_id, journey_id, call.body)
    return await journey_control.test_run(call.ctx, call.app_id, journey_id, test_run_id)


@extension(
    router,
    "GET",
    f"{JOURNEY_PATH}/test-runs/{{test_run_id}}",
    name="GetJourneyTestRun",
    summary="A test run: each test participant's status and the path it took",
)
async def get_test_run(call: ExtensionCall) -> dict[str, Any]:
    return await journey_control.test_run(call.ctx, call.app_id, call.labels["journey_id"], call.labels["test_run_id"])
