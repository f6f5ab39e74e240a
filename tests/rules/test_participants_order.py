"""A participant's steps in the order it took them, walked steps sharing one workflow time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rules.participants import in_path_order

T0, T1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


def step(activity: str, nxt: str | None, at: datetime) -> dict[str, Any]:
    return {"activity_id": activity, "next_activity": nxt, "at": at}


def order(*steps: dict[str, Any]) -> list[str]:
    return [s["activity_id"] for s in in_path_order(list(steps))]


def test_steps_taken_in_one_call_follow_their_links_not_their_names() -> None:
    assert order(step("hello", "check", T0), step("check", "gold", T0), step("gold", None, T0)) == [
        "hello",
        "check",
        "gold",
    ]


def test_time_first_then_links() -> None:
    assert order(step("zz-send2", None, T1), step("wait", "zz-send2", T0), step("send1", "wait", T0)) == [
        "send1",
        "wait",
        "zz-send2",
    ]


def test_a_cycle_keeps_each_step_once() -> None:
    assert sorted(order(step("a", "b", T0), step("b", "a", T0))) == ["a", "b"]
    assert len(order(step("a", "b", T0), step("b", "a", T0))) == 2
