"""Every modeled operation, fuzzed through the real gateway with signed requests.

Requests are drawn by hypothesis from botocore's shapes (the wire truth): valid-looking values
mixed with the odd ones that used to answer 500 (NUL bytes, year 1 and 9999, 1e20, values far
past any bound, wrong JSON types). For each answer: never a 5xx; every error is Pinpoint-shaped
(`{"Message","RequestID"}` and `X-Amzn-ErrorType`); a BadRequest names the field; and a refused
write leaves the project's data as it was.

Examples are derandomized so `make test` is repeatable; `OPENPOINT_FUZZ_EXAMPLES=200
OPENPOINT_FUZZ_RANDOM=1` explores further.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.raw import send
from tests.stack import Stack
from wire.model import Operation, operations

EXAMPLES = int(os.environ.get("OPENPOINT_FUZZ_EXAMPLES", "20"))
RANDOM = bool(os.environ.get("OPENPOINT_FUZZ_RANDOM"))

ERROR_STATUS = {
    "BadRequestException": 400,
    "ForbiddenException": 403,
    "NotFoundException": 404,
    "MethodNotAllowedException": 405,
    "ConflictException": 409,
    "PayloadTooLargeException": 413,
    "TooManyRequestsException": 429,
}

# Values that once reached storage or Temporal unchecked.
ODD_STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "x" * 3000,
    "é✓😀",
    "../../etc",
    "a/b?c#d",
    "%00",
    " ",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "10000-01-01T00:00:00Z",
    "-0001-01-01",
    "not a date",
]
PLAIN_STRINGS = ["2026-11-20T10:00:00Z", "e1", "u1", "fuzz", "EMAIL", "ann@example.com", "+15555550100"]
ODD_INTEGERS = [0, -1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**20]
ODD_NUMBERS = [1e20, -1e20, 1e308, -1e308, 5e-324, 2.0**63, 1e15 + 0.5]
ODD_TIMESTAMPS: list[Any] = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "not a date",
    "2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00+09:00",
    0,
    -1e12,
    1e20,
    253402300800,
]

# Members the model leaves optional that every request needs, so drawn requests get further.
REQUIRED_IN_PRACTICE = {"EndpointBatchItem": {"Id"}, "Event": {"Timestamp"}}

# Tables the gateway writes and the worker leaves alone: compared row for row. The worker
# moves campaigns, journeys and jobs along by itself, so for those only which rows exist counts.
CONTENT_TABLES = [
    "apps",
    "resource_tags",
    "endpoints",
    "sessions",
    "channels",
    "segments",
    "segment_versions",
    "otp_codes",
    "campaign_versions",
]
KEY_TABLES = {"campaigns": "id", "journeys": "id", "jobs": "id", "events": "event_id"}
ACCOUNT_TABLES = ["templates", "template_versions"]  # templates belong to the account


def _fingerprint_sql() -> str:
    parts = [
        f"SELECT '{t}', md5(coalesce(string_agg(md5(x::text), ',' ORDER BY md5(x::text)), '')) FROM {t} x"
        f" WHERE x.{'id' if t == 'apps' else 'app_id'} = $1"
        for t in CONTENT_TABLES
    ]
    parts += [
        f"SELECT '{t}', md5(coalesce(string_agg({k}::text, ',' ORDER BY {k}::text), '')) FROM {t} WHERE app_id = $1"
        for t, k in KEY_TABLES.items()
    ]
    parts += [
        f"SELECT '{t}', md5(coalesce(string_agg(md5(x::text), ',' ORDER BY md5(x::text)), '')) FROM {t} x"
        for t in ACCOUNT_TABLES
    ]
    return " UNION ALL ".join(parts)


FINGERPRINT = _fingerprint_sql()


@dataclass
class Project:
    app_id: str
    segment_id: str
    campaign_id: str
    template: str


@pytest.fixture
def project(pinpoint: Any) -> Iterator[Project]:
    """A project with one of each resource, so that drawn ids sometimes name a real one; fresh
    for each operation, since the Delete* operations come first in the alphabet."""
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "fuzz"})["ApplicationResponse"]["Id"]
    pinpoint.update_endpoint(
        ApplicationId=app_id,
        EndpointId="e1",
        EndpointRequest={
            "Address": "ann@example.com",
            "ChannelType": "EMAIL",
            "User": {"UserId": "u1", "UserAttributes": {"name": ["Ann"]}},
        },
    )
    segment = pinpoint.create_segment(
        ApplicationId=app_id, WriteSegmentRequest={"Name": "all", "Dimensions": {"Demographic": {}}}
    )["SegmentResponse"]["Id"]
    template = f"fuzz-{secrets.token_hex(3)}"
    pinpoint.create_email_template(
        TemplateName=template, EmailTemplateRequest={"Subject": "Hi", "TextPart": "Hello {{User.UserId}}"}
    )
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "later",
            "SegmentId": segment,
            "Schedule": {"StartTime": "2099-01-01T00:00:00Z", "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "t", "HtmlBody": "<p>x</p>"}},
        },
    )["CampaignResponse"]["Id"]
    yield Project(app_id=app_id, segment_id=segment, campaign_id=campaign, template=template)


# -- strategies from botocore shapes -------------------------------------------------------------


_JSON_KIND = {"integer": "number", "long": "number", "double": "number", "float": "number", "map": "structure"}
_SAMPLES: list[tuple[str, Any]] = [("list", []), ("structure", {}), ("string", "x"), ("number", 7), ("boolean", True)]


def _wrong_type(t: str) -> st.SearchStrategy[Any]:
    """A JSON value of another kind than the shape's (timestamps and blobs are strings)."""
    kind = _JSON_KIND.get(t, "string" if t in ("timestamp", "blob") else t)
    return st.sampled_from([v for k, v in _SAMPLES if k != kind])


