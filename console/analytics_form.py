"""The Analytics page's form, read from the URL: a date range a person picks (last 7 / 30 / 90
days, or two dates) and the API's own parameters (filters, view, the page's own), turned into
the query the API's question reader takes (analytics/queries.py), so that the console asks
exactly what the API would be asked and is refused with the same messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from openpoint.errors import BadRequest

RANGES = ("7", "30", "90", "custom")
DEFAULT_RANGE = "30"  # the API's default window
# What the form passes on unchanged, under the API's names (empty fields are left out).
PASSED = (
    "view",
    "segment-id",
    "platform",
    "channel",
    "app-version",
    "event-type",
    "metric",
    "dimension",
    "campaign-id",
    "journey-id",
    "granularity",
    "format",
)
ENDPOINT_FILTERS = ("segment-id", "platform", "channel", "app-version")
FILTER_FIELDS = ("segment-id", "platform", "channel", "app-version", "attribute")
MAX_STEPS = 10
_NAMED = re.compile(r"^Invalid (?:value for ([^:\s]+):|parameter: '([^']+)')")
# The API's names for what the form shows as another field.
_FIELD_OF = {"start-time": "start", "StartTime": "start", "end-time": "end", "EndTime": "end", "Steps": "step-0"}


@dataclass
class AnalyticsForm:
    range: str = DEFAULT_RANGE
    start: str = ""
    end: str = ""
    attribute: str = ""  # name=value1,value2 (the API's attribute.<name>=value1,value2)
    passed: dict[str, str] = field(default_factory=dict)
    attributes: list[tuple[str, str]] = field(default_factory=list)  # attribute.<name> given in the URL
    steps: list[str] = field(default_factory=list)  # the funnel's event types, in order

    @classmethod
    def read(cls, query: Iterable[tuple[str, str]]) -> AnalyticsForm:
        form = cls()
        for name, raw in query:
            value = raw.strip()[:2000]
            if name == "range" and value in RANGES:
                form.range = value
            elif name in ("start", "end", "attribute"):
                setattr(form, name, value)
            elif name == "step":
                form.steps.append(value)
            elif name.startswith("attribute.") and value:
                form.attributes.append((name, value))
            elif name in PASSED and value:
                form.passed[name] = value
            elif name not in PASSED and name not in ("range", "step"):
                form.passed.setdefault(name, value)  # unknown: the API's reader names it
        while form.steps and not form.steps[-1]:
            form.steps.pop()
        return form

    def get(self, name: str) -> str:
        return self.passed.get(name, "")

    def dates(self, today: date) -> tuple[str | None, str | None]:
        """start-time and end-time as the API takes them (ISO-8601)."""
        if self.range == "custom":
            return _instant(self.start), _instant(self.end)
        days = int(self.range)
        return (today - timedelta(days=days - 1)).isoformat() + "T00:00:00Z", today.isoformat() + "T00:00:00Z"

    def filter_pairs(self) -> list[tuple[str, str]]:
        """The endpoint filters (and format) as query parameters: what the funnel reads."""
        pairs = [(n, v) for n, v in self.passed.items() if n in ENDPOINT_FILTERS]
        pairs += self.attributes
        if self.attribute:
            name, sep, values = self.attribute.partition("=")
            if not sep or not name.strip():
                raise BadRequest("Invalid value for attribute: write it as name=value1,value2.")
            pairs.append((f"attribute.{name.strip()}", values))
        if "format" in self.passed:
            pairs.append(("format", self.passed["format"]))
        return pairs

    def page_query(self, today: date) -> list[tuple[str, str]]:
        """The analytics page's query string, as the API would receive it."""
        pairs = [(n, v) for n, v in zip(("start-time", "end-time"), self.dates(today), strict=True) if v]
        pairs += [(n, v) for n, v in self.passed.items() if n not in ENDPOINT_FILTERS]
        pairs += [p for p in self.filter_pairs() if p[0] != "format"]
        return pairs

    def funnel_body(self, today: date) -> dict[str, Any]:
        start, end = self.dates(today)
        body: dict[str, Any] = {"Steps": [{"EventType": s} for s in self.steps]}
        body.update({k: v for k, v in (("StartTime", start), ("EndTime", end)) if v})
        return body

    def shared_query(self) -> list[tuple[str, str]]:
        """The range and filters, which the other analytics pages keep (their own parameters do not)."""
        pairs: list[tuple[str, str]] = [("range", self.range)]
        if self.range == "custom":
            pairs += [("start", self.start), ("end", self.end)]
        pairs += [(n, v) for n, v in self.passed.items() if n in FILTER_FIELDS]
        pairs += self.attributes
        return pairs + ([("attribute", self.attribute)] if self.attribute else [])

    def url_query(self, **changes: str) -> list[tuple[str, str]]:
        """This view's own query string (for tabs and the CSV link), with `changes` applied."""
        pairs: list[tuple[str, str]] = [("range", self.range)]
        if self.range == "custom":
            pairs += [("start", self.start), ("end", self.end)]
        pairs += [(n, v) for n, v in self.passed.items() if n not in changes]
        pairs += self.attributes
        if self.attribute:
            pairs.append(("attribute", self.attribute))
        pairs += [("step", s) for s in self.steps]
        pairs += [(n, v) for n, v in changes.items() if v]
        return pairs


def _instant(day: str) -> str | None:
    """A date input's YYYY-MM-DD as the API's ISO-8601 instant; anything else is passed as
    typed, for the API's reader to refuse with its own message."""
    if not day:
        return None
    return f"{day}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else day


def field_of(err: BadRequest) -> str:
    """Which form field a refusal names ('' for the form as a whole)."""
    match = _NAMED.match(err.message)
    if match is None:
        return ""
    name = match.group(1) or match.group(2)
    if name.startswith("attribute."):
        return "attribute"
    step = re.match(r"Steps\[(\d+)\]", name)
    if step:
        return f"step-{step.group(1)}"
    return _FIELD_OF.get(name, name)
