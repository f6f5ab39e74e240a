"""The journey editor's form: the fields a browser posts -> Pinpoint's WriteJourneyRequest
(which CreateJourney's / UpdateJourney's own code then validates), the editor's buttons, and
where an API error goes (a saved journey -> the form: console/journey_saved.py). Nothing here
validates values: a bad one goes to the API's code as typed (a percentage that is not a number
stays text, for the model to refuse by name), and its error comes back to the field it names
(`field_of`).

Activities are cards `a{i}.*` in the order shown; their ids are made here (`email1`, `wait2`:
letters and digits, as Pinpoint requires) and kept in a hidden field, so the next-activity
selects keep pointing at the same card when others are added or removed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rules.schedules import parse_timezone

KINDS: dict[str, str] = {  # the activity types the editor builds, in Pinpoint console's order
    "EMAIL": "Send an email", "SMS": "Send an SMS", "PUSH": "Send a push notification",
    "CUSTOM": "Custom channel", "Wait": "Wait", "ConditionalSplit": "Yes/no split",
    "MultiCondition": "Multivariate split", "RandomSplit": "Random split", "Holdout": "Holdout",
}  # fmt: skip
MESSAGES = ("EMAIL", "SMS", "PUSH", "CUSTOM")
TEMPLATE_TYPE = {"EMAIL": "EMAIL", "SMS": "SMS", "PUSH": "PUSH", "CUSTOM": "PUSH"}  # what TemplateName names
_ID_PREFIX = {"EMAIL": "email", "SMS": "sms", "PUSH": "push", "CUSTOM": "custom", "Wait": "wait",
              "ConditionalSplit": "yesno", "MultiCondition": "multi", "RandomSplit": "random",
              "Holdout": "holdout"}  # fmt: skip
COMPARISONS = ["EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL"]
ATTRIBUTE_TYPES = ["INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN"]
MAX_ACTIVITIES, MAX_BRANCHES = 40, 5  # Pinpoint's quota; a random split's most branches
# Members the form does not show: an edit carries them over from the saved journey unchanged.
CARRIED = ("OpenHours", "ClosedDays", "JourneyChannelSettings", "SendingSchedule", "TimezoneEstimationMethods",
           "WaitForQuietTime", "RefreshOnSegmentUpdate")  # fmt: skip


@dataclass
class Condition:
    """One SimpleCondition: an event of an earlier message activity, or segment membership."""

    kind: str = "event"  # "event" | "segment"
    message: str = ""  # EventCondition.MessageActivity
    events: str = ""  # its EventType values, comma-separated (_email.open, ...)
    segment: str = ""  # SegmentCondition.SegmentId


@dataclass
class Branch:
    next: str = ""
    percentage: str = ""  # RandomSplit
    condition: Condition = field(default_factory=Condition)  # MultiCondition


@dataclass
class Activity:
    id: str
    kind: str
    description: str = ""
    next: str = ""  # NextActivity; TrueActivity of a yes/no split; DefaultActivity of a multivariate one
    other: str = ""  # FalseActivity
    template: str = ""
    version: str = ""
    delivery_uri: str = ""  # CUSTOM
    wait: str = "for"  # "for" (WaitFor, a duration) | "until" (WaitUntil, a UTC time)
    wait_for: str = ""
    wait_until: str = ""
    percentage: str = ""  # Holdout
    condition: Condition = field(default_factory=Condition)  # ConditionalSplit
    evaluation: str = ""  # EvaluationWaitTime.WaitFor of a split
    branches: list[Branch] = field(default_factory=list)


@dataclass
class Draft:
    name: str = ""
    entry: str = "segment"  # "segment" | "event"
    segment: str = ""  # the entry's segment (optional for an event entry)
    events: str = ""  # the event entry's EventType values
    attribute: str = ""  # one optional attribute filter on the event
    attribute_op: str = "INCLUSIVE"
    attribute_values: str = ""
    metric: str = ""  # one optional metric filter on the event
    metric_op: str = "EQUAL"
    metric_value: str = ""
    start: str = ""  # datetime-local in the journey's timezone
    end: str = ""
    timezone: str = ""
    local_time: bool = False
    refresh: str = ""
    quiet_start: str = ""
    quiet_end: str = ""
    daily_cap: str = ""
    total_cap: str = ""
    reentry_cap: str = ""
    reentry_interval: str = ""
    per_second: str = ""
    start_activity: str = ""
    activities: list[Activity] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [a.id for a in self.activities]


_TEXT = ("name", "segment", "events", "attribute", "attribute_values", "metric", "metric_value", "start", "end",
         "timezone", "refresh", "quiet_start", "quiet_end", "daily_cap", "total_cap", "reentry_cap",
         "reentry_interval", "per_second", "start_activity")  # fmt: skip
_ACTIVITY_TEXT = ("description", "next", "other", "template", "version", "delivery_uri", "wait_for", "wait_until",
                  "percentage", "evaluation")  # fmt: skip
_ID = re.compile(r"[A-Za-z0-9]{1,100}")


def _pick(value: str, allowed: list[str] | tuple[str, ...], default: str) -> str:
    return value if value in allowed else default


def _condition(form: Any, at: str) -> Condition:
    kind, message, events, segment = (str(form.get(f"{at}.{k}", "")) for k in ("kind", "message", "events", "segment"))
    return Condition(_pick(kind, ("event", "segment"), "event"), message, events, segment)


def from_form(form: Any) -> Draft:
    """`form` is Starlette's FormData (or any mapping with `get`). Journey fields by name; per
    activity `a{i}.id|kind|...`, its condition `a{i}.c.*`, its branches `a{i}.b{j}.*`."""
    draft = Draft()
    for k in _TEXT:
        setattr(draft, k, str(form.get(k, "")))
    draft.entry = _pick(str(form.get("entry", "")), ("segment", "event"), "segment")
    draft.attribute_op = _pick(str(form.get("attribute_op", "")), ATTRIBUTE_TYPES, "INCLUSIVE")
    draft.metric_op = _pick(str(form.get("metric_op", "")), COMPARISONS, "EQUAL")
    draft.local_time = bool(form.get("local_time"))
    for i in range(MAX_ACTIVITIES):
        at = f"a{i}"
        kind, activity_id = str(form.get(f"{at}.kind", "")), str(form.get(f"{at}.id", ""))
        if kind not in KINDS or not _ID.fullmatch(activity_id):
            break
        activity = Activity(activity_id, kind)
        for k in _ACTIVITY_TEXT:
            setattr(activity, k, str(form.get(f"{at}.{k}", "")))
        activity.wait = _pick(str(form.get(f"{at}.wait", "")), ("for", "until"), "for")
        activity.condition = _condition(form, f"{at}.c")
        for j in range(MAX_BRANCHES):
            b = f"{at}.b{j}"
            if form.get(f"{b}.next") is None:
                break
            branch = Branch(str(form.get(f"{b}.next", "")), str(form.get(f"{b}.percentage", "")))
            branch.condition = _condition(form, f"{b}.c")
            activity.branches.append(branch)
        draft.activities.append(activity)
    return draft


# -- the form -> WriteJourneyRequest ----------------------------------------------------------------
def _list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _int(text: str) -> Any:
    """A whole number when the text is one; else the text itself, for the model to refuse by name."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,12}", text) else text


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    """Only what was filled in: an empty field is an absent member, as a boto3 caller leaves it."""
    if value not in ("", None, [], {}):
        out[key] = value


