"""Pinpoint's event streams as rules: which destinations a stream may name, and the JSON record
each stored event becomes (the developer guide's "event stream data" pages).

A record, as Pinpoint streamed it:

    {"event_type": "_session.stop", "event_id": ..., "event_timestamp": 1487973802507,
     "arrival_timestamp": 1487973803515, "event_version": "3.0",
     "application": {"app_id": ..., "cognito_identity_pool_id": "", "package_name": ..., "title": ...,
                     "version_name": ..., "version_code": ..., "sdk": {"name": ..., "version": ...}},
     "client": {"client_id": <endpoint id>, "cognito_id": ""},
     "device": {"locale": {"code": ..., "country": ..., "language": ...}, "make": ..., "model": ...,
                "platform": {"name": ..., "version": ...}},
     "session": {"session_id": ..., "start_timestamp": ..., "stop_timestamp": ...},
     "attributes": {...}, "metrics": {...},
     "endpoint": {<the endpoint, Pinpoint's EndpointResponse shape>}, "awsAccountId": ...}

App events (custom, `_session.*`, `_monetization.*`, `_userauth.*`) have event_version 3.0. The
standard engagement events of campaigns, journeys and messages (`_campaign.*`, `_journey.*`,
`_email.*`, `_SMS.*`, `_push.*`, `_voice.*`, `_custom.*`) have 3.1 and Pinpoint's leaner shape:
`application` {app_id, sdk: {}}, `client` {client_id}, `device` {platform: {}}, `session` {},
their attributes (campaign_id, treatment_id, journey_id, journey_activity_id, ...) as stored,
and the endpoint as a JSON string in `client_context.custom.endpoint`; email events add
`facets.email_channel.mail_event` and SMS events Pinpoint's SMS attributes
(rules/event_record_facets.py). `event_id` (the event's id as
PutEvents gave it, or the standard event's own) is OpenPoint's addition: a reader of an
at-least-once stream drops repeats by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from openpoint.errors import BadRequest
from rules.event_record_facets import standard_parts

KINESIS, FIREHOSE = "kinesis", "firehose"
_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
_DESTINATION = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):(?P<service>kinesis|firehose):(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d):"
    r"(?P<account>\d{12}):(?P<kind>stream|deliverystream)/(?P<name>[A-Za-z0-9_.-]{1,128})",
    re.ASCII,
)
_ROLE = re.compile(rf"arn:{_PARTITION}:iam::\d{{12}}:role/[\w+=,.@/-]{{1,512}}", re.ASCII)
_KIND = {KINESIS: "stream", FIREHOSE: "deliverystream"}

# PutRecords: 500 records and 5 MiB a call, 1 MiB a record (data plus partition key).
# PutRecordBatch: 500 records and 4 MiB a call, 1,000 KiB a record.
MAX_RECORDS = 500
MAX_BATCH_BYTES = {KINESIS: 5 * 1024 * 1024, FIREHOSE: 4 * 1024 * 1024}
MAX_RECORD_BYTES = {KINESIS: 1024 * 1024 - 256, FIREHOSE: 1000 * 1024}


@dataclass(frozen=True)
class Destination:
    service: str  # kinesis | firehose
    region: str
    account: str
    name: str  # the stream's or delivery stream's name


def destination(arn: object, field: str = "WriteEventStream.DestinationStreamArn") -> Destination:
    """The Kinesis data stream or Firehose delivery stream an ARN names (BadRequest otherwise)."""
    m = _DESTINATION.fullmatch(arn) if isinstance(arn, str) else None
    if m is None or _KIND[m["service"]] != m["kind"]:
        shown = str(arn)[:300]
        raise BadRequest(
            f"Invalid value for {field}: '{shown}' is not the ARN of a Kinesis data stream"
            " (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME) or a Firehose delivery stream"
            " (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)."
        )
    return Destination(m["service"], m["region"], m["account"], m["name"])


def check_role(arn: object, field: str = "WriteEventStream.RoleArn") -> str:
    """An IAM role's ARN, or "" for the environment's own credentials."""
    if arn == "":
        return ""
    if not isinstance(arn, str) or _ROLE.fullmatch(arn) is None:
        raise BadRequest(
            f"Invalid value for {field}: '{str(arn)[:300]}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
        )
    return arn


# What `openpoint streams credentials` stores on a stream (all but ExternalId encrypted).
STREAM_CREDENTIAL_NAMES = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Region", "ExternalId")
_CREDENTIAL_VALUES = {
    "AccessKeyId": re.compile(r"[A-Z0-9]{16,128}", re.ASCII),
    "SecretAccessKey": re.compile(r"\S{16,256}"),
    "SessionToken": re.compile(r"\S{1,8192}"),
    "Region": re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d", re.ASCII),
    "ExternalId": re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII),
}


def stream_credentials(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` arguments as the credentials to store on a stream (a value "" removes that
    name). ValueError, naming the argument, for anything else: an unknown or repeated name, a
    value that cannot be one, an access key without its secret. New access keys drop a stored
    session token unless one comes with them (it belonged to the old keys)."""
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"'{name[:40]}' is not NAME=VALUE")
        if name not in STREAM_CREDENTIAL_NAMES:
            raise ValueError(
                f"unknown credential '{name}': a stream takes {', '.join(f'{n}=...' for n in STREAM_CREDENTIAL_NAMES)}"
            )
        if name in given:
            raise ValueError(f"{name} is given twice")
        removable = name not in ("AccessKeyId", "SecretAccessKey")
        if not (value == "" and removable) and not _CREDENTIAL_VALUES[name].fullmatch(value):
            shown = value[:40] if name in ("AccessKeyId", "Region", "ExternalId") else "..."
            raise ValueError(f"{name}: '{shown}' cannot be one")
        given[name] = value
    if ("AccessKeyId" in given) != ("SecretAccessKey" in given):
        raise ValueError("AccessKeyId and SecretAccessKey go together")
    if "AccessKeyId" in given:
        given.setdefault("SessionToken", "")
    return given