def strings(odd: bool) -> st.SearchStrategy[str]:
    clean = st.one_of(st.sampled_from(PLAIN_STRINGS), st.text("abcxyz019-_.", min_size=1, max_size=12))
    return st.one_of(clean, clean, clean, st.sampled_from(ODD_STRINGS), st.text(max_size=12)) if odd else clean


def for_shape(shape: Shape, odd: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of `shape`; with `odd`, about one leaf in five is odd (so that most requests
    still get past the first check) and now and then a member has the wrong JSON type."""
    t = shape.type_name
    if t == "structure":
        if depth > 6:
            return st.just({})
        members = {n: m for n, m in shape.members.items() if "location" not in m.serialization}
        needed = set(shape.required_members) | REQUIRED_IN_PRACTICE.get(shape.name, set())
        required = {n: for_shape(m, odd, depth + 1) for n, m in members.items() if n in needed}
        optional = {n: for_shape(m, odd, depth + 1) for n, m in members.items() if n not in needed}
        base: st.SearchStrategy[Any] = st.fixed_dictionaries(required, optional=optional)
    elif t == "list":
        base = st.lists(for_shape(shape.member, odd, depth + 1), max_size=3)
    elif t == "map":
        base = st.dictionaries(strings(odd), for_shape(shape.value, odd, depth + 1), max_size=3)
    elif t == "string":
        base = st.sampled_from(shape.enum) if shape.enum else strings(odd)
    elif t in ("integer", "long"):
        clean_int = st.integers(0, 100)
        base = (
            st.one_of(clean_int, clean_int, clean_int, st.sampled_from(ODD_INTEGERS), st.just(1e20))
            if odd
            else clean_int
        )
    elif t in ("double", "float"):
        clean_num = st.floats(-1000, 1000)
        numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(ODD_NUMBERS))
        base = st.one_of(clean_num, clean_num, clean_num, numbers) if odd else clean_num
    elif t == "boolean":
        base = st.booleans()
    elif t == "timestamp":
        base = st.sampled_from(ODD_TIMESTAMPS) if odd else st.just("2026-11-20T10:00:00Z")
    elif t == "blob":
        base = st.sampled_from(["aGVsbG8=", "not base64!"]) if odd else st.just("aGVsbG8=")
    else:
        base = st.none()
    if odd and depth > 0:
        # Now and then a member of the wrong JSON type, as curl or a hand-written client sends it.
        return st.one_of(base, base, base, base, base, base, base, _wrong_type(t))
    return base


def label_values(project: Project, wire: str) -> st.SearchStrategy[str]:
    real = {
        "application-id": [project.app_id, project.app_id, project.app_id, "0" * 32],
        "endpoint-id": ["e1", "e2"],
        "user-id": ["u1", "u2"],
        "segment-id": [project.segment_id],
        "campaign-id": [project.campaign_id],
        "template-name": [project.template],
        "template-type": ["EMAIL", "SMS", "PUSH", "VOICE", "INAPP"],
        "kpi-name": ["email-open-rate", "successful-delivery-rate"],
        "attribute-type": ["endpoint-custom-attributes", "endpoint-user-attributes"],
        "resource-arn": [f"arn:aws:mobiletargeting:us-east-1:000000000000:apps/{project.app_id}"],
        "version": ["1", "latest", "99999999999999999999"],
    }.get(wire, ["x1"])
    return st.one_of(st.sampled_from(real), st.sampled_from(real), st.sampled_from(ODD_STRINGS))


@dataclass
class Drawn:
    path: str
    query: list[tuple[str, str]]
    body: Any  # JSON value, or raw bytes for a body that is not JSON at all


def requests_for(op: Operation, project: Project) -> st.SearchStrategy[Drawn]:
    labels = {wire: label_values(project, wire) for wire in op.labels}
    query = {
        wire: st.one_of(_query_value(shape), st.sampled_from(ODD_STRINGS)) for wire, (_m, shape) in op.query.items()
    }
    if op.payload_shape is not None:
        body: st.SearchStrategy[Any] = st.one_of(
            for_shape(op.payload_shape, odd=False),
            for_shape(op.payload_shape, odd=True),
            for_shape(op.payload_shape, odd=True),
            st.sampled_from([b"{", b"[]", b'"\\ud800"', b'{"a": "\\ud800"}', b"null", b"\xff\xfe"]),
        )
    else:
        body = st.none()

    @st.composite
    def draw(d: st.DrawFn) -> Drawn:
        path = op.uri.split("?")[0]
        for wire in op.labels:
            value = d(labels[wire])
            safe = "/:" if wire == "resource-arn" else ""
            path = re.sub(r"\{" + re.escape(wire) + r"\+?\}", quote(value, safe=safe), path)
        chosen = d(st.fixed_dictionaries({}, optional=query))
        return Drawn(path=path, query=sorted(chosen.items()), body=d(body))

    return draw()


def _query_value(shape: Shape) -> st.SearchStrategy[str]:
    t = shape.type_name
    if t == "list":
        return _query_value(shape.member)
    if t in ("integer", "long"):
        return st.sampled_from(["1", "50", "0", "-1", "99999999999999999999", "x"])
    if t == "timestamp":
        return st.sampled_from(["2026-11-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "bad"])
    if t == "boolean":
        return st.sampled_from(["true", "false", "maybe"])
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    return st.sampled_from(["1", "token", "\x00"])


# -- the checks ---------------------------------------------------------------------------------


def field_names(op: Operation) -> set[str]:
    """Every member and wire name an error message of this operation may name."""
    names: set[str] = set(op.labels) | set(op.query) | set(op.labels.values())
    names |= {m for m, _s in op.query.values()}
    seen: set[str] = set()

    def walk(shape: Shape) -> None:
        if shape.name in seen:
            return
        seen.add(shape.name)
        if shape.type_name == "structure":
            names.add(shape.name)
            for n, m in shape.members.items():
                names.add(n)
                walk(m)
        elif shape.type_name == "list":
            walk(shape.member)
        elif shape.type_name == "map":
            walk(shape.value)

    if op.input_shape is not None:
        walk(op.input_shape)
    return {n for n in names if len(n) > 1}


def check_answer(op: Operation, drawn: Drawn, response: httpx.Response) -> None:
    where = f"{op.name} {drawn.path} {drawn.query} {drawn.body!r:.600} -> {response.status_code} {response.text:.600}"
    assert response.status_code < 500, where
    if response.status_code < 400:
        return
    kind = response.headers.get("x-amzn-errortype")
    assert kind in ERROR_STATUS and ERROR_STATUS[kind] == response.status_code, where
    body = orjson.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("Message"), str) and body.get("RequestID"), where
    if kind == "BadRequestException":
        message = body["Message"]
        named = any(n in message for n in field_names(op)) or "request body" in message
        assert named, f"the message names no field: {where}"


def sign(stack: Stack, method: str, url: str, data: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if data else {}
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(Credentials(stack.access_key_id, stack.secret_access_key), "mobiletargeting", "us-east-1").add_auth(
        request
    )
    return dict(request.headers.items())


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


OPERATIONS = sorted(operations())


@pytest.mark.parametrize("name", OPERATIONS)
def test_fuzz(name: str, stack: Stack, project: Project, http: httpx.Client) -> None:
    op = operations()[name]
    gone: list[bool] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests_for(op, project))
    def one(drawn: Drawn) -> None:
        if isinstance(drawn.body, bytes):
            data = drawn.body
        elif drawn.body is None:
            data = b""
        else:
            data = json.dumps(drawn.body).encode()  # not orjson: integers past 64 bits too
        url = stack.url + drawn.path + (("?" + urlencode(drawn.query, quote_via=quote)) if drawn.query else "")
        writes = op.method != "GET"
        before = stack.sql(FINGERPRINT, project.app_id) if writes else None
        response = http.request(op.method, url, content=data, headers=sign(stack, op.method, url, data))
        check_answer(op, drawn, response)
        if os.environ.get("OPENPOINT_FUZZ_LOG"):
            with open(os.environ["OPENPOINT_FUZZ_LOG"], "a") as log:
                log.write(f"{name}\t{response.status_code}\t{response.text[:150]}\n")
        if name == "DeleteApp" and response.status_code < 300 and project.app_id in drawn.path:
            gone.append(True)  # its data is purged from now on, and every later call is a 404
        if writes and response.status_code >= 400 and not gone:
            after = stack.sql(FINGERPRINT, project.app_id)
            changed = sorted(r[0] for r, s in zip(after, before or [], strict=True) if r[1] != s[1])
            assert not changed, f"a refused {name} wrote to {changed}: {drawn!r:.600}"

    one()


# -- the odd inputs that answered 500 before, one by one -----------------------------------------

BAD = "Invalid value for"


def _events(endpoint_id: str = "e1", endpoint: Any = None, **event: Any) -> dict[str, Any]:
    ev = {"EventType": "cart.abandoned", "Timestamp": "2026-11-20T10:00:00Z", **event}
    return {"BatchItem": {endpoint_id: {"Endpoint": endpoint or {}, "Events": {"ev-1": ev}}}}


ODD_REQUESTS: list[tuple[str, str, str, Any, str]] = [
    # (id, method, path under /v1/apps/{app}, body, what the message must name)
    ("nul-endpoint-id", "POST", "/events", _events("e\x001"), "EventsRequest.BatchItem"),
    ("nul-event-type", "POST", "/events", _events(EventType="a\x00b"), "Events.ev-1.EventType"),
    (
        "duration-1e20",
        "POST",
        "/events",
        _events(Session={"Id": "s1", "StartTimestamp": "2026-11-20T10:00:00Z", "Duration": 1e20}),
        "Session.Duration",
    ),
    ("metric-1e300", "POST", "/events", _events(Metrics={"price": 1e300}), "Events.ev-1.Metrics.price"),
    (
        "long-session-id",
        "POST",
        "/events",
        _events(Session={"Id": "s" * 300, "StartTimestamp": "2026-11-20T10:00:00Z"}),
        "Session.Id",
    ),
    (
        "long-event-id",
        "POST",
        "/events",
        {
            "BatchItem": {
                "e1": {"Endpoint": {}, "Events": {"x" * 300: {"EventType": "a", "Timestamp": "2026-11-20T10:00:00Z"}}}
            }
        },
        "EventsRequest.BatchItem.e1.Events",
    ),
    ("nul-user-id", "PUT", "/endpoints/e9", {"User": {"UserId": "u\x00"}}, "EndpointRequest.User.UserId"),
    ("nul-attribute-name", "PUT", "/endpoints/e9", {"Attributes": {"a\x00": ["x"]}}, "EndpointRequest.Attributes"),
    (
        "long-address",
        "PUT",
        "/endpoints/e9",
        {"Address": "a" * 3000, "ChannelType": "EMAIL"},
        "EndpointRequest.Address",
    ),
    ("long-endpoint-id", "PUT", "/endpoints/" + "x" * 300, {"Address": "a@example.com"}, "endpoint-id"),
    ("nul-endpoint-label", "PUT", "/endpoints/e%00", {"Address": "a@example.com"}, "endpoint-id"),
    ("long-segment-name", "POST", "/segments", {"Name": "s" * 300, "Dimensions": {}}, "WriteSegmentRequest.Name"),
    ("nul-campaign-name", "POST", "/campaigns", {"Name": "c\x00", "SegmentId": "x"}, "WriteCampaignRequest.Name"),
    (
        "journey-year-9999",
        "POST",
        "/journeys",
        {"Name": "j", "Schedule": {"StartTime": "9999-12-31T00:00:00Z"}},
        "WriteJourneyRequest.Schedule.StartTime",
    ),
    (
        "journey-year-1",
        "POST",
        "/journeys",
        {"Name": "j", "Schedule": {"EndTime": "0001-01-01T00:00:00Z"}},
        "WriteJourneyRequest.Schedule.EndTime",
    ),
    (
        "kpi-epoch-1e20",
        "GET",
        "/kpis/daterange/email-open-rate?start-time=0001-01-01T00%3A00%3A00Z",
        None,
        "start-time",
    ),
]


@pytest.mark.parametrize(("case", "method", "path", "body", "field"), ODD_REQUESTS, ids=[r[0] for r in ODD_REQUESTS])
def test_odd_input_is_a_modeled_400(
    case: str, method: str, path: str, body: Any, field: str, stack: Stack, project: Project
) -> None:
    before = stack.sql(FINGERPRINT, project.app_id)
    reply = send(stack, method, f"/v1/apps/{project.app_id}{path}", body)
    assert reply.status == 400 and reply.error_type == "BadRequestException", (reply.status, reply.body)
    assert reply.body["Message"].startswith(BAD) and field in reply.body["Message"], reply.body
    assert reply.body["RequestID"]
    assert stack.sql(FINGERPRINT, project.app_id) == before


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "yesterday", "2026-02-30T00:00:00Z"])
def test_event_with_an_odd_timestamp_is_refused_on_its_own(stamp: str, stack: Stack, project: Project) -> None:
    """As Pinpoint does for a bad event: the item gets 400 naming Timestamp, the rest goes in."""
    body = _events("e1", {"Attributes": {"seen": ["yes"]}}, Timestamp=stamp)
    body["BatchItem"]["e1"]["Events"]["ev-2"] = {"EventType": "ok", "Timestamp": "2026-11-20T10:00:00Z"}
    reply = send(stack, "POST", f"/v1/apps/{project.app_id}/events", body)
    assert reply.status == 202, reply.body
    items = reply.body["Results"]["e1"]["EventsItemResponse"]
    assert items["ev-1"]["StatusCode"] == 400 and "Timestamp" in items["ev-1"]["Message"]
    assert items["ev-2"]["StatusCode"] == 202
    stored = stack.sql("SELECT event_id FROM events WHERE app_id = $1", project.app_id)
    assert [r["event_id"] for r in stored] == ["ev-2"]


def test_odd_values_deeper_in_valid_requests(stack: Stack, project: Project) -> None:
    """Odd values that pass the codec's types and reach a resource's own rules or the store."""
    app, seg = project.app_id, project.segment_id
    message = {"EmailMessage": {"Title": "t", "HtmlBody": "<p>x</p>"}}
    campaign = {"Name": "c", "SegmentId": seg, "MessageConfiguration": message}
    journey = {"Name": "j", "StartActivity": "w", "StartCondition": {"SegmentStartCondition": {"SegmentId": seg}}}
    cases = [
        (
            "POST",
            f"/v1/apps/{app}/campaigns",
            {**campaign, "Schedule": {"StartTime": "9999-12-31T23:59:59Z"}},
            "WriteCampaignRequest.Schedule.StartTime",
        ),
        (
            "POST",
            f"/v1/apps/{app}/campaigns",
            {
                **campaign,
                "Schedule": {
                    "StartTime": "2099-01-01T00:00:00Z",
                    "EndTime": "9999-12-31T23:59:59-14:00",
                    "Frequency": "DAILY",
                },
            },
            "WriteCampaignRequest.Schedule.EndTime",
        ),
        (
            "POST",
            f"/v1/apps/{app}/journeys",
            {**journey, "Activities": {"w": {"Wait": {"WaitTime": {"WaitUntil": "9999-12-31T00:00:00Z"}}}}},
            "WriteJourneyRequest.Activities.w.Wait.WaitTime.WaitUntil",
        ),
        ("GET", f"/v1/apps/{app}/campaigns/{project.campaign_id}/versions/99999999999999999999", None, "version"),
        ("GET", f"/v1/apps/{app}/segments/{seg}/versions/99999999999999999999", None, "version"),
        ("GET", f"/v1/templates/{project.template}/email?version=99999999999999999999", None, "version"),
    ]
    for method, path, body, field in cases:
        before = stack.sql(FINGERPRINT, app)
        reply = send(stack, method, path, body)
        assert reply.status == 400 and reply.error_type == "BadRequestException", (path, reply.status, reply.body)
        assert field in reply.body["Message"], reply.body
        assert stack.sql(FINGERPRINT, app) == before
