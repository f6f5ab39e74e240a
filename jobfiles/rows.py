"""Import files, batch by batch: Pinpoint's CSV columns and newline-delimited JSON endpoint
definitions turned into endpoint requests.

A batch is BATCH_ROWS rows, counted from the start of the file, so batch boundaries are the same
on every read of the same file: a retried import resumes at the byte offset where the last
committed batch ended and numbers its batches (and rows) as the first read did.

Row numbers are line numbers: in a CSV file the header is row 1.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from openpoint.errors import BadRequest
from rules.endpoints import check_endpoint_request
from wire.codec import validate
from wire.model import shape

BATCH_ROWS = 1000
MAX_LINE = 1 << 20  # an endpoint is at most 15 KB; a longer line means the file is not line-delimited
csv.field_size_limit(MAX_LINE)

# A field path placeholder for the shared validators, replaced so that messages name the CSV
# column or JSON member as the file spells it ("Invalid value for OptOut: ...").
_FIELD = "\x00"

STRINGS = ("Address", "ChannelType", "EffectiveDate", "EndpointStatus", "OptOut", "RequestId")
DEMOGRAPHIC = ("AppVersion", "Locale", "Make", "Model", "ModelVersion", "Platform", "PlatformVersion", "Timezone")
LOCATION = ("City", "Country", "PostalCode", "Region")
COORDINATES = ("Latitude", "Longitude")


class FormatError(Exception):
    """The file as a whole cannot be read as the requested format: its piece fails."""


class RowError(Exception):
    """One row is wrong: it is reported with its row number and the others are imported."""


@dataclass
class Batch:
    index: int
    end_offset: int  # bytes of the file consumed when this batch ends
    end_line: int
    endpoints: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)  # (id, request, row)
    users: list[tuple[str, int]] = field(default_factory=list)  # rows that name a user's endpoints
    failures: list[tuple[int, str]] = field(default_factory=list)  # (row, message)
    rows: int = 0


def _message(e: BadRequest) -> str:
    return e.message.replace(f"{_FIELD}.", "").replace(_FIELD, "the endpoint")


def generated_id(channel: str, address: str) -> str:
    """Rows without an Id create endpoints whose id derives from channel and address, so that
    importing the same file twice (or resuming it) updates those endpoints instead of adding
    new ones."""
    return hashlib.sha256(f"{channel}\x00{address}".encode()).hexdigest()[:32]


def finish_row(endpoint_id: str | None, req: dict[str, Any]) -> tuple[str | None, dict[str, Any] | list[str]]:
    """(endpoint id, request) for an endpoint row, (None, user ids) for a row naming only
    users. Raises RowError."""
    user = req.get("User") or {}
    if endpoint_id is None and set(req) == {"User"} and set(user) == {"UserId"}:
        # Pinpoint's user-ID files: the segment gets every endpoint of these users.
        ids = str(user["UserId"]).split()
        if not ids:
            raise RowError("User.UserId is empty.")
        return None, ids
    try:
        check_endpoint_request(req, _FIELD)
    except BadRequest as e:
        raise RowError(_message(e)) from None
    if endpoint_id is None:
        channel, address = req.get("ChannelType"), req.get("Address")
        if not channel or not address:
            raise RowError("A new endpoint needs Address and ChannelType (or the Id of an existing endpoint).")
        endpoint_id = generated_id(channel, address)
    return endpoint_id, req


# -- CSV --------------------------------------------------------------------------------------


def _column(name: str) -> tuple[str, str, str]:
    """Where a header's column lands in an endpoint request: (kind, group, key)."""
    top, _, rest = name.partition(".")
    if name == "Id":
        return "id", "", ""
    if name in STRINGS:
        return "top", "", name
    if name == "User.UserId":
        return "user_id", "", ""
    if top == "User":
        sub, _, attr = rest.partition(".")
        if sub == "UserAttributes" and attr:
            return "list", "user_attributes", attr
    elif top == "Attributes" and rest:
        return "list", "attributes", rest
    elif top == "Metrics" and rest:
        return "number", "metrics", rest
    elif top == "Demographic" and rest in DEMOGRAPHIC:
        return "text", "demographic", rest
    elif top == "Location" and rest in LOCATION:
        return "text", "location", rest
    elif top == "Location" and rest in COORDINATES:
        return "number", "location", rest
    raise FormatError(f"has an unknown column '{name[:60]}'")