_APP_EVENT_PREFIXES = ("_session.", "_monetization.", "_userauth.")


def event_version(event_type: str) -> str:
    return "3.0" if not event_type.startswith("_") or event_type.startswith(_APP_EVENT_PREFIXES) else "3.1"


def _ms(t: datetime | None) -> int | None:
    if t is None:
        return None
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", {})}


def endpoint_shape(app_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """An endpoints row in Pinpoint's EndpointResponse shape (the record's `endpoint`)."""
    user = _strip({"UserId": row.get("user_id"), "UserAttributes": row.get("user_attributes") or None})
    return _strip(
        {
            "ApplicationId": app_id,
            "Id": row["id"],
            "Address": row.get("address"),
            "ChannelType": row.get("channel_type"),
            "EndpointStatus": row.get("endpoint_status"),
            "OptOut": row.get("opt_out"),
            "EffectiveDate": row.get("effective_date"),
            "RequestId": row.get("request_id"),
            "CohortId": None if row.get("cohort_id") is None else str(row["cohort_id"]),
            "CreationDate": _iso(row.get("created_at")),
            "Attributes": row.get("attributes") or None,
            "Metrics": row.get("metrics") or None,
            "Demographic": row.get("demographic") or None,
            "Location": row.get("location") or None,
            "User": user or None,
        }
    )


def _locale(code: str | None) -> dict[str, Any]:
    if not code:
        return {}
    language, _, country = code.replace("-", "_").partition("_")
    return _strip({"code": code, "language": language, "country": country})


def _session(event: dict[str, Any], session: dict[str, Any] | None) -> dict[str, Any]:
    if not event.get("session_id"):
        return {}
    out: dict[str, Any] = {"session_id": event["session_id"]}
    if session is not None:
        out.update(
            _strip({"start_timestamp": _ms(session.get("start_time")), "stop_timestamp": _ms(session.get("stop_time"))})
        )
    return out


def record(
    event: dict[str, Any],
    endpoint: dict[str, Any] | None,
    account_id: str,
    session: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event-stream record of one stored event (a feed row: app_id, endpoint_id, event_id,
    event_type, event_time, session_id, attributes, metrics, client, received_at), with its
    endpoint's row (None when it is gone) and its session's (start_time, stop_time)."""
    version = event_version(event["event_type"])
    out: dict[str, Any] = {
        "event_type": event["event_type"],
        "event_id": event["event_id"],  # OpenPoint's addition: what an at-least-once reader dedupes by
        "event_timestamp": _ms(event["event_time"]),
        "arrival_timestamp": _ms(event.get("received_at") or event["event_time"]),
        "event_version": version,
    }
    if version == "3.1":
        # Pinpoint's engagement records: the endpoint as a JSON string in client_context; email
        # events' facets and SMS events' own attributes (rules/event_record_facets.py).
        attributes, metrics, facets = standard_parts(
            event["event_type"], event.get("attributes") or {}, event.get("metrics") or {}, out["event_timestamp"]
        )
        out |= {
            "application": {"app_id": event["app_id"], "sdk": {}},
            "client": {"client_id": event["endpoint_id"]},
            "device": {"platform": {}},
            "session": {},
            "attributes": attributes,
            "metrics": metrics,
        }
        if endpoint is not None:
            shown = orjson.dumps(endpoint_shape(event["app_id"], endpoint)).decode()
            out["client_context"] = {"custom": {"endpoint": shown}}
        out["awsAccountId"] = account_id
        if facets is not None:
            out["facets"] = facets
        return out
    client = event.get("client") or {}
    demographic = (endpoint or {}).get("demographic") or {}
    out["application"] = {
        "app_id": event["app_id"],
        "cognito_identity_pool_id": "",
        **_strip(
            {
                "package_name": client.get("AppPackageName"),
                "title": client.get("AppTitle"),
                "version_name": demographic.get("AppVersion"),
                "version_code": client.get("AppVersionCode"),
            }
        ),
        "sdk": _strip({"name": client.get("SdkName"), "version": client.get("ClientSdkVersion")}),
    }
    out["client"] = {"client_id": event["endpoint_id"], "cognito_id": ""}
    device = _strip(
        {
            "locale": _locale(demographic.get("Locale")),
            "make": demographic.get("Make"),
            "model": demographic.get("Model"),
            "platform": _strip({"name": demographic.get("Platform"), "version": demographic.get("PlatformVersion")}),
        }
    )
    out["device"] = device or {"platform": {}}
    out["session"] = _session(event, session)
    out["attributes"] = event.get("attributes") or {}
    out["metrics"] = event.get("metrics") or {}
    if endpoint is not None:
        out["endpoint"] = endpoint_shape(event["app_id"], endpoint)
    out["awsAccountId"] = account_id
    return out


def encode(rec: dict[str, Any], service: str) -> bytes:
    """One record as bytes on the wire: JSON, with a newline for Firehose (which concatenates
    records into its objects: one per line keeps them readable)."""
    data = orjson.dumps(rec)
    return data + b"\n" if service == FIREHOSE else data


def to_resend(keys: list[str], refused: list[bool]) -> list[int]:
    """After a partial failure, the records to send again (indices, in order): for each partition
    key (endpoint), every record from its first refused one on — sending only the refused ones
    would put them after later records of the same endpoint that were accepted. The records of
    an endpoint as read then hold its events in order (some twice: at least once)."""
    failed_keys: set[str] = set()
    out: list[int] = []
    for i, (key, no) in enumerate(zip(keys, refused, strict=True)):
        if no:
            failed_keys.add(key)
        if key in failed_keys:
            out.append(i)
    return out


def batches(sizes: list[int], service: str) -> list[tuple[int, int]]:
    """Split records of these byte sizes into (start, end) runs that one call may carry."""
    out: list[tuple[int, int]] = []
    start, total = 0, 0
    limit = MAX_BATCH_BYTES[service]
    for i, size in enumerate(sizes):
        if i > start and (i - start >= MAX_RECORDS or total + size > limit):
            out.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out
