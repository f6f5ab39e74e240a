"""Journeys over days and months on the time-skipping server: every activity type, each split
on both paths, limits and re-entry, pause / resume / cancel (tests/workflows/journey_harness.py
says how they run)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from rules.journey_timing import WEEKDAYS
from tests.smtp_sink import SmtpServer
from tests.workflows.journey_harness import Audience, Journeys, env, iso, task_queue, wait_state

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
        condition: dict[str, Any] = {"SegmentCondition": {"SegmentId": await _gold_segment(pinpoint, audience)}}
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
                            {
                                "SegmentDimensions": {
                                    "Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}
                                }
                            }
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
    pinpoint.update_endpoint(
        ApplicationId=audience.app_id, EndpointId="e2", EndpointRequest={"Attributes": {"Plan": ["gold"]}}
    )
    pinpoint.update_endpoint(
        ApplicationId=audience.app_id, EndpointId="e0", EndpointRequest={"Attributes": {"Plan": ["free"]}}
    )
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
    pinpoint.update_endpoint(
        ApplicationId=audience.app_id, EndpointId="e3", EndpointRequest={"Attributes": {"Plan": ["trial"]}}
    )
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


def _hello_wait_again(pinpoint: Any, wait: str) -> dict[str, Any]:
    hello, again = template(pinpoint, "Hello"), template(pinpoint, "Again")
    return {
        "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "pause"}},
        "pause": {"Wait": {"WaitTime": {"WaitFor": wait}, "NextActivity": "again"}},
        "again": {"EMAIL": {"TemplateName": again}},
    }


async def test_a_pause_freezes_waits_and_resume_continues_from_the_remaining_time(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    journey = await journeys.create(audience, _hello_wait_again(pinpoint, "P2D"), "hello", RefreshFrequency="P60D")
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "pause")
    await journeys.set_state(journey, "PAUSED")
    await wait_state(journeys, journey, audience.endpoints, "PAUSED")
    await journeys.advance(timedelta(days=5))
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}
    await journeys.set_state(journey, "ACTIVE")
    await wait_state(journeys, journey, audience.endpoints, "ACTIVE")
    await journeys.advance(timedelta(days=1))
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}  # a day of the wait is left
    await journeys.advance(timedelta(days=1, hours=1))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["Hello", "Again"] for e in audience.endpoints}


async def test_a_participant_paused_before_a_message_sends_it_only_after_resume(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    """Pausing at a split's evaluation: nothing is evaluated or sent while paused."""
    after = template(pinpoint, "After")
    journey = await journeys.create(
        audience,
        {
            "check": {
                "ConditionalSplit": {
                    "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": audience.segment_id}}]},
                    "EvaluationWaitTime": {"WaitFor": "PT6H"},
                    "TrueActivity": "after",
                    "FalseActivity": "after",
                }
            },
            "after": {"EMAIL": {"TemplateName": after}},
        },
        "check",
        RefreshFrequency="P60D",
    )
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "check")
    await journeys.set_state(journey, "PAUSED")
    await wait_state(journeys, journey, audience.endpoints, "PAUSED")
    await journeys.advance(timedelta(days=3))
    assert journeys.mails(audience) == {e: [] for e in audience.endpoints}
    assert await journeys.steps(journey) == {}
    await journeys.set_state(journey, "ACTIVE")
    await journeys.advance(timedelta(hours=7))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["After"] for e in audience.endpoints}


@pytest.mark.parametrize("at", ["wait", "split", "quiet time"])
async def test_cancelling_stops_every_participant_where_it_is(
    journeys: Journeys, audience: Audience, pinpoint: Any, at: str
) -> None:
    after = template(pinpoint, "Never")
    now = await journeys.now()
    members: dict[str, Any] = {}
    if at == "wait":
        first = {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "after"}}
    elif at == "split":
        first = {
            "ConditionalSplit": {
                "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": audience.segment_id}}]},
                "EvaluationWaitTime": {"WaitFor": "P1D"},
                "TrueActivity": "after",
                "FalseActivity": "after",
            }
        }
    else:  # the message itself is held until quiet time ends
        for e in audience.endpoints:
            pinpoint.update_endpoint(
                ApplicationId=audience.app_id, EndpointId=e, EndpointRequest={"Demographic": {"Timezone": "UTC"}}
            )
        quiet = {
            "Start": (now - timedelta(hours=1)).strftime("%H:%M"),
            "End": (now + timedelta(hours=5)).strftime("%H:%M"),
        }
        members = {"QuietTime": quiet, "WaitForQuietTime": True}
        first = {"Wait": {"WaitTime": {"WaitFor": "PT1M"}, "NextActivity": "after"}}
    journey = await journeys.create(
        audience, {"first": first, "after": {"EMAIL": {"TemplateName": after}}}, "first", **members
    )
    await journeys.advance(timedelta(minutes=10))
    await journeys.wait_at(journey, audience.endpoints, "after" if at == "quiet time" else "first")
    await journeys.set_state(journey, "CANCELLED")
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "CANCELLED"
    await journeys.advance(timedelta(days=2))
    assert journeys.mails(audience) == {e: [] for e in audience.endpoints}
    assert {p["status"] for p in await journeys.participants(journey)} == {"CANCELLED"}
    assert not [r for r in await journeys.run_metrics(journey) if r["status"] in ("SCHEDULED", "RUNNING")]