_MEMBERS = {"attributes": "Attributes", "metrics": "Metrics", "demographic": "Demographic", "location": "Location"}
Build = Callable[[list[str]], tuple[str | None, dict[str, Any]]]


class CsvColumns:
    """A header row, compiled once into a function that turns a row into an endpoint request.

    Pinpoint's multi-valued attributes repeat the column: `Attributes.Interests,Attributes.Interests`
    with one value in each. Empty cells leave the member out.

    The function is generated source, straight-line code with one statement per column: a
    million-row import spends much of its time here, and a loop calling one setter per column
    costs twice as much. The source holds only column positions; every name from the file
    reaches it through the `K` tuple, never as source text.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = [n.strip() for n in names]
        if not any(self.names):
            raise FormatError("has no header row")
        plan = [_column(name) for name in self.names]
        seen: set[str] = set()
        for name, (kind, _group, _key) in zip(self.names, plan, strict=True):
            if kind != "list" and name in seen:
                raise FormatError(f"has the column '{name}' twice")
            seen.add(name)
        if "Id" not in seen and not {"Address", "ChannelType"} <= seen and "User.UserId" not in seen:
            raise FormatError("has no Id column, nor Address and ChannelType columns (nor User.UserId)")
        self.width = len(plan)
        self.channels = frozenset(shape("EndpointRequest").members["ChannelType"].enum)
        self._build = self._compile(plan)

    def _compile(self, plan: list[tuple[str, str, str]]) -> Build:
        groups = sorted({group for _kind, group, _key in plan if group})
        has_user_id = any(kind == "user_id" for kind, _group, _key in plan)
        body = ["req = {}", "eid = None", "user_id = None"] + [f"{group} = {{}}" for group in groups]
        lists: dict[tuple[str, str], list[int]] = {}
        for i, (kind, group, key) in enumerate(plan):
            if kind == "list":
                lists.setdefault((group, key), []).append(i)
                continue
            target = {"id": "eid", "user_id": "user_id", "top": f"req[K[{i}]]"}.get(kind, f"{group}[K[{i}]]")
            value = f"number(v, {i})" if kind == "number" else "v"
            body += [f"v = values[{i}]", f"if v: {target} = {value}"]
        for (group, _key), at in lists.items():
            if len(at) == 1:
                body += [f"v = values[{at[0]}]", f"if v: {group}[K[{at[0]}]] = [v]"]
            else:
                cells = ", ".join(f"values[{i}]" for i in at)
                body += [f"v = [x for x in ({cells},) if x]", f"if v: {group}[K[{at[0]}]] = v"]
        body += [f"if {group}: req[{member!r}] = {group}" for group, member in _MEMBERS.items() if group in groups]
        if has_user_id or "user_attributes" in groups:
            body.append("user = {}")
            if has_user_id:
                body.append("if user_id is not None: user['UserId'] = user_id")
            if "user_attributes" in groups:
                body.append("if user_attributes: user['UserAttributes'] = user_attributes")
            body.append("if user: req['User'] = user")
        body.append("return eid, req")
        source = "def build(values):\n" + "".join(f"    {line}\n" for line in body)
        scope: dict[str, Any] = {"K": tuple(key for _kind, _group, key in plan), "number": self._number}
        exec(compile(source, "<csv header>", "exec"), scope)  # see the class docstring
        build: Build = scope["build"]
        return build

    def _number(self, value: str, column: int) -> float:
        try:
            return float(value)
        except ValueError:
            raise RowError(f"Invalid value for {self.names[column]}: '{value[:50]}' is not a number.") from None

    def row(self, values: list[str]) -> tuple[str | None, dict[str, Any] | list[str]]:
        if len(values) != self.width:
            raise RowError(f"The row has {len(values)} fields; the header has {self.width}.")
        endpoint_id, req = self._build(values)
        channel = req.get("ChannelType")
        if channel is not None and channel not in self.channels:
            raise RowError(f"Invalid value for ChannelType: '{channel[:30]}' is not a Pinpoint channel type.")
        return finish_row(endpoint_id, req)


# -- reading ----------------------------------------------------------------------------------


class Lines:
    """The decoded lines of a binary stream, counting the bytes and lines consumed so that a
    batch can say where the next one starts."""

    def __init__(self, stream: IO[bytes], offset: int, line: int) -> None:
        self.stream = stream
        self.offset = offset
        self.line = line

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        raw = self.stream.readline(MAX_LINE + 1)
        if not raw:
            raise StopIteration
        if len(raw) > MAX_LINE:
            raise FormatError(f"has a row longer than {MAX_LINE // (1 << 20)} MB (row {self.line + 1})")
        first = self.offset == 0
        self.offset += len(raw)
        self.line += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"is not UTF-8 text (row {self.line})") from None
        return text.lstrip("\ufeff") if first else text


@dataclass
class RawBatch:
    """A batch as read from the file, before its rows become endpoint requests."""

    index: int
    end_offset: int
    end_line: int
    records: list[tuple[int, Any]]  # (row, CSV fields | JSON text | the csv.Error of a bad record)


class BatchReader:
    """Reads one file from a batch boundary on.

    `read` does the blocking part (I/O, UTF-8 decoding, the csv module's tokenising, all in C
    but for a thin loop) and belongs on a thread; `parse` turns a batch's records into endpoint
    requests and belongs on the event loop's thread. Keeping the Python-heavy half off the I/O
    thread matters: a thread busy in Python makes the event loop wait for the GIL after every
    socket write to the database.
    """

    def __init__(
        self, stream: IO[bytes], fmt: str, *, index: int, offset: int, line: int, header: bytes | None = None
    ) -> None:
        self.lines = Lines(stream, offset, line)
        self.fmt = fmt
        self.index = index
        self.columns: CsvColumns | None = None
        self.checked = offset > 0  # the first JSON row shows whether the file is JSON at all
        if fmt == "CSV":
            if offset == 0:
                first = next(self.lines, None)
                if first is None:
                    raise FormatError("is empty (a CSV file starts with a header row)")
            else:
                assert header is not None  # the caller re-reads the header of a resumed file
                first = header.decode("utf-8", "replace").lstrip("\ufeff")
            self.columns = CsvColumns(next(csv.reader([first]), []))
            self.records = csv.reader(self.lines)

    def read(self) -> RawBatch | None:
        records: list[tuple[int, Any]] = []
        lines = self.lines
        while len(records) < BATCH_ROWS:
            row = lines.line + 1
            if self.columns is not None:
                try:
                    values = next(self.records, None)
                except csv.Error as e:
                    records.append((row, e))
                    continue
                if values is None:
                    break
                if values:  # else a blank line
                    records.append((row, values))
            else:
                text = next(lines, None)
                if text is None:
                    break
                if not text.isspace():
                    records.append((row, text))
        if not records:
            return None
        self.index += 1
        return RawBatch(self.index - 1, lines.offset, lines.line, records)

    def parse(self, raw: RawBatch) -> Batch:
        batch = Batch(raw.index, raw.end_offset, raw.end_line, rows=len(raw.records))
        columns = self.columns
        for row, record in raw.records:
            try:
                if isinstance(record, csv.Error):
                    raise RowError(str(record))
                endpoint_id, item = columns.row(record) if columns is not None else self._json(record, row)
            except RowError as e:
                batch.failures.append((row, str(e)))
                continue
            if endpoint_id is None:
                assert isinstance(item, list)
                batch.users.extend((user, row) for user in item)
            else:
                assert isinstance(item, dict)
                batch.endpoints.append((endpoint_id, item, row))
        return batch

    def next_batch(self) -> Batch | None:
        """Both halves at once, for callers without an event loop to keep responsive."""
        raw = self.read()
        return None if raw is None else self.parse(raw)

    def _json(self, text: str, row: int) -> tuple[str | None, dict[str, Any] | list[str]]:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            if not self.checked:
                raise FormatError(f"is not newline-delimited JSON (row {row}: {e})") from None
            raise RowError(f"The row is not JSON: {e}.") from None
        if not isinstance(value, dict):
            if not self.checked:
                raise FormatError(f"is not newline-delimited JSON objects (row {row})")
            raise RowError("The row is not a JSON object.")
        self.checked = True
        try:
            item = dict(validate(value, shape("EndpointBatchItem"), _FIELD))
        except BadRequest as e:
            raise RowError(_message(e)) from None
        endpoint_id = item.pop("Id", None)
        return finish_row(endpoint_id or None, item)
