"""The layout of a journey's activity graph for the console's canvas (pure, no I/O).

`graph(journey)` takes a journey as the API returns it (`Activities`, `StartActivity`, and
optionally the entry in `StartCondition`) and returns JSON-able nodes and edges with positions:
layered top to bottom, a node's layer being its longest path from the start (so every edge points
down), and the order within a layer chosen by barycentre sweeps to reduce crossings. Pinpoint
journeys cannot loop, but a draft may hold anything that decodes, so back edges are still drawn
and simply ignored by the layering. Used by the journey page (console/journeys.py) and the
editor's preview.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.journey_graph import ACTIVITY_TYPES, paths

ENTRY = "__entry__"  # the entry node's id: activity ids are alphanumeric, so it cannot collide
X_GAP = 200  # px between neighbours in a layer (a node's label is about 160 px wide)
Y_GAP = 110  # px between layers
_SWEEPS = 6

TYPE_NAMES = {
    "EMAIL": "Send email",
    "SMS": "Send SMS",
    "PUSH": "Send push notification",
    "CUSTOM": "Custom channel",
    "Wait": "Wait",
    "ConditionalSplit": "Yes/no split",
    "MultiCondition": "Multivariate split",
    "RandomSplit": "Random split",
    "Holdout": "Holdout",
    "ContactCenter": "Contact center",
    "Entry": "Journey entry",
    "Unknown": "Incomplete activity",
}


def _kind(activity: dict[str, Any]) -> str:
    kinds = [t for t in ACTIVITY_TYPES if activity.get(t) is not None]
    return kinds[0] if len(kinds) == 1 else "Unknown"  # a draft may not have chosen yet


def _edge_label(kind: str, path: str, body: dict[str, Any]) -> str | None:
    if kind == "ConditionalSplit":
        return "Yes" if path == "True" else "No"
    if path == "Else":
        return "else"
    if path.startswith("Branch_"):
        index = int(path.removeprefix("Branch_")) - 1
        branch = (body.get("Branches") or [])[index]
        if kind == "RandomSplit":
            return f"Branch {index + 1} · {branch.get('Percentage', 0)}%"
        return f"Branch {index + 1}"
    return None  # a plain Next needs no words


def _wait(wait: dict[str, Any] | None) -> str | None:
    if not wait:
        return None
    if wait.get("WaitFor"):
        return f"for {wait['WaitFor']}"
    return f"until {wait['WaitUntil']}" if wait.get("WaitUntil") else None


def _template(body: dict[str, Any]) -> list[str]:
    if not body.get("TemplateName"):
        return ["No template"]
    version = f" (version {body['TemplateVersion']})" if body.get("TemplateVersion") else ""
    return [f"Template: {body['TemplateName']}{version}"]


def _details(kind: str, body: dict[str, Any]) -> list[str]:
    """A few short lines saying what the activity does, for the node's tooltip and the table."""
    lines: list[str] = []
    if kind in ("EMAIL", "SMS", "PUSH", "CUSTOM"):
        lines += _template(body)
        if kind == "CUSTOM" and body.get("DeliveryUri"):
            lines.append(f"Delivery: {body['DeliveryUri']}")
    elif kind == "Wait":
        lines.append(f"Wait {_wait(body.get('WaitTime')) or '(no time set)'}")
    elif kind == "ConditionalSplit":
        count = len((body.get("Condition") or {}).get("Conditions") or [])
        lines.append(f"{count} condition{'s' * (count != 1)}")
    elif kind == "MultiCondition":
        lines.append(f"{len(body.get('Branches') or [])} branches and else")
    elif kind == "RandomSplit":
        lines.append(" / ".join(f"{b.get('Percentage', 0)}%" for b in body.get("Branches") or []))
    elif kind == "Holdout":
        lines.append(f"Hold out {body.get('Percentage', 0)}%")
    if kind in ("ConditionalSplit", "MultiCondition") and _wait(body.get("EvaluationWaitTime")):
        lines.append(f"Evaluate {_wait(body.get('EvaluationWaitTime'))}")
    return lines


def _entry_detail(journey: dict[str, Any]) -> list[str]:
    start = journey.get("StartCondition") or {}
    if (start.get("SegmentStartCondition") or {}).get("SegmentId"):
        return [f"Segment {start['SegmentStartCondition']['SegmentId']}"]
    event = (start.get("EventStartCondition") or {}).get("EventFilter") or {}
    types = (((event.get("Dimensions") or {}).get("EventType") or {}).get("Values")) or []
    if types:
        return [f"Event {', '.join(types)}"]
    return ["No entry set"]


