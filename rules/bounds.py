"""Storage-safety bounds on client values, applied once to every request by the gateway's codec.

These are not Pinpoint business rules (those live beside each resource); they are what keeps a
client value from becoming a storage object or a Temporal id that PostgreSQL or Temporal cannot
hold, which used to surface as a 500. docs/limits.md lists them.

- U+0000 anywhere: PostgreSQL `text` and `jsonb` cannot store it.
- Identifiers (path labels, map keys, members named `...Id`, `...Name`, `Address`): they land in
  btree indexes (at most ~2,700 bytes a row) and in Temporal workflow ids (at most 1,000 bytes,
  several ids joined), so 256 characters and 512 bytes of UTF-8. Template names are
  `varchar(128)`, as in Pinpoint.
- Integers: the model's `integer` is Java's int (32 bits), `long` 64 bits; PostgreSQL's int4 /
  int8 columns hold exactly those.
- Numbers (`double`): finite and at most 1e15 in magnitude, so that the sums analytics takes of
  metrics stay finite (a float8 sum that overflows is an error in PostgreSQL, not infinity).
- Date-times: 1970-01-01 up to (not including) 3000-01-01 UTC. Day arithmetic near year 1 or
  9999 overflows Python's datetime, and epoch seconds in the distant future do too.
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_IDENTIFIER = 256
MAX_TEMPLATE_NAME = 128
MAX_QUERY_VALUE = 1024
INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
MAX_NUMBER = 1e15
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive

_IDENTIFIER_EXACT = frozenset({"Address", "Id", "Name"})
_LABEL_LIMITS = {"template-name": MAX_TEMPLATE_NAME}


def is_identifier_member(member: str) -> bool:
    """Members whose string values become keys, index entries or workflow ids."""
    return member in _IDENTIFIER_EXACT or member.endswith("Id") or member.endswith("Name")


def label_limit(wire: str) -> int:
    return _LABEL_LIMITS.get(wire, MAX_IDENTIFIER)


def text_problem(value: str, limit: int | None = None) -> str | None:
    """Why a string cannot be stored (None when it can): a NUL, or longer than `limit`
    characters or twice that in UTF-8 bytes (index rows and Temporal ids are counted in bytes)."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    if limit is not None and (len(value) > limit or len(value.encode("utf-8", "surrogatepass")) > 2 * limit):
        return f"at most {limit} characters ({2 * limit} bytes of UTF-8)"
    return None


def integer_problem(value: int, type_name: str) -> str | None:
    low, high = INT_RANGES.get(type_name, INT_RANGES["long"])
    if not low <= value <= high:
        bits = 32 if type_name == "integer" else 64
        return f"must be a {bits}-bit integer ({low} to {high})"
    return None


def number_problem(value: float) -> str | None:
    if value != value or abs(value) > MAX_NUMBER:  # NaN compares unequal to itself
        return f"must be a finite number between -{MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}"
    return None


def instant_problem(value: datetime) -> str | None:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not EARLIEST <= value < LATEST:
        return "must lie between 1970-01-01T00:00:00Z and 3000-01-01T00:00:00Z"
    return None


def epoch_instant(seconds: float) -> datetime | None:
    """Epoch seconds as an aware datetime, or None when out of datetime's (or our) range."""
    if seconds != seconds or not EARLIEST.timestamp() <= seconds < LATEST.timestamp():
        return None
    return datetime.fromtimestamp(seconds, UTC)


def version_number(raw: str) -> int | None:
    """A version label ("1", "2", ...) as the int4 the store keeps, or None when it is not one."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    number = int(raw)
    return number if 1 <= number <= INT_RANGES["integer"][1] else None


def shown(value: str, limit: int = 40) -> str:
    """A client value as an error message may quote it: NULs visible, long ones cut."""
    text = value.replace("\x00", "\\0")
    return text if len(text) <= limit else text[:limit] + "…"
