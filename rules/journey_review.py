"""The review before publishing (PINPOINT.md §4.5): what in a stored journey blocks publishing
(errors) and what is probably a mistake (warnings), each naming the activity. Pure: the project's
facts (templates, channels, segments) are passed in, so a DRAFT can be saved half-built and
reviewed at any time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from rules.instants import parse_instant
from rules.journey_activities import MAX_ACTIVITIES
from rules.journey_drafts import gaps
from rules.journey_graph import (
    MESSAGE_TYPES,
    PUSH_CHANNELS,
    SPLITS,
    activity_type,
    conditions,
    paths,
    successors,
    wait_time,
)
from rules.journey_values import offset_mismatch, quiet_spans, schedule_time
from rules.journeys import MAX_LIFETIME


@dataclass(frozen=True)
class Finding:
    activity: str | None  # the activity it is about; None: the journey as a whole
    code: str
    message: str


@dataclass(frozen=True)
class ProjectFacts:
    """What the API looked up in the project, passed in so that review stays pure."""

    templates: frozenset[tuple[str, str]]  # (template type, name)
    template_versions: frozenset[tuple[str, str, str]]  # (template type, name, version)
    channels: frozenset[str]  # enabled channel types
    segments: frozenset[str]  # segment ids
    now: datetime
    # DeliveryUri -> why its Lambda function cannot be invoked (not found, access denied), for the
    # functions a dry run refused; functions that could be invoked, or not checked, are absent.
    functions: Mapping[str, str] = field(default_factory=dict)


class _Message(NamedTuple):
    template_type: str  # the template type TemplateName refers to
    channels: frozenset[str]  # one of them must be enabled; empty: none needed
    channel_words: str
    content: str  # the member without which nothing is sent
    content_words: str


_MESSAGES = {
    "EMAIL": _Message("EMAIL", frozenset({"EMAIL"}), "the EMAIL channel", "TemplateName", "an email template"),
    "SMS": _Message("SMS", frozenset({"SMS"}), "the SMS channel", "TemplateName", "an SMS template"),
    "PUSH": _Message("PUSH", PUSH_CHANNELS, "a push channel (GCM, APNS, BAIDU or ADM)", "TemplateName", "a template"),
    "CUSTOM": _Message("PUSH", frozenset(), "", "DeliveryUri", "a DeliveryUri"),
}


class _Journey:
    """A definition under review, with its activity graph."""

    def __init__(self, definition: dict[str, Any], facts: ProjectFacts) -> None:
        self.definition, self.facts = definition, facts
        self.activities: dict[str, dict[str, Any]] = dict(definition.get("Activities") or {})
        # activity id -> the next ids that name activities, in path order
        self.graph: dict[str, list[str]] = {
            a: [t for _, t in successors(act) if t in self.activities] for a, act in self.activities.items()
        }

    @property
    def start(self) -> str | None:
        start = self.definition.get("StartActivity")
        return start if start in self.activities else None

    def of_type(self, *kinds: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(id, activity, type) of the activities of those types, in id order."""
        for activity_id in sorted(self.activities):
            activity = self.activities[activity_id]
            if activity_type(activity) in kinds:
                yield activity_id, activity, activity_type(activity)

    def reach(self, roots: Iterable[str], stop: Callable[[str], bool] = lambda _: False) -> set[str]:
        """Activities reachable from `roots` (included), not going on from those `stop` accepts."""
        seen: set[str] = set()
        todo = [r for r in roots if r in self.activities]
        while todo:
            activity_id = todo.pop()
            if activity_id not in seen:
                seen.add(activity_id)
                if not stop(activity_id):
                    todo += self.graph[activity_id]
        return seen

    def bypasses(self, target: str, via: str) -> bool:
        """Whether some path from the start reaches `target` without passing `via`."""
        return self.start is not None and target in self.reach([self.start], stop=lambda a: a == via)

    def loop_entries(self) -> set[str]:
        """One activity of each loop: where a depth-first walk from the start comes back."""
        done: set[str] = set()
        found: set[str] = set()
        roots = [*([self.start] if self.start else []), *sorted(self.activities)]
        for root in roots:
            if root in done:
                continue
            stack, on_path = [(root, iter(self.graph[root]))], {root}
            while stack:
                node, nexts = stack[-1]
                target = next(nexts, None)
                if target is None:
                    stack.pop()
                    on_path.discard(node)
                    done.add(node)
                elif target in on_path:
                    found.add(target)
                elif target not in done:
                    stack.append((target, iter(self.graph[target])))
                    on_path.add(target)
        return found

    def segment_missing(self, segment_id: object) -> bool:
        return isinstance(segment_id, str) and segment_id not in self.facts.segments