def _nodes_and_edges(journey: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    activities: dict[str, Any] = journey.get("Activities") or {}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    for aid, activity in activities.items():
        activity = activity or {}
        kind = _kind(activity)
        body = activity.get(kind) or {} if kind != "Unknown" else {}
        nodes[aid] = {
            "id": aid,
            "type": kind,
            "label": activity.get("Description") or TYPE_NAMES[kind],
            "detail": [TYPE_NAMES[kind], *_details(kind, body)],
        }
        if kind == "Unknown":
            continue
        for path, target in paths({kind: body}):
            # A path to an activity that does not exist is the review's error, not an edge.
            if target and target in activities:
                edges.append({"source": aid, "target": target, "label": _edge_label(kind, path, body)})
    start = journey.get("StartActivity")
    if start in activities or journey.get("StartCondition"):
        nodes = {ENTRY: _entry_node(journey), **nodes}
        if start in activities:
            edges.insert(0, {"source": ENTRY, "target": start, "label": None})
    return nodes, edges


def _entry_node(journey: dict[str, Any]) -> dict[str, Any]:
    return {"id": ENTRY, "type": "Entry", "label": TYPE_NAMES["Entry"], "detail": _entry_detail(journey)}


def _forward_edges(ids: list[str], edges: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The edges minus those closing a cycle, found by a depth-first walk from the roots, and the
    order the walk met the nodes in (paths in their order: Yes before No, branch 1 before 2)."""
    out: dict[str, list[str]] = {i: [] for i in ids}
    indegree = dict.fromkeys(ids, 0)
    for e in edges:
        out[e["source"]].append(e["target"])
        indegree[e["target"]] += 1
    state: dict[str, int] = {}  # 1: on the walk's stack, 2: done; insertion order: met
    forward: list[tuple[str, str]] = []
    # Roots first (the entry, then anything with nothing before it), then whatever a cycle hid.
    for root in [i for i in ids if indegree[i] == 0] + ids:
        if root in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(child) == 1:
                continue  # a back edge: drawn, but not used for the layers
            forward.append((node, child))
            if child not in state:
                state[child] = 1
                stack.append((child, iter(out[child])))
    return forward, list(state)


def _layers(ids: list[str], forward: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a root, by relaxing in topological order (the forward edges are acyclic)."""
    preds: dict[str, list[str]] = {i: [] for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for s, t in forward:
        preds[t].append(s)
        succs[s].append(t)
    waiting = {i: len(preds[i]) for i in ids}
    ready = [i for i in ids if waiting[i] == 0]
    depth = dict.fromkeys(ids, 0)
    while ready:
        node = ready.pop(0)
        for t in succs[node]:
            depth[t] = max(depth[t], depth[node] + 1)
            waiting[t] -= 1
            if waiting[t] == 0:
                ready.append(t)
    return depth


def _crossings(rows: list[list[str]], links: list[tuple[str, str]]) -> int:
    pos = {n: i for row in rows for i, n in enumerate(row)}
    count = 0
    for i, (a, b) in enumerate(links):
        for c, d in links[i + 1 :]:
            if (pos[a] - pos[c]) * (pos[b] - pos[d]) < 0:
                count += 1
    return count


def _centre(node: str, neighbours: dict[str, list[str]], where: dict[str, int], current: int) -> float:
    # A node with no neighbour on the reference row keeps its place.
    linked = [where[m] for m in neighbours.get(node, []) if m in where]
    return sum(linked) / len(linked) if linked else float(current)


def _order(ids: list[str], forward: list[tuple[str, str]], depth: dict[str, int]) -> list[list[str]]:
    """Rows of node ids per layer, long edges broken by virtual nodes, ordered by barycentres."""
    links: list[tuple[str, str]] = []  # edges between adjacent layers only
    layer_of = dict(depth)
    for s, t in forward:
        prev = s
        for d in range(depth[s] + 1, depth[t]):
            virtual = f"\0{s}\0{t}\0{d}"
            layer_of[virtual] = d
            links.append((prev, virtual))
            prev = virtual
        links.append((prev, t))
    rows: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for node in ids + [v for v in layer_of if v not in depth]:  # first-seen order: path order
        rows[layer_of[node]].append(node)
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for s, t in links:
        up.setdefault(t, []).append(s)
        down.setdefault(s, []).append(t)
    best, best_count = [list(r) for r in rows], _crossings(rows, links)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        for li in indices:
            ref = rows[li - 1] if downward else rows[li + 1]
            where = {n: i for i, n in enumerate(ref)}
            neighbours = up if downward else down

            rows[li] = [
                n for _, _, n in sorted((_centre(n, neighbours, where, i), i, n) for i, n in enumerate(rows[li]))
            ]
        count = _crossings(rows, links)
        if count < best_count:
            best, best_count = [list(r) for r in rows], count
    return best


def graph(journey: dict[str, Any]) -> dict[str, Any]:
    """Nodes (id, type, label, detail lines, x, y) and edges (source, target, label) of a journey.

    The entry (segment or event) is a node of type "Entry" with id `ENTRY`, linked to the
    StartActivity; activities nothing leads to stay in the graph (a draft's loose ends), in the
    layer their own successors give them. x runs from 0 to `width`, y from 0 to `height`.
    """
    nodes, edges = _nodes_and_edges(journey)
    forward, ids = _forward_edges(list(nodes), edges)
    rows = _order(ids, forward, _layers(ids, forward))
    widest = max((len(r) for r in rows), default=0)
    for y, row in enumerate(rows):
        offset = (widest - len(row)) / 2  # centre each layer under the widest
        for i, node in enumerate(row):
            if node in nodes:
                nodes[node]["x"] = round((offset + i) * X_GAP)
                nodes[node]["y"] = y * Y_GAP
    return {
        "nodes": list(nodes.values()),
        "edges": edges,
        "width": max(widest - 1, 0) * X_GAP,
        "height": max(len(rows) - 1, 0) * Y_GAP,
    }
