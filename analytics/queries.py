"""What an analytics page or funnel asks (docs/analytics.md), read and checked before anything
is queried (pure: no I/O, no clock of its own, `now` is passed in): the page, the date range
(a Window of UTC days inside the retention), the granularity, the endpoint filters, the
page's own parameters and the answer's format.

Every refusal is a BadRequest naming the parameter (`Invalid value for start-time: ...`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.model import DEFAULT_DAYS, RETENTION_DAYS, Filters, Granularity, Window
from openpoint.errors import BadRequest
from rules.instants import checked_instant

PAGES = ("usage", "retention", "revenue", "events", "demographics", "campaigns", "journeys", "transactional")
MAX_SPAN_DAYS = 90  # a DAY window: the whole retention
MAX_HOUR_SPAN_DAYS = 7  # an HOUR window: 7 days (168 rows per series)
MAX_FUNNEL_STEPS = 10
MAX_VALUES = 100  # values of one filter or one step attribute
ATTRIBUTE_PREFIX = "attribute."

# Parameters every page reads; the filters narrow the endpoints counted.
COMMON = frozenset({"start-time", "end-time", "granularity", "format"})
FILTERS = frozenset({"segment-id", "platform", "channel", "app-version"})
PAGE_PARAMETERS: dict[str, frozenset[str]] = {
    "usage": frozenset({"view"}),
    "retention": frozenset({"view"}),
    "revenue": frozenset({"view"}),
    "events": frozenset({"event-type", "metric"}),
    "demographics": frozenset({"dimension"}),
    "campaigns": frozenset({"campaign-id", "view"}),
    "journeys": frozenset({"journey-id"}),
    "transactional": frozenset({"view"}),
}
# The pages whose figures have a time axis an hour divides (the rollups keep days).
HOURLY_PAGES = frozenset({"transactional"})
# Pages with more than one table: `view` picks it, the first is the default.
VIEWS: dict[str, tuple[str, ...]] = {
    "usage": ("active", "daily", "sessions-by-hour"),
    "retention": ("daily", "weekly"),
    "revenue": ("daily", "products", "paying-users"),
    "campaigns": ("treatments", "sessions-by-hour"),
    "transactional": ("daily", "sms-by-country"),
}
# On the events page, `attribute.<name>` narrows the events by their own attribute.
EVENT_ATTRIBUTE_PAGES = frozenset({"events"})
DEFAULT_DIMENSION = "platform"
CHANNELS = frozenset({"EMAIL", "SMS", "PUSH", "VOICE", "CUSTOM", "APNS", "APNS_SANDBOX", "GCM", "BAIDU", "ADM"})
FORMATS = ("json", "csv")


@dataclass(frozen=True)
class PageQuery:
    page: str
    window: Window
    filters: Filters
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the page's own parameters
    csv: bool = False
    event_attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the events page's

    def one(self, name: str) -> str | None:
        values = self.params.get(name, ())
        return values[0] if values else None


@dataclass(frozen=True)
class Step:
    event_type: str
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # event attribute -> values (OR)


@dataclass(frozen=True)
class FunnelQuery:
    window: Window
    steps: tuple[Step, ...]
    filters: Filters = field(default_factory=Filters)
    csv: bool = False


def _bad(name: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid value for {name}: {why}.")


def window_of(
    start: object,
    end: object,
    granularity: object = None,
    *,
    now: datetime,
    names: tuple[str, str, str] = ("start-time", "end-time", "granularity"),
    hourly: bool = True,
    retention_days: int = RETENTION_DAYS,
) -> Window:
    """The UTC days from `start`'s to `end`'s (ISO-8601 instants; absent: the last 30 days
    ending today, 7 at HOUR granularity), checked against the retention and the span allowed at that granularity."""
    start_name, end_name, granularity_name = names
    try:
        grain = Granularity(str(granularity).upper()) if granularity is not None else Granularity.DAY
    except ValueError:
        raise _bad(granularity_name, f"'{granularity}' is not DAY or HOUR") from None
    if grain is Granularity.HOUR and not hourly:
        raise _bad(granularity_name, "HOUR is not available for this page; it has no time axis an hour divides")
    today = now.date()
    last = checked_instant(end, end_name).date() if end is not None else today
    default_days = MAX_HOUR_SPAN_DAYS if grain is Granularity.HOUR else DEFAULT_DAYS
    first = checked_instant(start, start_name).date() if start is not None else last - timedelta(days=default_days - 1)
    if first > last:
        raise _bad(start_name, "it is after end-time")
    oldest = today - timedelta(days=retention_days - 1)
    if first < oldest:
        raise _bad(start_name, f"it must be within the last {retention_days} days (analytics data is kept that long)")
    span = (last - first).days + 1
    limit = MAX_HOUR_SPAN_DAYS if grain is Granularity.HOUR else MAX_SPAN_DAYS
    if span > limit:
        raise _bad(end_name, f"a range covers at most {limit} days at {grain.value} granularity ({span} asked)")
    return Window(first, last, grain)


def _values(name: str, raw: Iterable[str]) -> tuple[str, ...]:
    """`a,b` and repeated parameters alike; empty items dropped, order kept, duplicates once."""
    out: list[str] = []
    for text in raw:
        out.extend(v.strip() for v in text.split(",") if v.strip() and v.strip() not in out)
    if not out:
        raise _bad(name, "it is empty")
    if len(out) > MAX_VALUES:
        raise _bad(name, f"at most {MAX_VALUES} values")
    return tuple(out)


def _grouped(
    query: Iterable[tuple[str, str]], allowed: frozenset[str], what: str
) -> tuple[dict[str, list[str]], dict[str, tuple[str, ...]]]:
    """The query's values per parameter, and the `attribute.<name>` filters; BadRequest for a
    parameter `what` does not take, and for a repeated common one."""
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    attributes: dict[str, tuple[str, ...]] = {}
    for name, values in grouped.items():
        if name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX):
            attributes[name[len(ATTRIBUTE_PREFIX) :]] = _values(name, values)
        elif name not in allowed:
            known = sorted(allowed) + [f"{ATTRIBUTE_PREFIX}<name>"]
            raise BadRequest(f"Invalid parameter: '{name}' is not a parameter of {what} ({', '.join(known)}).")
        elif name in COMMON and len(values) > 1:
            raise _bad(name, "it is given more than once")
    return grouped, attributes


def _filters(grouped: dict[str, list[str]], attributes: dict[str, tuple[str, ...]]) -> Filters:
    segments = _values("segment-id", grouped["segment-id"]) if "segment-id" in grouped else ()
    if len(segments) > 1:
        raise _bad("segment-id", "one segment at a time")
    channels = _values("channel", grouped["channel"]) if "channel" in grouped else ()
    for channel in channels:
        if channel.upper() not in CHANNELS:
            raise _bad("channel", f"'{channel}' is not a channel type ({', '.join(sorted(CHANNELS))})")
    return Filters(
        segment_id=segments[0] if segments else None,
        attributes=attributes,
        platforms=_values("platform", grouped["platform"]) if "platform" in grouped else (),
        channels=tuple(c.upper() for c in channels),
        app_versions=_values("app-version", grouped["app-version"]) if "app-version" in grouped else (),
    )


def _csv(grouped: dict[str, list[str]]) -> bool:
    fmt = grouped.get("format", ["json"])[0].lower()
    if fmt not in FORMATS:
        raise _bad("format", f"'{fmt}' is not json or csv")
    return fmt == "csv"


def parse_page_query(
    page: str, query: Iterable[tuple[str, str]], *, now: datetime, retention_days: int = RETENTION_DAYS
) -> PageQuery:
    """A page's question from its query string (parameter, value pairs in order)."""
    if page not in PAGES:
        raise _bad("page", f"'{page}' is not an analytics page (one of {', '.join(PAGES)})")
    own = PAGE_PARAMETERS[page]
    grouped, attributes = _grouped(query, COMMON | FILTERS | own, f"the {page} page")

    def single(name: str) -> str | None:
        return grouped[name][0] if name in grouped else None

    window = window_of(
        single("start-time"),
        single("end-time"),
        single("granularity"),
        now=now,
        hourly=page in HOURLY_PAGES,
        retention_days=retention_days,
    )
    csv = _csv(grouped)
    event_attributes = attributes if page in EVENT_ATTRIBUTE_PAGES else {}
    filters = _filters(grouped, {} if event_attributes else attributes)
    params = {name: _values(name, grouped[name]) for name in own if name in grouped}
    for name in ("campaign-id", "journey-id", "view", "dimension", "event-type", "metric"):
        if len(params.get(name, ())) > 1:
            raise _bad(name, "one value at a time")
    if page in VIEWS:
        view = params.get("view", (VIEWS[page][0],))[0]
        if view not in VIEWS[page]:
            raise _bad("view", f"'{view}' is not a view of the {page} page ({', '.join(VIEWS[page])})")
        params["view"] = (view,)
    if page == "demographics":
        params.setdefault("dimension", (DEFAULT_DIMENSION,))
    return PageQuery(page, window, filters, params, csv=csv, event_attributes=event_attributes)