_Rule = Callable[[_Journey], Iterator[Finding]]


def _start_findings(j: _Journey) -> Iterator[Finding]:
    start, condition = j.definition.get("StartActivity"), j.definition.get("StartCondition") or {}
    if j.start is None:
        why = f"its StartActivity '{start}' is not one of its activities" if start else "it has no StartActivity"
        yield Finding(start or None, "NO_START_ACTIVITY", f"The journey cannot start: {why}.")
    if not (condition.get("SegmentStartCondition") or condition.get("EventStartCondition")):
        yield Finding(None, "NO_START_CONDITION", "The journey has no StartCondition, so no one would enter it.")
    for member in ("SegmentStartCondition", "EventStartCondition"):
        segment_id = (condition.get(member) or {}).get("SegmentId")
        if j.segment_missing(segment_id):
            yield Finding(None, "MISSING_SEGMENT", f"The StartCondition's segment '{segment_id}' does not exist.")
    if len(j.activities) > MAX_ACTIVITIES:
        why = f"The journey has {len(j.activities)} activities; at most {MAX_ACTIVITIES} are allowed."
        yield Finding(None, "TOO_MANY_ACTIVITIES", why)
    mismatch = offset_mismatch(j.definition.get("Schedule") or {})
    if mismatch:
        yield Finding(None, "SCHEDULE_OFFSET_MISMATCH", f"{mismatch}.")


def _graph_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity in sorted(j.activities.items()):
        for label, target in successors(activity):
            if target not in j.activities:
                why = f"Path {label} of activity '{activity_id}' leads to '{target}', which is not an activity."
                yield Finding(activity_id, "MISSING_NEXT_ACTIVITY", why)
    unreachable = set(j.activities) - j.reach([j.start]) if j.start else set()
    for activity_id in sorted(unreachable):
        yield Finding(
            activity_id, "UNREACHABLE_ACTIVITY", f"Activity '{activity_id}' cannot be reached from the start."
        )
    for activity_id in sorted(j.loop_entries()):
        yield Finding(activity_id, "CYCLE", f"Activity '{activity_id}' is on a loop: the journey leads back to it.")


def _message_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity, kind in j.of_type(*MESSAGE_TYPES):
        body, spec = activity[kind], _MESSAGES[kind]
        name, version, what = body.get("TemplateName"), body.get("TemplateVersion"), f"{kind} activity '{activity_id}'"
        if name and (spec.template_type, name) not in j.facts.templates:
            why = f"The {what} uses the {spec.template_type} template '{name}', which does not exist."
            yield Finding(activity_id, "MISSING_TEMPLATE", why)
        elif name and version and (spec.template_type, name, version) not in j.facts.template_versions:
            why = f"The {what} uses version '{version}' of template '{name}', which does not exist."
            yield Finding(activity_id, "MISSING_TEMPLATE", why)
        if not body.get(spec.content):
            yield Finding(activity_id, "NO_CONTENT", f"The {what} sends nothing: it needs {spec.content_words}.")
        if spec.channels and not spec.channels & j.facts.channels:
            why = f"The {what} needs {spec.channel_words}, which the project has not enabled."
            yield Finding(activity_id, "CHANNEL_NOT_ENABLED", why)


def _unsupported_findings(j: _Journey) -> Iterator[Finding]:
    for activity_id, _activity, _kind in j.of_type("ContactCenter"):
        why = f"ContactCenter activity '{activity_id}' cannot run: OpenPoint cannot dial through Amazon Connect."
        yield Finding(activity_id, "CONTACT_CENTER_UNSUPPORTED", why)


def _function_findings(j: _Journey) -> Iterator[Finding]:
    """CUSTOM activities whose Lambda function the API could not invoke (a dry run) just now."""
    for activity_id, activity, kind in j.of_type("CUSTOM"):
        problem = j.facts.functions.get(activity[kind].get("DeliveryUri") or "")
        if problem is not None:
            why = f"CUSTOM activity '{activity_id}' cannot invoke its Lambda function: {problem}"
            yield Finding(activity_id, "FUNCTION_NOT_INVOCABLE", why)


def _draft_findings(j: _Journey) -> Iterator[Finding]:
    """What a DRAFT still lacks (a Wait's WaitTime, a split's conditions): saved, not published."""
    for gap in gaps(j.definition):
        yield Finding(gap.activity, gap.code, gap.message)


