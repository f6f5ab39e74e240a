"""The question every analytics page answers (a project's `Window` and `Filters`) and the answer's
one shape (`Table`: Pinpoint's KpiResult Rows, as JSON or CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

RETENTION_DAYS = 90  # the default; OPENPOINT_ANALYTICS_RETENTION_DAYS overrides it
DEFAULT_DAYS = 30


class Granularity(StrEnum):
    DAY = "DAY"
    HOUR = "HOUR"


@dataclass(frozen=True)
class Window:
    """UTC days `first`..`last` (inclusive), as a page or a KPI asks for them."""

    first: date
    last: date
    granularity: Granularity = Granularity.DAY

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def start(self) -> datetime:
        """The window's first instant (UTC midnight of `first`)."""
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The instant after the window (UTC midnight after `last`): ranges are [start, end)."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True)
class Filters:
    """What narrows the endpoints a page counts; empty: every endpoint of the project."""

    segment_id: str | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # endpoint attribute -> values
    platforms: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    app_versions: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.segment_id or self.attributes or self.platforms or self.channels or self.app_versions)


@dataclass(frozen=True)
class Column:
    key: str
    type: str = "Double"  # Pinpoint's Values types: Double, Long, String; GroupedBys: String


@dataclass
class Table:
    """Rows of group values and measured values, in Pinpoint's KpiResult shape."""

    groups: list[Column]
    values: list[Column]
    rows: list[tuple[tuple[str, ...], tuple[float | int | str | None, ...]]] = field(default_factory=list)

    def add(self, group: Iterable[str], values: Iterable[float | int | str | None]) -> None:
        self.rows.append((tuple(group), tuple(values)))

    def kpi_rows(self) -> list[dict[str, Any]]:
        """`KpiResult.Rows`: GroupedBys (when grouped) and Values; a None value is left out."""
        out: list[dict[str, Any]] = []
        for group, values in self.rows:
            row: dict[str, Any] = {
                "Values": [
                    {"Key": c.key, "Type": c.type, "Value": _text(v, c.type)}
                    for c, v in zip(self.values, values, strict=True)
                    if v is not None
                ]
            }
            if self.groups:
                row["GroupedBys"] = [
                    {"Key": c.key, "Type": "String", "Value": g} for c, g in zip(self.groups, group, strict=True)
                ]
            out.append(row)
        return out

    def csv_lines(self) -> Iterator[str]:
        """The same table as CSV, a header row first; streamed a line at a time."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in (
            [c.key for c in self.groups] + [c.key for c in self.values],
            *(
                [*g, *("" if v is None else _text(v, c.type) for c, v in zip(self.values, vs, strict=True))]
                for g, vs in self.rows
            ),
        ):
            writer.writerow(record)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()


def _text(value: float | int | str, kind: str) -> str:
    if kind == "Double":
        return repr(float(value))
    if kind == "Long":
        return str(int(value))
    return str(value)