def _offset(timezone: str) -> str:
    """The ISO-8601 suffix of a Pinpoint offset label (StartTime must carry the journey's offset)."""
    try:
        delta = parse_timezone(timezone).utcoffset(None) if timezone else None
    except Exception:  # noqa: BLE001 - an unknown label: the API's check names Schedule.Timezone
        delta = None
    if not delta:
        return "Z"
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _instant(local: str, suffix: str) -> str:
    local = local.strip()
    return f"{local}:00{suffix}" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", local) else local


def _simple(c: Condition) -> dict[str, Any]:
    if c.kind == "segment":
        return {"SegmentCondition": {"SegmentId": c.segment}}
    event: dict[str, Any] = {}
    _set(event, "MessageActivity", c.message)
    if _list(c.events):
        event["Dimensions"] = {"EventType": {"DimensionType": "INCLUSIVE", "Values": _list(c.events)}}
    return {"EventCondition": event}


def _evaluation(out: dict[str, Any], a: Activity) -> None:
    if a.evaluation.strip():
        out["EvaluationWaitTime"] = {"WaitFor": a.evaluation.strip()}


def _activity_body(a: Activity) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if a.kind in MESSAGES:
        _set(out, "TemplateName", a.template)
        _set(out, "TemplateVersion", a.version.strip())
        if a.kind == "CUSTOM":
            _set(out, "DeliveryUri", a.delivery_uri.strip())
        _set(out, "NextActivity", a.next)
    elif a.kind == "Wait":
        wait = {"WaitFor": a.wait_for.strip()} if a.wait == "for" else {"WaitUntil": _instant(a.wait_until, "Z")}
        _set(out, "WaitTime", {k: v for k, v in wait.items() if v})
        _set(out, "NextActivity", a.next)
    elif a.kind == "Holdout":
        _set(out, "Percentage", _int(a.percentage))
        _set(out, "NextActivity", a.next)
    elif a.kind == "ConditionalSplit":
        out["Condition"] = {"Conditions": [_simple(a.condition)]}
        _evaluation(out, a)
        _set(out, "TrueActivity", a.next)
        _set(out, "FalseActivity", a.other)
    elif a.kind == "MultiCondition":
        branches = []
        for b in a.branches:
            branch: dict[str, Any] = {"Condition": _simple(b.condition)}
            _set(branch, "NextActivity", b.next)
            branches.append(branch)
        out["Branches"] = branches
        _evaluation(out, a)
        _set(out, "DefaultActivity", a.next)
    elif a.kind == "RandomSplit":
        entries = []
        for b in a.branches:
            entry: dict[str, Any] = {}
            _set(entry, "Percentage", _int(b.percentage))
            _set(entry, "NextActivity", b.next)
            entries.append(entry)
        out["Branches"] = entries
    return out


