"""The journey canvas's layout (console/journey_graph.py): pure, no browser, no stack."""

from __future__ import annotations

import json
from typing import Any

from console.journey_graph import ENTRY, X_GAP, Y_GAP, graph


def _email(next_activity: str | None = None) -> dict[str, Any]:
    return {"EMAIL": {"TemplateName": "welcome", **({"NextActivity": next_activity} if next_activity else {})}}


def _positions(g: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {n["id"]: (n["x"], n["y"]) for n in g["nodes"]}


def _edges(g: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(e["source"], e["target"], e["label"]) for e in g["edges"]}


def test_a_chain_is_a_straight_column_from_the_entry() -> None:
    journey = {
        "StartActivity": "a",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": "seg1"}},
        "Activities": {"a": _email("b"), "b": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "c"}},
                       "c": _email()},
    }  # fmt: skip
    g = graph(journey)
    assert _positions(g) == {ENTRY: (0, 0), "a": (0, Y_GAP), "b": (0, 2 * Y_GAP), "c": (0, 3 * Y_GAP)}
    assert _edges(g) == {(ENTRY, "a", None), ("a", "b", None), ("b", "c", None)}
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes[ENTRY]["detail"] == ["Segment seg1"]
    assert nodes["a"]["label"] == "Send email" and "Template: welcome" in nodes["a"]["detail"]
    assert nodes["b"]["detail"] == ["Wait", "Wait for PT1H"]
    json.dumps(g)  # JSON-able, as the page's data island needs


def test_split_labels_yes_no_branches_percentages_and_else() -> None:
    journey = {
        "StartActivity": "yn",
        "Activities": {
            "yn": {"ConditionalSplit": {"TrueActivity": "multi", "FalseActivity": "rnd"}},
            "multi": {"MultiCondition": {"Branches": [{"NextActivity": "a"}, {"NextActivity": "b"}],
                                         "DefaultActivity": "c"}},
            "rnd": {"RandomSplit": {"Branches": [{"Percentage": 40, "NextActivity": "d"},
                                                 {"Percentage": 60, "NextActivity": "e"}]}},
            "a": _email(), "b": _email(), "c": _email(), "d": _email(), "e": _email(),
        },
    }  # fmt: skip
    edges = _edges(graph(journey))
    assert ("yn", "multi", "Yes") in edges and ("yn", "rnd", "No") in edges
    assert {("multi", "a", "Branch 1"), ("multi", "b", "Branch 2"), ("multi", "c", "else")} <= edges
    assert {("rnd", "d", "Branch 1 · 40%"), ("rnd", "e", "Branch 2 · 60%")} <= edges


def test_the_layer_is_the_longest_path_from_the_start() -> None:
    # a -> b -> c and a -> c: c sits below b, so every edge points down.
    journey = {
        "StartActivity": "a",
        "Activities": {
            "a": {"ConditionalSplit": {"TrueActivity": "b", "FalseActivity": "c"}},
            "b": _email("c"),
            "c": _email(),
        },
    }
    pos = _positions(graph(journey))
    assert pos["a"][1] < pos["b"][1] < pos["c"][1]


def test_crossings_are_undone_by_the_ordering() -> None:
    # Two splits whose children are listed crosswise: the layout orders the lower layer to match.
    journey = {
        "StartActivity": "s",
        "Activities": {
            "s": {"ConditionalSplit": {"TrueActivity": "l", "FalseActivity": "r"}},
            "l": {"ConditionalSplit": {"TrueActivity": "l1", "FalseActivity": "l2"}},
            "r": {"ConditionalSplit": {"TrueActivity": "r1", "FalseActivity": "r2"}},
            "r1": _email(), "l1": _email(), "r2": _email(), "l2": _email(),
        },
    }  # fmt: skip
    pos = _positions(graph(journey))
    left_children = max(pos["l1"][0], pos["l2"][0])
    right_children = min(pos["r1"][0], pos["r2"][0])
    assert (pos["l"][0] < pos["r"][0]) == (left_children < right_children)
    xs = sorted(x for _, (x, y) in pos.items() if y == pos["l1"][1])
    assert xs == [0, X_GAP, 2 * X_GAP, 3 * X_GAP]


def test_a_cycle_is_drawn_but_does_not_hang_the_layout() -> None:
    journey = {"StartActivity": "a", "Activities": {"a": _email("b"), "b": _email("a")}}
    g = graph(journey)
    assert ("b", "a", None) in _edges(g)
    pos = _positions(g)
    assert pos["a"][1] < pos["b"][1]


def test_a_half_built_draft_is_drawn() -> None:
    # No start, an activity without a type, a path to an activity that does not exist.
    journey = {"Activities": {"x": {}, "y": _email("gone"), "z": {"Holdout": {"Percentage": 10}}}}
    g = graph(journey)
    nodes = {n["id"]: n for n in g["nodes"]}
    assert set(nodes) == {"x", "y", "z"}
    assert nodes["x"]["type"] == "Unknown" and nodes["x"]["label"] == "Incomplete activity"
    assert nodes["z"]["detail"] == ["Holdout", "Hold out 10%"]
    assert g["edges"] == []


def test_an_empty_journey() -> None:
    assert graph({}) == {"nodes": [], "edges": [], "width": 0, "height": 0}


def test_an_event_entry_and_descriptions() -> None:
    journey = {
        "StartActivity": "a",
        "StartCondition": {"EventStartCondition": {"EventFilter": {"Dimensions": {
            "EventType": {"DimensionType": "INCLUSIVE", "Values": ["signup"]}}}}},
        "Activities": {"a": {"Description": "Say hello", **_email()}},
    }  # fmt: skip
    nodes = {n["id"]: n for n in graph(journey)["nodes"]}
    assert nodes[ENTRY]["detail"] == ["Event signup"]
    assert nodes["a"]["label"] == "Say hello"


def test_paths_are_laid_out_in_their_order() -> None:
    # Yes to the left of No, branch 1 before branch 2, whatever the order of the activities' keys.
    journey = {
        "StartActivity": "s",
        "Activities": {"zno": _email(), "ayes": _email(), "s": {"ConditionalSplit": {"TrueActivity": "zno",
                                                                                      "FalseActivity": "ayes"}}},
    }  # fmt: skip
    pos = _positions(graph(journey))
    assert pos["zno"][0] < pos["ayes"][0]
