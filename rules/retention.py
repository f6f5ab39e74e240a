"""How stored events are bounded: partitions by the day the server RECEIVED them, kept 90 days.

A client's `Timestamp` can be anything (years ago, years ahead, a device with a wrong clock);
Pinpoint accepts such events and its analytics simply ignore what is out of range. If storage
were split by the client's time, every distinct day a client wrote would become a table. So
events are partitioned by `received_at` (the server's clock, which only moves forward one day
at a time): however many distinct timestamps events carry, a project adds at most one partition
per real day, and retention drops whole partitions once every row in them was received more
than RETENTION_DAYS ago. `event_time` is stored as sent and is what analytics, segments and
journeys read and filter on.

Partition names say what they hold, so retention can decide from the name alone:
`events_r_YYYYMMDD` holds the events received that UTC day; `events_r_before_YYYYMMDD` holds
those received before that day (the rows migration 0007 carried over from the old layout).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

RETENTION_DAYS = 90
DAY_PREFIX = "events_r_"
BEFORE_PREFIX = "events_r_before_"
_DAY = re.compile(r"^events_r_(before_)?(\d{8})$")


def partition_name(day: date) -> str:
    return f"{DAY_PREFIX}{day:%Y%m%d}"


def received_until(name: str) -> date | None:
    """The first day NOT held by partition `name` (its exclusive upper bound), or None for a name
    this scheme did not make (left alone)."""
    m = _DAY.match(name)
    if m is None:
        return None
    try:
        day = datetime.strptime(m.group(2), "%Y%m%d").date()
    except ValueError:
        return None
    return day if m.group(1) else day + timedelta(days=1)


def expired(names: Iterable[str], today: date, keep_days: int = RETENTION_DAYS) -> list[str]:
    """The partitions whose every row was received more than `keep_days` days before `today`."""
    cutoff = today - timedelta(days=keep_days)
    out = []
    for name in names:
        until = received_until(name)
        if until is not None and until <= cutoff:
            out.append(name)
    return sorted(out)