@pytest.mark.parametrize("wait_for_quiet_time", [True, False])
async def test_quiet_time_holds_or_drops_the_message(
    journeys: Journeys, audience: Audience, pinpoint: Any, wait_for_quiet_time: bool
) -> None:
    for e in audience.endpoints[:2]:  # e2, e3 have no time zone: quiet time does not apply to them
        pinpoint.update_endpoint(
            ApplicationId=audience.app_id, EndpointId=e, EndpointRequest={"Demographic": {"Timezone": "Asia/Tokyo"}}
        )
    hello, bye = template(pinpoint, "Hello"), template(pinpoint, "Bye")
    start = await journeys.start_soon()
    tokyo = start + timedelta(hours=9)
    quiet = {
        "Start": (tokyo - timedelta(hours=1)).strftime("%H:%M"),
        "End": (tokyo + timedelta(hours=3)).strftime("%H:%M"),
    }
    journey = await journeys.create(
        audience,
        {
            "hello": {"EMAIL": {"TemplateName": hello, "NextActivity": "bye"}},
            "bye": {"EMAIL": {"TemplateName": bye}},
        },
        "hello",
        QuietTime=quiet,
        WaitForQuietTime=wait_for_quiet_time,
    )
    await journeys.advance(timedelta(minutes=10))
    for e in audience.endpoints[2:]:
        assert await journeys.result(journey, e) == "LEFT"
    mails = journeys.mails(audience)
    assert mails["e2"] == mails["e3"] == ["Hello", "Bye"]
    if not wait_for_quiet_time:
        assert mails["e0"] == mails["e1"] == []
        steps = await journeys.steps(journey)
        assert steps["e0"] == {"hello": "QUIET_TIME", "bye": "QUIET_TIME"}
        return
    assert mails["e0"] == mails["e1"] == []
    await journeys.advance(timedelta(hours=3, minutes=10))
    for e in audience.endpoints[:2]:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience)["e0"] == ["Hello", "Bye"]


async def _hello_only(pinpoint: Any) -> dict[str, Any]:
    return {"hello": {"EMAIL": {"TemplateName": template(pinpoint, "Hello")}}}


