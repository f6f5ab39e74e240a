"""An analytics `Table` as the console shows it: a chart's data (what console/static/charts.js
hands ECharts) and the table's cells beside it. Only presentation: the numbers are the Table's,
the one the API renders as JSON and CSV (analytics/model.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from analytics.model import Column, Table

TIME_KEYS = ("Date", "Week")  # a first group with these keys (or an hour stamp) is a time axis
MAX_SERIES = 6  # more lines or bars than this read as noise; the table has every column


def is_ratio(key: str) -> bool:
    """Shares between 0 and 1 (shown as percentages, on the chart's right axis)."""
    return key == "Stickiness" or key.endswith(("Rate", "Conversion")) or key.startswith("Retention")


@dataclass(frozen=True)
class Cell:
    text: str  # as a person reads it
    value: str  # as the API's JSON and CSV write it (data-value, for tests and copy)
    numeric: bool


@dataclass(frozen=True)
class Shown:
    keys: list[str]  # the columns' keys, as the API names them
    rows: list[list[Cell]]
    chart: dict[str, Any]
    empty: bool  # no rows, or nothing but zeros (pages that list every hour or day)

    @property
    def header(self) -> list[str]:
        return [label(k) for k in self.keys]


def exact(value: float | int | str | None, column: Column) -> str:
    """The value as `Table.kpi_rows` and `Table.csv_lines` write it."""
    if value is None:
        return ""
    if column.type == "Double":
        return repr(float(value))
    if column.type == "Long":
        return str(int(value))
    return str(value)


def readable(value: float | int | str | None, column: Column) -> str:
    if value is None:
        return "–"
    if column.type == "Long":
        return f"{int(value):,}"
    if column.type == "Double":
        number = float(value)
        return f"{number * 100:.1f}%" if is_ratio(column.key) else f"{number:,.2f}"
    return str(value)


def _measures(table: Table) -> list[int]:
    """The value columns drawn as series: those of the first column's type, not ratios."""
    if not table.values:
        return []
    first = table.values[0]
    picked = [i for i, c in enumerate(table.values) if c.type == first.type and not is_ratio(c.key)]
    return picked[:MAX_SERIES]


def _short(value: str) -> str:
    """A long id (a campaign's, a journey's) shortened on the axis; the table has it whole."""
    return value if len(value) <= 16 else value[:8] + "…"


def _number(value: float | int | str | None) -> float | int | None:
    return value if isinstance(value, int | float) else None


def _is_time_axis(table: Table) -> bool:
    if not table.groups:
        return False
    key = table.groups[0].key
    return key in TIME_KEYS or (key == "Hour" and any("T" in g[0] for g, _ in table.rows))


def label(key: str) -> str:
    """A column's key as a heading: DailyActiveEndpoints -> Daily active endpoints."""
    retention = re.fullmatch(r"Retention(\d+)Day", key)
    if retention:
        return f"{retention.group(1)}-day retention"
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)
    text = " ".join([words[0], *(w.lower() if not w.isupper() else w for w in words[1:])]) if words else key
    return re.sub(r"\bid\b", "ID", text.replace("Sms", "SMS"))


def chart_of(table: Table, title: str, days: list[str] | None = None) -> dict[str, Any]:
    """Line chart over days (a second group, as events' EventType, gives one line per value of
    the first measure); bars for anything else (hours of the day, platforms, funnel steps).
    `days`: the window's days, so that a day without activity is drawn as 0 (the table lists
    only the days it has)."""
    if _is_time_axis(table):
        present = {g[0] for g, _ in table.rows}
        daily = days is not None and table.groups[0].key == "Date" and present <= set(days)
        categories = list(days) if daily and days is not None else sorted(present)
        at = {c: i for i, c in enumerate(categories)}
        series: list[dict[str, Any]] = []
        if len(table.groups) > 1:
            lines: dict[str, list[float | int | None]] = {}
            for g, vs in table.rows:
                line = lines.setdefault(" · ".join(g[1:]), [0 if daily else None] * len(categories))
                line[at[g[0]]] = _number(vs[0])
            measure = table.values[0].key
            series = [{"name": f"{name} ({label(measure)})", "data": d, "ratio": False} for name, d in lines.items()]
        else:
            drawn = _measures(table) + [i for i, c in enumerate(table.values) if is_ratio(c.key)][:3]
            for i in drawn:
                ratio = is_ratio(table.values[i].key)
                data: list[float | int | None] = [0 if daily and not ratio else None] * len(categories)
                for g, vs in table.rows:
                    data[at[g[0]]] = _number(vs[i])
                series.append({"name": label(table.values[i].key), "data": data, "ratio": ratio})
        return {"kind": "line", "title": title, "categories": categories, "series": series[:MAX_SERIES]}
    categories = [" · ".join(_short(v) for v in g) if g else "All" for g, _ in table.rows]
    bars = [
        {"name": label(table.values[i].key), "data": [_number(vs[i]) for _, vs in table.rows], "ratio": False}
        for i in _measures(table)[:4]
    ]
    return {"kind": "bar", "title": title, "categories": categories, "series": bars}


def shown(table: Table, title: str, days: list[str] | None = None) -> Shown:
    rows = [
        [Cell(g, g, False) for g in groups]
        + [Cell(readable(v, c), exact(v, c), True) for c, v in zip(table.values, values, strict=True)]
        for groups, values in table.rows
    ]
    nothing = all(not v for _, values in table.rows for v in values if not isinstance(v, str))
    return Shown(
        keys=[c.key for c in table.groups] + [c.key for c in table.values],
        rows=rows,
        chart=chart_of(table, title, days),
        empty=not table.rows or nothing,
    )
