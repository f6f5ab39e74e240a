"""Journeys over days and months on the time-skipping server: every activity type, each split
on both paths, limits and re-entry, pause / resume / cancel (tests/workflows/journey_harness.py
says how they run)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from tests.smtp_sink import SmtpServer
from tests.workflows.journey_harness import Audience, Journeys, env, iso, task_queue

__all__ = ["env", "task_queue"]


@pytest.fixture
async def journeys(
    env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine, pinpoint: Any, smtp: SmtpServer
) -> AsyncIterator[Journeys]:
    j = Journeys(env, engine, pinpoint, smtp, task_queue)
    yield j
    await j.stop_all()


def _email(endpoint_id: str, address: str, plan: str, **extra: Any) -> dict[str, Any]:
    return {"Id": endpoint_id, "Address": address, "ChannelType": "EMAIL", "Attributes": {"Plan": [plan]}, **extra}


@pytest.fixture
def audience(pinpoint: Any, app_id: str) -> Audience:
    """An email project; segment "members" holds e0..e3 (e0, e1 on plan gold, e2, e3 on free)."""
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "journeys@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    ids = [f"e{i}" for i in range(4)]
    addresses = {e: f"{e}-{tag}@example.com" for e in ids}
    items = [_email(e, addresses[e], "gold" if i < 2 else "free") for i, e in enumerate(ids)]
    pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "members",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold", "free"]}}},
        },
    )["SegmentResponse"]["Id"]
    return Audience(app_id, segment, ids, addresses)


def template(pinpoint: Any, subject: str) -> str:
    name = f"t{secrets.token_hex(5)}"
    pinpoint.create_email_template(
        TemplateName=name, EmailTemplateRequest={"Subject": subject, "TextPart": f"{subject} for {{{{Address}}}}"}
    )
    return name


async def test_send_wait_send_spans_weeks(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    hello, again = template(pinpoint, "Hello"), template(pinpoint, "Again")
    journey = await journeys.create(
        audience,
        {
            "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "pause"}},
            "pause": {"Wait": {"WaitTime": {"WaitFor": "P21D"}, "NextActivity": "again"}},
            "again": {"EMAIL": {"TemplateName": again}},
        },
        "hello",
    )
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "pause")
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}
    await journeys.advance(timedelta(days=20))
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}
    await journeys.advance(timedelta(days=2))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["Hello", "Again"] for e in audience.endpoints}
    steps = await journeys.steps(journey)
    assert steps == {e: {"hello": "SUCCESSFUL", "pause": "ARRIVED", "again": "SUCCESSFUL"} for e in audience.endpoints}
    assert {p["status"] for p in await journeys.participants(journey)} == {"LEFT"}


async def test_wait_until_an_instant_months_ahead(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    later = template(pinpoint, "Months later")
    now = await journeys.now()
    until = now.replace(microsecond=0) + timedelta(days=95)
    journey = await journeys.create(
        audience,
        {
            "hold": {"Wait": {"WaitTime": {"WaitUntil": iso(until)}, "NextActivity": "note"}},
            "note": {"EMAIL": {"TemplateName": later}},
        },
        "hold",
    )
    await journeys.advance(timedelta(days=94))
    assert journeys.mails(audience) == {e: [] for e in audience.endpoints}
    await journeys.advance(timedelta(days=2))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["Months later"] for e in audience.endpoints}


async def _gold_segment(pinpoint: Any, audience: Audience) -> str:
    return str(
        pinpoint.create_segment(
            ApplicationId=audience.app_id,
            WriteSegmentRequest={
                "Name": "gold",
                "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
            },
        )["SegmentResponse"]["Id"]
    )


@pytest.mark.parametrize("form", ["SegmentCondition", "SegmentDimensions"])
async def test_yes_no_split_on_segment_membership_takes_both_paths(
    journeys: Journeys, audience: Audience, pinpoint: Any, form: str
) -> None:
    yes, no = template(pinpoint, "Gold"), template(pinpoint, "Free")
    if form == "SegmentCondition":
        condition = {"SegmentCondition": {"SegmentId": await _gold_segment(pinpoint, audience)}}
    else:
        condition = {"SegmentDimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}}
    journey = await journeys.create(
        audience,
        {
            "check": {
                "ConditionalSplit": {
                    "Condition": {"Conditions": [condition], "Operator": "ALL"},
                    "TrueActivity": "gold",
                    "FalseActivity": "free",
                }
            },
            "gold": {"EMAIL": {"TemplateName": yes}},
            "free": {"EMAIL": {"TemplateName": no}},
        },
        "check",
    )
    await journeys.advance(timedelta(minutes=5))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {"e0": ["Gold"], "e1": ["Gold"], "e2": ["Free"], "e3": ["Free"]}
    steps = await journeys.steps(journey)
    assert [steps[e]["check"] for e in audience.endpoints] == ["True", "True", "False", "False"]


async def test_split_reads_the_latest_data_at_evaluation_time(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    """The condition is evaluated when EvaluationWaitTime ends, on the endpoint as it is then."""
    yes, no = template(pinpoint, "Upgraded"), template(pinpoint, "Still free")
    journey = await journeys.create(
        audience,
        {
            "check": {
                "ConditionalSplit": {
                    "Condition": {
                        "Conditions": [
                            {"SegmentDimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}}
                        ]
                    },
                    "EvaluationWaitTime": {"WaitFor": "P7D"},
                    "TrueActivity": "yes",
                    "FalseActivity": "no",
                }
            },
            "yes": {"EMAIL": {"TemplateName": yes}},
            "no": {"EMAIL": {"TemplateName": no}},
        },
        "check",
    )
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "check")
    # e2 upgrades during the week; e0 downgrades.
    pinpoint.update_endpoint(ApplicationId=audience.app_id, EndpointId="e2", EndpointRequest={"Attributes": {"Plan": ["gold"]}})
    pinpoint.update_endpoint(ApplicationId=audience.app_id, EndpointId="e0", EndpointRequest={"Attributes": {"Plan": ["free"]}})
    await journeys.advance(timedelta(days=6))
    assert journeys.mails(audience) == {e: [] for e in audience.endpoints}
    await journeys.advance(timedelta(days=2))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {
        "e0": ["Still free"],
        "e1": ["Upgraded"],
        "e2": ["Upgraded"],
        "e3": ["Still free"],
    }


async def test_multivariate_split_first_matching_branch_else_default(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    pinpoint.update_endpoint(ApplicationId=audience.app_id, EndpointId="e3", EndpointRequest={"Attributes": {"Plan": ["trial"]}})
    first, second, other = template(pinpoint, "One"), template(pinpoint, "Two"), template(pinpoint, "Other")

    def plan(value: str) -> dict[str, Any]:
        return {"SegmentDimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": [value]}}}}

    journey = await journeys.create(
        audience,
        {
            "route": {
                "MultiCondition": {
                    "Branches": [
                        {"Condition": plan("gold"), "NextActivity": "one"},
                        {"Condition": plan("free"), "NextActivity": "two"},
                        {"Condition": plan("gold"), "NextActivity": "two"},
                    ],
                    "DefaultActivity": "other",
                }
            },
            "one": {"EMAIL": {"TemplateName": first}},
            "two": {"EMAIL": {"TemplateName": second}},
            "other": {"EMAIL": {"TemplateName": other}},
        },
        "route",
        StartCondition={"SegmentStartCondition": {"SegmentId": audience.segment_id}},
    )
    await journeys.advance(timedelta(minutes=5))
    for e in audience.endpoints[:3]:
        assert await journeys.result(journey, e) == "LEFT"
    # e3 left the segment (trial) before the journey started: not a participant.
    assert journeys.mails(audience) == {"e0": ["One"], "e1": ["One"], "e2": ["Two"], "e3": []}
    steps = await journeys.steps(journey)
    assert {e: s["route"] for e, s in steps.items()} == {"e0": "Branch_1", "e1": "Branch_1", "e2": "Branch_2"}


async def test_random_split_and_holdout(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    a, b, after = template(pinpoint, "A"), template(pinpoint, "B"), template(pinpoint, "After holdout")
    journey = await journeys.create(
        audience,
        {
            "coin": {
                "RandomSplit": {
                    "Branches": [{"Percentage": 50, "NextActivity": "a"}, {"Percentage": 50, "NextActivity": "b"}]
                }
            },
            "a": {"EMAIL": {"TemplateName": a, "NextActivity": "keep"}},
            "b": {"EMAIL": {"TemplateName": b, "NextActivity": "drop"}},
            "keep": {"Holdout": {"Percentage": 0, "NextActivity": "after"}},
            "drop": {"Holdout": {"Percentage": 100, "NextActivity": "after"}},
            "after": {"EMAIL": {"TemplateName": after}},
        },
        "coin",
    )
    await journeys.advance(timedelta(minutes=5))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    steps = await journeys.steps(journey)
    mails = journeys.mails(audience)
    for e in audience.endpoints:
        if steps[e]["coin"] == "Branch_1":
            assert mails[e] == ["A", "After holdout"] and steps[e]["keep"] == "PASSED"
        else:
            assert steps[e]["coin"] == "Branch_2"
            assert mails[e] == ["B"] and steps[e]["drop"] == "HOLDOUT"