def _wait_findings(j: _Journey) -> Iterator[Finding]:
    end = schedule_time((j.definition.get("Schedule") or {}).get("EndTime"))
    for activity_id, activity, _kind in j.of_type("Wait", "ConditionalSplit", "MultiCondition"):
        raw = (wait_time(activity) or {}).get("WaitUntil")
        until = parse_instant(raw)
        if until is not None and end is not None and until >= end:
            yield Finding(activity_id, "WAIT_PAST_END", f"Activity '{activity_id}' waits until the journey has ended.")
        if until is not None and until < j.facts.now:
            yield Finding(activity_id, "WAIT_IN_PAST", f"Activity '{activity_id}' waits until a time that has passed.")


def _condition_findings(j: _Journey) -> Iterator[Finding]:
    messages = {activity_id for activity_id, _activity, _kind in j.of_type(*MESSAGE_TYPES)}
    for activity_id, activity, _kind in j.of_type("ConditionalSplit", "MultiCondition"):
        for condition in conditions(activity):
            segment_id = (condition.get("SegmentCondition") or {}).get("SegmentId")
            if j.segment_missing(segment_id):
                why = f"Activity '{activity_id}' tests segment '{segment_id}', which does not exist."
                yield Finding(activity_id, "MISSING_SEGMENT", why)
            source = (condition.get("EventCondition") or {}).get("MessageActivity")
            if condition.get("EventCondition") is None:
                continue
            if source not in messages:
                why = f"Activity '{activity_id}' tests engagement with '{source}', which is not a message activity."
                yield Finding(activity_id, "UNKNOWN_MESSAGE_ACTIVITY", why)
            elif j.bypasses(activity_id, source):
                why = f"Activity '{activity_id}' tests engagement with '{source}', which some participants skip."
                yield Finding(activity_id, "MESSAGE_ACTIVITY_NOT_BEFORE_SPLIT", why)


def _journey_warnings(j: _Journey) -> Iterator[Finding]:
    definition = j.definition
    if not (definition.get("Schedule") or {}).get("EndTime"):
        why = f"The journey has no EndTime, so it runs for {MAX_LIFETIME.days} days, the longest allowed."
        yield Finding(None, "NO_END_TIME", why)
    if not quiet_spans(definition.get("QuietTime")) and any(j.of_type(*MESSAGE_TYPES)):
        why = "The journey has no QuietTime, so its messages may go out at night unless the project sets one."
        yield Finding(None, "NO_QUIET_TIME", why)
    if (definition.get("OpenHours") or definition.get("ClosedDays")) and not definition.get("SendingSchedule"):
        why = "The journey's OpenHours and ClosedDays are ignored because SendingSchedule is not true."
        yield Finding(None, "SENDING_SCHEDULE_OFF", why)


def _split_warnings(j: _Journey) -> Iterator[Finding]:
    for activity_id, activity, _kind in j.of_type(*SPLITS):
        for label, target in paths(activity):
            if not target:
                why = f"Path {label} of activity '{activity_id}' leads to no activity, so it ends the journey."
                yield Finding(activity_id, "EMPTY_PATH", why)
        if wait_time(activity) is not None:
            continue  # evaluated later than arrival
        sources = {c["EventCondition"].get("MessageActivity") for c in conditions(activity) if c.get("EventCondition")}
        for source in sorted(s for s in sources if s in j.activities):
            # Waits and timed splits between the message and this split give engagement time to happen.
            if activity_id in j.reach(j.graph[source], stop=lambda a: wait_time(j.activities[a]) is not None):
                why = (
                    f"Activity '{activity_id}' tests engagement with '{source}' as participants arrive, before they "
                    "can have engaged: give it an EvaluationWaitTime or put a Wait before it."
                )
                yield Finding(activity_id, "SPLIT_WITHOUT_WAIT_AFTER_MESSAGE", why)


_ERRORS: tuple[_Rule, ...] = (
    _start_findings,
    _graph_findings,
    _message_findings,
    _unsupported_findings,
    _function_findings,
    _draft_findings,
    _wait_findings,
    _condition_findings,
)
_WARNINGS: tuple[_Rule, ...] = (_journey_warnings, _split_warnings)


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.activity is not None, f.activity or "", f.code, f.message))


def review(definition: dict[str, Any], facts: ProjectFacts) -> tuple[list[Finding], list[Finding]]:
    """(errors, warnings) of a stored journey definition (one that passed check_journey); errors block
    publishing (State ACTIVE), warnings do not. Sorted by activity (the journey's own first), then code."""
    journey = _Journey(definition, facts)
    return (
        _ordered(f for rule in _ERRORS for f in rule(journey)),
        _ordered(f for rule in _WARNINGS for f in rule(journey)),
    )
