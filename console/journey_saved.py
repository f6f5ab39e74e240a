"""A saved journey (a JourneyResponse) as the journey editor's form (console/journey_form.py
holds the form and its WriteJourneyRequest): the cards in the order a participant meets them, and
what in the journey the editor cannot show, so that the page can say why it will not save it
(saving would drop what it does not show)."""

from __future__ import annotations

from typing import Any

from console.journey_form import KINDS, MESSAGES, Activity, Branch, Condition, Draft, local_value


def _condition_of(simple: dict[str, Any], problems: list[str], where: str) -> Condition:
    if set(simple) - {"EventCondition", "SegmentCondition"} or len(simple) != 1:
        problems.append(f"{where}: a condition on segment dimensions")
        return Condition()
    if "SegmentCondition" in simple:
        return Condition("segment", segment=simple["SegmentCondition"].get("SegmentId") or "")
    event = simple["EventCondition"]
    dims = event.get("Dimensions") or {}
    if set(dims) - {"EventType"}:
        problems.append(f"{where}: an event condition on attributes or metrics")
    values = ", ".join((dims.get("EventType") or {}).get("Values") or [])
    return Condition("event", message=event.get("MessageActivity") or "", events=values)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _activity_of(activity_id: str, activity: dict[str, Any], problems: list[str]) -> Activity | None:
    kinds = [k for k in activity if k in KINDS]
    if len(kinds) != 1 or set(activity) - {*KINDS, "Description"}:
        problems.append(f"activity {activity_id}: a kind the editor does not build")
        return None
    kind = kinds[0]
    body = activity[kind]
    a = Activity(activity_id, kind, description=activity.get("Description") or "")
    if kind in MESSAGES:
        a.template, a.version = body.get("TemplateName") or "", body.get("TemplateVersion") or ""
        a.delivery_uri, a.next = body.get("DeliveryUri") or "", body.get("NextActivity") or ""
        if body.get("MessageConfig") or body.get("EndpointTypes"):
            problems.append(f"activity {activity_id}: message settings (MessageConfig, EndpointTypes)")
    elif kind in ("Wait", "Holdout"):
        wait = body.get("WaitTime") or {}
        a.wait = "until" if wait.get("WaitUntil") else "for"
        a.wait_for, a.wait_until = wait.get("WaitFor") or "", local_value(wait.get("WaitUntil"))
        a.percentage, a.next = _text(body.get("Percentage")), body.get("NextActivity") or ""
    else:
        evaluation = body.get("EvaluationWaitTime") or {}
        if evaluation.get("WaitUntil"):
            problems.append(f"activity {activity_id}: an evaluation wait until a time")
        a.evaluation = evaluation.get("WaitFor") or ""
    if kind == "ConditionalSplit":
        conditions = (body.get("Condition") or {}).get("Conditions") or []
        if len(conditions) > 1:
            problems.append(f"activity {activity_id}: more than one condition")
        a.condition = _condition_of(conditions[0], problems, f"activity {activity_id}") if conditions else Condition()
        a.next, a.other = body.get("TrueActivity") or "", body.get("FalseActivity") or ""
    elif kind == "MultiCondition":
        a.next = body.get("DefaultActivity") or ""
        for b in body.get("Branches") or []:
            condition = _condition_of(b.get("Condition") or {"EventCondition": {}}, problems, f"activity {activity_id}")
            a.branches.append(Branch(b.get("NextActivity") or "", condition=condition))
    elif kind == "RandomSplit":
        for b in body.get("Branches") or []:
            a.branches.append(Branch(b.get("NextActivity") or "", _text(b.get("Percentage"))))
    return a


def from_journey(journey: dict[str, Any]) -> tuple[Draft, list[str]]:
    """The draft of a saved journey (a JourneyResponse) and what in it the editor cannot show (if
    anything, the page is read-only: saving would drop it)."""
    problems: list[str] = []
    start = journey.get("StartCondition") or {}
    event = start.get("EventStartCondition")
    limits, schedule, quiet = journey.get("Limits") or {}, journey.get("Schedule") or {}, journey.get("QuietTime") or {}
    d = Draft(
        name=journey.get("Name") or "",
        entry="event" if event else "segment",
        segment=((event or start.get("SegmentStartCondition") or {}).get("SegmentId")) or "",
        start=local_value(schedule.get("StartTime")),
        end=local_value(schedule.get("EndTime")),
        timezone=schedule.get("Timezone") or "",
        local_time=bool(journey.get("LocalTime")),
        refresh=journey.get("RefreshFrequency") or "",
        quiet_start=quiet.get("Start") or "",
        quiet_end=quiet.get("End") or "",
        daily_cap=_text(limits.get("DailyCap")),
        total_cap=_text(limits.get("TotalCap")),
        reentry_cap=_text(limits.get("EndpointReentryCap")),
        reentry_interval=limits.get("EndpointReentryInterval") or "",
        per_second=_text(limits.get("MessagesPerSecond")),
        start_activity=journey.get("StartActivity") or "",
    )
    if event:
        dims = (event.get("EventFilter") or {}).get("Dimensions") or {}
        d.events = ", ".join((dims.get("EventType") or {}).get("Values") or [])
        attributes, metrics = dims.get("Attributes") or {}, dims.get("Metrics") or {}
        if len(attributes) > 1 or len(metrics) > 1 or (event.get("EventFilter") or {}).get("FilterType") != "ENDPOINT":
            problems.append("entry: more than one attribute or metric filter, or a system event filter")
        for name, a in list(attributes.items())[:1]:
            d.attribute, d.attribute_op = name, a.get("AttributeType") or "INCLUSIVE"
            d.attribute_values = ", ".join(a.get("Values") or [])
        for name, m in list(metrics.items())[:1]:
            d.metric, d.metric_op, d.metric_value = name, m.get("ComparisonOperator") or "EQUAL", f"{m.get('Value'):g}"
    for activity_id, activity in (journey.get("Activities") or {}).items():
        found = _activity_of(activity_id, activity, problems)
        if found is not None:
            d.activities.append(found)
    d.activities = _in_path_order(d.activities, d.start_activity)
    return d, problems


def _in_path_order(activities: list[Activity], start: str) -> list[Activity]:
    """Cards in the order a participant meets them (breadth first from the first activity), then
    any not reached: the stored order is the database's (JSONB sorts keys), not the author's."""
    by_id = {a.id: a for a in activities}
    order: list[str] = []
    queue = [start]
    while queue:
        current = queue.pop(0)
        if current in by_id and current not in order:
            order.append(current)
            a = by_id[current]
            branches = [b.next for b in a.branches]
            # A multivariate split's default (kept in `next`) comes after its branches.
            queue += [*branches, a.next] if a.kind == "MultiCondition" else [a.next, a.other, *branches]
    return [by_id[i] for i in order] + [a for a in activities if a.id not in order]