async def test_refresh_re_admits_up_to_the_reentry_cap(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    journey = await journeys.create(
        audience, await _hello_only(pinpoint), "hello", RefreshFrequency="PT1H", Limits={"EndpointReentryCap": 2}
    )
    await journeys.advance(timedelta(hours=3, minutes=30))  # cycles at start, +1 h, +2 h, +3 h
    assert journeys.mails(audience) == {e: ["Hello", "Hello"] for e in audience.endpoints}
    runs = await journeys.run_metrics(journey)
    assert [r["run_number"] for r in runs][:4] == [0, 1, 2, 3]
    assert [r["metrics"].get("REENTRY_CAP_EXCEEDED", 0) for r in runs[:4]] == [0, 0, 4, 4]
    entries = await journeys.participants(journey)
    assert sorted({(p["participant"], p["entry_number"]) for p in entries}) == [
        (e, n) for e in audience.endpoints for n in (1, 2)
    ]


async def test_a_participant_still_inside_is_not_admitted_again(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    journey = await journeys.create(audience, _hello_wait_again(pinpoint, "PT90M"), "hello", RefreshFrequency="PT1H")
    await journeys.advance(timedelta(hours=2, minutes=10))  # cycles at start (enter), +1 h (inside), +2 h (left)
    runs = await journeys.run_metrics(journey)
    assert [r["metrics"].get("ACTIVE_ENDPOINT_REJECTED", 0) for r in runs[:3]] == [0, 4, 0]
    # Entered at the start and again at +2 h, after leaving at +1 h 30.
    assert journeys.mails(audience) == {e: ["Hello", "Again", "Hello"] for e in audience.endpoints}


async def test_reentry_interval_spaces_entries(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    journey = await journeys.create(
        audience,
        await _hello_only(pinpoint),
        "hello",
        RefreshFrequency="PT1H",
        Limits={"EndpointReentryInterval": "PT2H30M"},
    )
    await journeys.advance(timedelta(hours=3, minutes=30))  # cycles at 0, 1, 2, 3 h: entries at 0 and 3 h
    assert journeys.mails(audience) == {e: ["Hello", "Hello"] for e in audience.endpoints}
    runs = await journeys.run_metrics(journey)
    assert [r["metrics"].get("REENTRY_CAP_EXCEEDED", 0) for r in runs[:4]] == [0, 4, 4, 0]


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"DailyCap": 1}, ["Hello"]),
        ({"TotalCap": 1}, ["Hello"]),
        ({"TimeframeCap": {"Cap": 1, "Days": 2}}, ["Hello"]),
        ({"DailyCap": 2}, ["Hello", "Again"]),
    ],
)
async def test_message_caps_skip_sends_beyond_them(
    journeys: Journeys, audience: Audience, pinpoint: Any, limits: dict[str, Any], expected: list[str]
) -> None:
    journey = await journeys.create(audience, _hello_wait_again(pinpoint, "PT2H"), "hello", Limits=limits)
    await journeys.advance(timedelta(hours=3))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: expected for e in audience.endpoints}
    if len(expected) == 1:
        assert {s["again"] for s in (await journeys.steps(journey)).values()} == {"ENDPOINT_LIMIT_EXCEEDED"}


async def test_timeframe_cap_counts_every_journey(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    first = await journeys.create(audience, await _hello_only(pinpoint), "hello")
    await journeys.advance(timedelta(minutes=5))
    for e in audience.endpoints:
        assert await journeys.result(first, e) == "LEFT"
    second = await journeys.create(
        audience, await _hello_only(pinpoint), "hello", Limits={"TimeframeCap": {"Cap": 1, "Days": 1}}
    )
    await journeys.advance(timedelta(minutes=5))
    for e in audience.endpoints:
        assert await journeys.result(second, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}


async def test_engagement_split_on_the_earlier_messages_open(
    journeys: Journeys, audience: Audience, pinpoint: Any, stack: Any
) -> None:
    """Opened (the tracking pixel fetched within EvaluationWaitTime) → Yes; not opened → No.
    The opens are recorded by the gateway, as a mail client fetching the pixel would."""
    import re

    import httpx

    name = f"t{secrets.token_hex(5)}"
    pinpoint.create_email_template(
        TemplateName=name, EmailTemplateRequest={"Subject": "Look", "HtmlPart": "<p>Hello {{Address}}</p>"}
    )
    opened, ignored = template(pinpoint, "Thanks for reading"), template(pinpoint, "Did you miss it")
    journey = await journeys.create(
        audience,
        {
            "look": {"EMAIL": {"TemplateName": name, "NextActivity": "check"}},
            "check": {
                "ConditionalSplit": {
                    "Condition": {
                        "Conditions": [
                            {
                                "EventCondition": {
                                    "Dimensions": {
                                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}
                                    },
                                    "MessageActivity": "look",
                                }
                            }
                        ]
                    },
                    "EvaluationWaitTime": {"WaitFor": "P1D"},
                    "TrueActivity": "thanks",
                    "FalseActivity": "nudge",
                }
            },
            "thanks": {"EMAIL": {"TemplateName": opened}},
            "nudge": {"EMAIL": {"TemplateName": ignored}},
        },
        "look",
    )
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "check")
    for e in ("e0", "e2"):
        [mail] = journeys.smtp.sink.to(audience.addresses[e])
        [pixel] = re.findall(r'<img src="([^"]+)"', mail.html)
        assert httpx.get(pixel).status_code == 200
    await journeys.advance(timedelta(days=1, hours=1))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {
        "e0": ["Look", "Thanks for reading"],
        "e1": ["Look", "Did you miss it"],
        "e2": ["Look", "Thanks for reading"],
        "e3": ["Look", "Did you miss it"],
    }