def _start_condition(d: Draft) -> dict[str, Any]:
    if d.entry == "segment":
        return {"SegmentStartCondition": {"SegmentId": d.segment}} if d.segment else {}
    dimensions: dict[str, Any] = {"EventType": {"DimensionType": "INCLUSIVE", "Values": _list(d.events)}}
    if d.attribute.strip():
        attribute = {"AttributeType": d.attribute_op, "Values": _list(d.attribute_values)}
        dimensions["Attributes"] = {d.attribute.strip(): attribute}
    if d.metric.strip():
        dimensions["Metrics"] = {
            d.metric.strip(): {"ComparisonOperator": d.metric_op, "Value": _number(d.metric_value)}
        }
    event: dict[str, Any] = {"EventFilter": {"FilterType": "ENDPOINT", "Dimensions": dimensions}}
    _set(event, "SegmentId", d.segment)
    return {"EventStartCondition": event}


def local_value(instant: Any) -> str:
    """ISO-8601 text as stored ('2027-01-05T09:00:00+09:00') -> the datetime-local value."""
    text = str(instant or "")
    return text[:16] if re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text) else text


def to_request(d: Draft, keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """The WriteJourneyRequest the draft stands for, as a boto3 caller would send it; `keep`: the
    saved definition, whose members the form does not show are carried over unchanged."""
    out: dict[str, Any] = {"Name": d.name}
    activities = {}
    for a in d.activities:
        activity: dict[str, Any] = {a.kind: _activity_body(a)}
        _set(activity, "Description", a.description)
        activities[a.id] = activity
    _set(out, "Activities", activities)
    _set(out, "StartActivity", d.start_activity)
    _set(out, "StartCondition", _start_condition(d))
    keep = keep or {}
    schedule: dict[str, Any] = {}
    kept = keep.get("Schedule") or {}
    for member, local in (("StartTime", d.start), ("EndTime", d.end)):
        # A time the form shows to the minute, unchanged: the saved one as it was (its seconds
        # too), or an ACTIVE journey's StartTime would read as changed.
        same = kept.get(member) and local_value(kept[member]) == local and kept.get("Timezone", "") == d.timezone
        _set(schedule, member, kept[member] if same else _instant(local, _offset(d.timezone)))
    _set(schedule, "Timezone", d.timezone)
    _set(out, "Schedule", schedule)
    limits: dict[str, Any] = {}
    for member, text in (("DailyCap", d.daily_cap), ("TotalCap", d.total_cap), ("EndpointReentryCap", d.reentry_cap),
                         ("MessagesPerSecond", d.per_second)):  # fmt: skip
        _set(limits, member, _int(text))
    _set(limits, "EndpointReentryInterval", d.reentry_interval.strip())
    if (keep.get("Limits") or {}).get("TimeframeCap"):
        limits["TimeframeCap"] = keep["Limits"]["TimeframeCap"]
    _set(out, "Limits", limits)
    if d.quiet_start or d.quiet_end:
        out["QuietTime"] = {k: v for k, v in (("Start", d.quiet_start), ("End", d.quiet_end)) if v}
    if d.local_time:
        out["LocalTime"] = True
    _set(out, "RefreshFrequency", d.refresh.strip())
    for member in CARRIED:
        if keep.get(member) is not None:
            out[member] = keep[member]
    return out


# -- the editor's buttons, and where an error goes ----------------------------------------------------
def new_id(kind: str, taken: list[str]) -> str:
    n = 1
    while f"{_ID_PREFIX[kind]}{n}" in taken:
        n += 1
    return f"{_ID_PREFIX[kind]}{n}"


def apply(d: Draft, action: str, new_kind: str) -> None:
    """An editor button: `add` (an empty card of `new_kind`), `remove:{i}` (paths to it end
    instead), `add-branch:{i}`, `remove-branch:{i}.{j}`. Anything out of range does nothing."""
    verb, _, where = action.partition(":")
    at = [int(p) for p in where.split(".") if p.isdigit()]
    if verb == "add" and new_kind in KINDS and len(d.activities) < MAX_ACTIVITIES:
        activity = Activity(new_id(new_kind, d.ids()), new_kind)
        activity.branches = [Branch(percentage="50"), Branch(percentage="50")] if new_kind == "RandomSplit" else []
        activity.branches += [Branch()] if new_kind == "MultiCondition" else []
        d.activities.append(activity)
        d.start_activity = d.start_activity or activity.id
    elif verb == "remove" and len(at) == 1 and at[0] < len(d.activities):
        gone = d.activities.pop(at[0]).id
        for a in d.activities:
            a.next, a.other = ("" if a.next == gone else a.next), ("" if a.other == gone else a.other)
            for b in a.branches:
                b.next = "" if b.next == gone else b.next
        d.start_activity = "" if d.start_activity == gone else d.start_activity
    elif verb in ("add-branch", "remove-branch") and at and at[0] < len(d.activities):
        branches = d.activities[at[0]].branches
        if verb == "add-branch" and len(branches) < MAX_BRANCHES:
            branches.append(Branch())
        elif verb == "remove-branch" and len(at) == 2 and at[1] < len(branches):
            del branches[at[1]]


_ACTIVITY_AT = re.compile(
    r"Activities\.([A-Za-z0-9]+)(?:\.[A-Za-z]+)?(?:\.([A-Za-z]+))?(?:\[(\d+)\])?(?:\.([A-Za-z]+))?"
)
_MEMBER_FIELDS = {"TemplateName": "template", "TemplateVersion": "version", "DeliveryUri": "delivery_uri",
                  "WaitTime": "wait", "Percentage": "percentage", "Condition": "condition",
                  "EvaluationWaitTime": "evaluation", "NextActivity": "next", "TrueActivity": "next",
                  "DefaultActivity": "next", "FalseActivity": "other", "MessageConfig": "",
                  "Branches": "branches"}  # fmt: skip
_JOURNEY_FIELDS = (("Schedule.EndTime", "end"), ("Schedule.Timezone", "timezone"), ("Schedule", "start"),
                   ("Start time", "start"), ("StartCondition", "entry"), ("StartActivity", "start_activity"),
                   ("Limits", "limits"), ("QuietTime", "quiet"), ("LocalTime", "entry"),
                   ("RefreshFrequency", "refresh"), ("WriteJourneyRequest.Name", "name"),
                   ("Activities", "activities"))  # fmt: skip


def field_of(message: str, d: Draft) -> str:
    """Which part of the form an API error is about: `a{i}` (an activity card), `a{i}.template`,
    `a{i}.b{j}` (a branch) or `a{i}.b{j}.percentage`, a journey field (`name`, `entry`, `start`,
    `limits`, ...), or '' (the form as a whole)."""
    found = _ACTIVITY_AT.search(message)
    if found is not None and found.group(1) in d.ids():
        i = d.ids().index(found.group(1))
        member, branch, inner = found.group(2) or "", found.group(3), found.group(4) or ""
        if member == "Branches" and branch is not None:
            sub = {"Percentage": "percentage", "Condition": "condition", "NextActivity": "next"}.get(inner)
            return f"a{i}.b{branch}.{sub}" if sub else f"a{i}.b{branch}"
        sub = _MEMBER_FIELDS.get(member, "")
        return f"a{i}.{sub}" if sub else f"a{i}"
    return next((f for key, f in _JOURNEY_FIELDS if key in message), "")


_ANCHORS = {"entry": "segment", "quiet": "quiet_start", "limits": "daily_cap", "activities": "activities-title"}


def anchor_of(key: str) -> str:
    """The id of the element an error's field key (`field_of`) stands for, for the link in the
    page's "Nothing was saved" alert: a long form's field may be far below it."""
    if key in _ANCHORS:
        return _ANCHORS[key]
    head, _, tail = key.rpartition(".")
    if tail in ("condition", "branches", "wait"):  # the condition's first select; the card; its wait
        return {"condition": f"{head}.c.kind", "branches": head, "wait": f"{head}.wait_for"}[tail].replace(".", "-")
    return key.replace(".", "-")
