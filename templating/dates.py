"""Dates for the `dateFormat` and `now` template helpers.

Pinpoint's helpers take Java `SimpleDateFormat` patterns (`MM/dd/yyyy`) or one of the style
words `full`, `long`, `medium`, `short`, and print in English whatever the process locale is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

STYLES = {"full": "EEEE, MMMM d, yyyy", "long": "MMMM d, yyyy", "medium": "MMM d, yyyy", "short": "M/d/yy"}
_MONTHS = "January February March April May June July August September October November December".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# A run of one pattern letter, a quoted literal ('' is a quote), or any other character.
_PIECE = re.compile(r"([A-Za-z])\1*|'(?:[^']|'')*'|.", re.DOTALL)


def _pieces(pattern: str) -> list[tuple[str, int] | str]:
    """The pattern as (letter, count) fields and literal strings."""
    out: list[tuple[str, int] | str] = []
    for m in _PIECE.finditer(pattern):
        piece = m.group(0)
        if m.group(1):
            out.append((piece[0], len(piece)))
        elif piece.startswith("'") and len(piece) > 1:
            out.append(piece[1:-1].replace("''", "'") or "'")
        else:
            out.append(piece)
    return out


def _offset(d: datetime, colon: bool, z_for_utc: bool) -> str:
    delta = d.utcoffset()
    if delta is None:
        return ""
    minutes = int(delta.total_seconds()) // 60
    if minutes == 0 and z_for_utc:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


def _field(d: datetime, letter: str, n: int) -> str:
    def num(value: int) -> str:
        return str(value).zfill(n)

    match letter:
        case "G":
            return "AD"
        case "y":
            return str(d.year % 100).zfill(2) if n == 2 else num(d.year)
        case "M" | "L":
            return _MONTHS[d.month - 1] if n >= 4 else _MONTHS[d.month - 1][:3] if n == 3 else num(d.month)
        case "d":
            return num(d.day)
        case "D":
            return num(d.timetuple().tm_yday)
        case "E":
            return _DAYS[d.weekday()] if n >= 4 else _DAYS[d.weekday()][:3]
        case "u":
            return num(d.isoweekday())
        case "a":
            return "AM" if d.hour < 12 else "PM"
        case "H":
            return num(d.hour)
        case "k":
            return num(d.hour or 24)
        case "K":
            return num(d.hour % 12)
        case "h":
            return num(d.hour % 12 or 12)
        case "m":
            return num(d.minute)
        case "s":
            return num(d.second)
        case "S":
            return str(d.microsecond // 1000).zfill(3)[:n].ljust(n, "0")
        case "z":
            return d.tzname() or ""
        case "Z":
            return _offset(d, colon=False, z_for_utc=False)
        case "X":
            return _offset(d, colon=n >= 3, z_for_utc=True)[: 3 if n == 1 else None]
    raise ValueError(f"unsupported date pattern letter {letter!r}")


def format_date(d: datetime, pattern: str) -> str:
    pattern = STYLES.get(pattern, pattern)
    return "".join(p if isinstance(p, str) else _field(d, *p) for p in _pieces(pattern))


# Reading a date: each pattern field becomes a strptime directive.
_DIRECTIVES = {"y": "%Y", "M": "%m", "L": "%m", "d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S"}
_DIRECTIVES |= {"a": "%p", "S": "%f", "Z": "%z", "X": "%z", "D": "%j"}


def _directive(letter: str, n: int) -> str:
    if letter == "y" and n == 2:
        return "%y"
    if letter in "ML" and n >= 3:
        return "%B" if n >= 4 else "%b"
    if letter == "E":
        return "%A" if n >= 4 else "%a"
    if letter in _DIRECTIVES:
        return _DIRECTIVES[letter]
    raise ValueError(f"unsupported date pattern letter {letter!r}")


def parse_date(text: str, pattern: str | None) -> datetime:
    """`text` read with a Java pattern, or as ISO 8601 when no pattern is given."""
    if pattern is None:
        return datetime.fromisoformat(text.strip())
    fmt = "".join(p.replace("%", "%%") if isinstance(p, str) else _directive(*p) for p in _pieces(pattern))
    return datetime.strptime(text.strip(), fmt)


def zone(name: str | None) -> tzinfo | None:
    return None if name is None else UTC if name.upper() in ("UTC", "Z", "GMT") else ZoneInfo(name)


def in_zone(d: datetime, tz: tzinfo | None) -> datetime:
    """A date with a time zone is shown in `tz`; a date without one is taken to be in `tz`."""
    if tz is None:
        return d
    return d.astimezone(tz) if d.tzinfo is not None else d.replace(tzinfo=tz)