async def test_event_split_on_a_custom_event_since_entry(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    bought, reminder = template(pinpoint, "Thanks for buying"), template(pinpoint, "Still thinking")
    journey = await journeys.create(
        audience,
        {
            "check": {
                "MultiCondition": {
                    "Branches": [
                        {
                            "Condition": {
                                "EventCondition": {
                                    "Dimensions": {
                                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["purchase"]},
                                        "Metrics": {"total": {"ComparisonOperator": "GREATER_THAN", "Value": 10}},
                                    }
                                }
                            },
                            "NextActivity": "thanks",
                        }
                    ],
                    "EvaluationWaitTime": {"WaitFor": "PT12H"},
                    "DefaultActivity": "remind",
                }
            },
            "thanks": {"EMAIL": {"TemplateName": bought}},
            "remind": {"EMAIL": {"TemplateName": reminder}},
        },
        "check",
    )
    await journeys.advance(timedelta(minutes=5))
    await journeys.wait_at(journey, audience.endpoints, "check")

    now = await journeys.now()  # the events happen on the server's (skipped) clock

    def purchase(endpoint_id: str, total: float) -> None:
        pinpoint.put_events(
            ApplicationId=audience.app_id,
            EventsRequest={
                "BatchItem": {
                    endpoint_id: {
                        "Endpoint": {},
                        "Events": {
                            secrets.token_hex(4): {
                                "EventType": "purchase",
                                "Timestamp": iso(now),
                                "Metrics": {"total": total},
                            }
                        },
                    }
                }
            },
        )

    purchase("e1", 25.0)
    purchase("e3", 5.0)  # too small: the branch's metric condition is not met
    await journeys.advance(timedelta(hours=13))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    mails = journeys.mails(audience)
    assert mails == {
        "e0": ["Still thinking"],
        "e1": ["Thanks for buying"],
        "e2": ["Still thinking"],
        "e3": ["Still thinking"],
    }