def _step(index: int, raw: Any) -> Step:
    at = f"Steps[{index}]"
    if not isinstance(raw, dict):
        raise _bad(at, "expected an object with EventType and optional Attributes")
    unknown = sorted(set(raw) - {"EventType", "Attributes"})
    if unknown:
        raise _bad(f"{at}.{unknown[0]}", "not a member of a step (EventType, Attributes)")
    event_type = raw.get("EventType")
    if not isinstance(event_type, str) or not event_type.strip():
        raise _bad(f"{at}.EventType", "expected a non-empty string")
    attributes = raw.get("Attributes") or {}
    if not isinstance(attributes, dict):
        raise _bad(f"{at}.Attributes", "expected an object of attribute name -> list of values")
    checked: dict[str, tuple[str, ...]] = {}
    for name, values in attributes.items():
        where = f"{at}.Attributes.{name}"
        if not name or not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _bad(where, "expected a non-empty list of strings")
        if len(values) > MAX_VALUES:
            raise _bad(where, f"at most {MAX_VALUES} values")
        checked[name] = tuple(dict.fromkeys(values))
    return Step(event_type, checked)


def parse_funnel(
    body: dict[str, Any],
    query: Iterable[tuple[str, str]] = (),
    *,
    now: datetime,
    retention_days: int = RETENTION_DAYS,
) -> FunnelQuery:
    """A funnel from its request body ({StartTime, EndTime, Steps: [{EventType, Attributes}]})
    and its query string (the endpoint filters and `format`, as on the pages)."""
    grouped, attributes = _grouped(query, FILTERS | {"format"}, "the funnel")
    unknown = sorted(set(body) - {"StartTime", "EndTime", "Steps"})
    if unknown:
        raise _bad(unknown[0], "not a member of a funnel request (StartTime, EndTime, Steps)")
    window = window_of(
        body.get("StartTime"),
        body.get("EndTime"),
        now=now,
        names=("StartTime", "EndTime", "granularity"),
        retention_days=retention_days,
    )
    steps = body.get("Steps")
    if not isinstance(steps, list) or not steps:
        raise _bad("Steps", "a funnel has at least one step")
    if len(steps) > MAX_FUNNEL_STEPS:
        raise _bad("Steps", f"a funnel has at most {MAX_FUNNEL_STEPS} steps ({len(steps)} given)")
    parsed = tuple(_step(i, s) for i, s in enumerate(steps))
    return FunnelQuery(window, parsed, _filters(grouped, attributes), csv=_csv(grouped))