async def test_local_time_admits_each_participant_at_its_own_clock(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    """LocalTime: the start's wall clock is reached zone by zone; a zone estimated from the
    postal code counts; an endpoint with no zone to find is left out."""
    from zoneinfo import ZoneInfo

    zones = {"e0": "Asia/Tokyo", "e1": "America/New_York"}
    for e, zone in zones.items():
        pinpoint.update_endpoint(
            ApplicationId=audience.app_id, EndpointId=e, EndpointRequest={"Demographic": {"Timezone": zone}}
        )
    pinpoint.update_endpoint(
        ApplicationId=audience.app_id,
        EndpointId="e2",
        EndpointRequest={"Location": {"PostalCode": "94105", "Country": "US"}},
    )
    zones["e2"] = "America/Los_Angeles"
    now = await journeys.now()
    wall = (now + timedelta(hours=10)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    journey = await journeys.create(
        audience,
        await _hello_only(pinpoint),
        "hello",
        LocalTime=True,
        TimezoneEstimationMethods=["POSTAL_CODE"],
        Schedule={
            "StartTime": iso(wall.replace(tzinfo=UTC)),
            "EndTime": iso(wall.replace(tzinfo=UTC) + timedelta(days=30)),
            "Timezone": "UTC",
        },
    )
    local_starts = sorted((wall.replace(tzinfo=ZoneInfo(z)).astimezone(UTC), e) for e, z in zones.items())
    for at, endpoint in local_starts:
        before = at - timedelta(minutes=10) - await journeys.now()
        if before > timedelta(0):
            await journeys.advance(before)
        assert journeys.mails(audience)[endpoint] == []
        await journeys.advance(timedelta(minutes=20))
        assert await journeys.result(journey, endpoint) == "LEFT"
        assert journeys.mails(audience)[endpoint] == ["Hello"]
    assert journeys.mails(audience)["e3"] == []
    [run] = await journeys.run_metrics(journey)
    assert run["metrics"]["ENDPOINT_MISSING_TIMEZONE"] == 1


async def test_segment_update_admits_new_members_at_once(journeys: Journeys, audience: Audience, pinpoint: Any) -> None:
    gold = await _gold_segment(pinpoint, audience)
    journey = await journeys.create(
        audience,
        await _hello_only(pinpoint),
        "hello",
        StartCondition={"SegmentStartCondition": {"SegmentId": gold}},
        RefreshFrequency="P7D",
        RefreshOnSegmentUpdate=True,
        Limits={"EndpointReentryCap": 1},
    )
    await journeys.advance(timedelta(minutes=5))
    assert journeys.mails(audience) == {"e0": ["Hello"], "e1": ["Hello"], "e2": [], "e3": []}
    pinpoint.update_segment(
        ApplicationId=audience.app_id,
        SegmentId=gold,
        WriteSegmentRequest={
            "Name": "gold",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold", "free"]}}},
        },
    )
    await journeys.segment_changed(journey)
    await journeys.advance(timedelta(minutes=5))
    for e in ("e2", "e3"):
        assert await journeys.result(journey, e, "run-1") == "LEFT"
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}
    runs = await journeys.run_metrics(journey)
    assert runs[1]["metrics"]["REENTRY_CAP_EXCEEDED"] == 2  # e0 and e1 entered once already


async def test_sending_schedule_holds_messages_for_open_hours_and_past_closed_days(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    """SendingSchedule: a message waits for the channel's next open window (WaitForQuietTime), and
    a closed day pushes it to the first open window after it."""
    for e in audience.endpoints:
        pinpoint.update_endpoint(
            ApplicationId=audience.app_id, EndpointId=e, EndpointRequest={"Demographic": {"Timezone": "UTC"}}
        )
    now = await journeys.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    await journeys.advance(midnight + timedelta(minutes=20) - now)  # 00:20 UTC
    open_hours = {day: [{"StartTime": "02:00", "EndTime": "04:00"}] for day in WEEKDAYS}
    closed = [
        {
            "Name": "holiday",
            "StartDateTime": iso(midnight + timedelta(days=1, hours=1)),
            "EndDateTime": iso(midnight + timedelta(days=2, hours=5)),
        }
    ]
    journey = await journeys.create(
        audience,
        _hello_wait_again(pinpoint, "P1D"),
        "hello",
        QuietTime={"Start": "22:00", "End": "23:00"},
        WaitForQuietTime=True,
        SendingSchedule=True,
        OpenHours={"EMAIL": open_hours},
        ClosedDays={"EMAIL": closed},
    )
    await journeys.advance(midnight + timedelta(hours=1, minutes=50) - await journeys.now())
    assert journeys.mails(audience) == {e: [] for e in audience.endpoints}  # 01:50: not open yet
    await journeys.advance(timedelta(minutes=20))
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}  # 02:10 sent
    # The wait ends at 02:00 the next day, inside the closed day; the day after, 02:00 is still
    # closed (until 05:00); the first open window after it is 02:00 three days on.
    await journeys.advance(midnight + timedelta(days=3, hours=1, minutes=50) - await journeys.now())
    assert journeys.mails(audience) == {e: ["Hello"] for e in audience.endpoints}
    await journeys.advance(timedelta(minutes=20))
    for e in audience.endpoints:
        assert await journeys.result(journey, e) == "LEFT"
    assert journeys.mails(audience) == {e: ["Hello", "Again"] for e in audience.endpoints}


async def test_a_user_in_the_segment_is_one_participant_for_all_its_endpoints(
    journeys: Journeys, audience: Audience, pinpoint: Any
) -> None:
    """Pinpoint: when the entry segment has user ids, the user is the participant; a message
    goes to each of its endpoints and a split holds when any endpoint passes it."""
    user = f"u-{secrets.token_hex(3)}"
    for e in ("e2", "e3"):
        pinpoint.update_endpoint(
            ApplicationId=audience.app_id, EndpointId=e, EndpointRequest={"User": {"UserId": user}}
        )
    pinpoint.update_endpoint(  # one of the user's endpoints turns gold
        ApplicationId=audience.app_id, EndpointId="e3", EndpointRequest={"Attributes": {"Plan": ["gold"]}}
    )
    gold, free = template(pinpoint, "Gold"), template(pinpoint, "Free")
    journey = await journeys.create(
        audience,
        {
            "check": {
                "ConditionalSplit": {
                    "Condition": {
                        "Conditions": [
                            {
                                "SegmentDimensions": {
                                    "Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}
                                }
                            }
                        ]
                    },
                    "TrueActivity": "gold",
                    "FalseActivity": "free",
                }
            },
            "gold": {"EMAIL": {"TemplateName": gold}},
            "free": {"EMAIL": {"TemplateName": free}},
        },
        "check",
    )
    await journeys.advance(timedelta(minutes=5))
    for participant in ("e0", "e1", user):
        assert await journeys.result(journey, participant) == "LEFT"
    assert journeys.mails(audience) == {"e0": ["Gold"], "e1": ["Gold"], "e2": ["Gold"], "e3": ["Gold"]}
    assert sorted(p["participant"] for p in await journeys.participants(journey)) == sorted(["e0", "e1", user])
    [run] = await journeys.run_metrics(journey)
    assert run["metrics"]["DUPLICATE_USER"] == 1 and run["metrics"]["ENDPOINTS_FROM_USER"] == 2
