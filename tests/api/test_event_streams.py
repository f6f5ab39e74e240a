"""Event streams (PutEventStream): every event of a project — custom, session, and the standard
events of its sends — reaches a Kinesis data stream or a Firehose delivery stream on a loopback
moto server, in Pinpoint's record format, at least once and in order per endpoint; a destination
that is missing delays delivery and loses nothing; a restarted worker resumes from the cursor."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from launch.cli import main as cli
from openpoint.settings import get_settings
from tests.conftest import LoopbackKinesis
from tests.fakes.lambda_api import FakeLambda
from tests.raw import send
from tests.stack import Stack

ACCOUNT = "123456789012"  # moto's


@pytest.fixture(autouse=True)
def no_stream_left(pinpoint: Any, app_id: str) -> Iterator[None]:
    """The project's stream goes with the test: the session's streamer does not keep polling it."""
    yield
    with contextlib.suppress(pinpoint.exceptions.NotFoundException):
        pinpoint.delete_event_stream(ApplicationId=app_id)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(0.2)


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def kinesis_arn(stream: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}"


def make_stream(kinesis: Any, stream: str) -> None:
    kc = kinesis("kinesis")
    kc.create_stream(StreamName=stream, ShardCount=2)
    kc.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})


def kinesis_records(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    """Every record of every shard, each shard's in its order (an endpoint's records share a shard)."""
    kc = kinesis("kinesis")
    out: list[dict[str, Any]] = []
    for shard in kc.list_shards(StreamName=stream)["Shards"]:
        it = kc.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        while it:
            page = kc.get_records(ShardIterator=it, Limit=1000)
            out.extend(orjson.loads(r["Data"]) | {"_key": r["PartitionKey"]} for r in page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return out


def stored(stack: Stack, app_id: str) -> list[Any]:
    """The project's events in the feed's order."""
    return stack.sql(
        "SELECT endpoint_id, event_id, event_type, event_time, session_id, attributes, metrics FROM events"
        " WHERE app_id = $1 ORDER BY xid, event_time, event_id",
        app_id,
    )


def delivered_all(records: list[dict[str, Any]], rows: list[Any]) -> bool:
    seen = {r["event_id"] for r in records}
    return bool(rows) and all(row["event_id"] in seen for row in rows)


def check_delivery(records: list[dict[str, Any]], rows: list[Any], app_id: str) -> None:
    """Every stored event at least once, field by field, and each endpoint's in the stored order."""
    first: dict[str, dict[str, Any]] = {}
    order: dict[str, list[str]] = {}
    for r in records:
        if r["event_id"] not in first:
            first[r["event_id"]] = r
            order.setdefault(r["client"]["client_id"], []).append(r["event_id"])
    assert set(first) == {row["event_id"] for row in rows}
    for row in rows:
        r = first[row["event_id"]]
        assert r["application"]["app_id"] == app_id and r["awsAccountId"] == "000000000000"
        assert r["client"]["client_id"] == row["endpoint_id"]
        assert r["event_type"] == row["event_type"]
        assert r["event_timestamp"] == int(row["event_time"].timestamp() * 1000)
        # Every stored attribute and metric; standard events add Pinpoint's own beside them
        # (rules/event_record_facets.py: email feedback, SMS record_status, ...).
        attributes = orjson.loads(row["attributes"] or "{}")
        if row["event_type"].startswith("_SMS."):
            attributes.pop("record_status", None)  # Pinpoint's word for it replaces the provider's
        assert attributes.items() <= r["attributes"].items()
        if r["event_version"] == "3.0":
            assert r["attributes"] == attributes
        assert orjson.loads(row["metrics"] or "{}").items() <= r["metrics"].items()
        assert r["session"].get("session_id") == row["session_id"]
        assert r.get("_key", row["endpoint_id"]) == row["endpoint_id"]
    expected: dict[str, list[str]] = {}
    for row in rows:
        expected.setdefault(row["endpoint_id"], []).append(row["event_id"])
    assert order == expected


def all_delivered(read: Callable[[], list[dict[str, Any]]], rows: list[Any]) -> list[dict[str, Any]]:
    """What `read` returns once it holds every one of `rows`."""
    found: list[dict[str, Any]] = wait_for(
        "every event delivered", lambda: (lambda r: r if delivered_all(r, rows) else None)(read())
    )
    return found


def status_when(stack: Stack, app_id: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        "the stream's status", lambda: (lambda s: s if check(s) else None)(status(stack, app_id))
    )
    return found


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def put_events(pinpoint: Any, app_id: str, tag: str, n: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Custom and session events of two endpoints; what was sent, by endpoint."""
    base = datetime.now(UTC) - timedelta(minutes=5)
    session = {"Id": f"s-{tag}", "StartTimestamp": iso(base)}
    sent: dict[str, list[dict[str, Any]]] = {}
    items: dict[str, Any] = {}
    for ep in ("ep-a", "ep-b"):
        events: dict[str, Any] = {
            f"{tag}-{ep}-start": {"EventType": "_session.start", "Timestamp": iso(base), "Session": session}
        }
        for i in range(n):
            events[f"{tag}-{ep}-{i}"] = {
                "EventType": "shop.visit",
                "Timestamp": iso(base + timedelta(seconds=i + 1)),
                "Attributes": {"page": f"p{i}"},
                "Metrics": {"n": float(i)},
                "SdkName": "aws-amplify",
                "AppPackageName": "com.shop",
                "Session": session,
            }
        sent[ep] = [{"Id": k, **v} for k, v in events.items()]
        items[ep] = {
            "Endpoint": {"ChannelType": "EMAIL", "Address": f"{ep}-{tag}@example.com",
                         "Demographic": {"Platform": "android", "Make": "Google"}},
            "Events": events,
        }  # fmt: skip
    resp = pinpoint.put_events(ApplicationId=app_id, EventsRequest={"BatchItem": items})
    for ep in items:
        statuses = resp["EventsResponse"]["Results"][ep]["EventsItemResponse"]
        assert {v["StatusCode"] for v in statuses.values()} == {202}
    return sent


def status(stack: Stack, app_id: str) -> dict[str, Any]:
    reply = send(stack, "GET", f"/v1/apps/{app_id}/eventstream/status")
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


class TestEventStreamOperations:
    def test_put_get_delete(self, pinpoint: Any, stack: Stack, app_id: str) -> None:
        arn = kinesis_arn(name("ops"))
        role = f"arn:aws:iam::{ACCOUNT}:role/pinpoint-events"
        put = pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": arn, "RoleArn": role}
        )["EventStream"]
        assert put["ApplicationId"] == app_id and put["DestinationStreamArn"] == arn and put["RoleArn"] == role
        assert put["LastUpdatedBy"] == stack.access_key_id and put["LastModifiedDate"].endswith("Z")
        assert pinpoint.get_event_stream(ApplicationId=app_id)["EventStream"] == put
        firehose = f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/other"
        changed = pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": firehose, "RoleArn": role}
        )["EventStream"]
        assert changed["DestinationStreamArn"] == firehose
        assert len(stack.sql("SELECT 1 FROM event_streams WHERE app_id = $1", app_id)) == 1
        deleted = pinpoint.delete_event_stream(ApplicationId=app_id)["EventStream"]
        assert deleted["DestinationStreamArn"] == firehose
        assert stack.sql("SELECT 1 FROM event_streams WHERE app_id = $1", app_id) == []

    def test_without_a_stream_not_found(self, pinpoint: Any, app_id: str) -> None:
        for call in (pinpoint.get_event_stream, pinpoint.delete_event_stream):
            with pytest.raises(pinpoint.exceptions.NotFoundException, match="Resource not found"):
                call(ApplicationId=app_id)

    def test_unknown_project(self, pinpoint: Any) -> None:
        with pytest.raises(pinpoint.exceptions.NotFoundException, match="Application not found"):
            pinpoint.put_event_stream(
                ApplicationId="f" * 32,
                WriteEventStream={"DestinationStreamArn": kinesis_arn("x"), "RoleArn": ""},
            )

    @pytest.mark.parametrize(
        ("destination", "role", "field"),
        [
            ("arn:aws:sns:us-east-1:123456789012:topic", "", "WriteEventStream.DestinationStreamArn"),
            ("arn:aws:kinesis:us-east-1:123456789012:deliverystream/x", "", "WriteEventStream.DestinationStreamArn"),
            ("arn:aws:firehose:us-east-1:123456789012:stream/x", "", "WriteEventStream.DestinationStreamArn"),
            ("my-stream", "", "WriteEventStream.DestinationStreamArn"),
            (kinesis_arn("x"), "pinpoint-role", "WriteEventStream.RoleArn"),
            (kinesis_arn("x"), "arn:aws:iam::123456789012:user/bob", "WriteEventStream.RoleArn"),
        ],
    )
    def test_bad_input_writes_nothing(
        self, pinpoint: Any, stack: Stack, app_id: str, destination: str, role: str, field: str
    ) -> None:
        with pytest.raises(pinpoint.exceptions.BadRequestException, match=field.replace(".", r"\.")):
            pinpoint.put_event_stream(
                ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": destination, "RoleArn": role}
            )
        assert stack.sql("SELECT 1 FROM event_streams WHERE app_id = $1", app_id) == []


class TestKinesis:
    def test_every_event_in_order_per_endpoint(
        self, pinpoint: Any, stack: Stack, kinesis: Any, smtp: Any, app_id: str
    ) -> None:
        stream = name("events")
        make_stream(kinesis, stream)
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": ""}
        )
        sent = put_events(pinpoint, app_id, "k1")
        # A direct send's standard events go the same way.
        pinpoint.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
        )
        to = f"direct-{secrets.token_hex(4)}@example.com"
        pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {to: {"ChannelType": "EMAIL"}},
                "Endpoints": {"ep-a": {}},
                "MessageConfiguration": {"EmailMessage": {"SimpleEmail": {
                    "Subject": {"Data": "Hi"}, "TextPart": {"Data": "Hello"}}}},
            },
        )  # fmt: skip
        wait_for(
            "the send's standard events",
            lambda: any(r["event_type"].startswith("_email.") for r in stored(stack, app_id)),
        )
        rows = stored(stack, app_id)
        records = all_delivered(lambda: kinesis_records(kinesis, stream), rows)
        check_delivery(records, rows, app_id)
        # Field by field against what PutEvents sent.
        by_id = {r["event_id"]: r for r in records}
        for ep, events in sent.items():
            for ev in events:
                r = by_id[ev["Id"]]
                assert r["event_type"] == ev["EventType"] and r["client"]["client_id"] == ep
                stamp = datetime.fromisoformat(ev["Timestamp"].replace("Z", "+00:00"))
                assert r["event_timestamp"] == int(stamp.timestamp() * 1000)
                assert r["arrival_timestamp"] >= r["event_timestamp"]
                started = datetime.fromisoformat(ev["Session"]["StartTimestamp"].replace("Z", "+00:00"))
                assert r["session"] == {"session_id": ev["Session"]["Id"], "start_timestamp": ms(started)}
                assert r["attributes"] == ev.get("Attributes", {}) and r["metrics"] == ev.get("Metrics", {})
                assert r["event_version"] == "3.0"
                assert r["device"]["platform"] == {"name": "android"} and r["device"]["make"] == "Google"
                assert r["endpoint"]["Id"] == ep and r["endpoint"]["ChannelType"] == "EMAIL"
                if ev["EventType"] == "shop.visit":
                    assert r["application"]["sdk"] == {"name": "aws-amplify"}
                    assert r["application"]["package_name"] == "com.shop"
        email = [r for r in records if r["event_type"].startswith("_email.")]
        assert email and all(
            r["event_version"] == "3.1" and r["client"] == {"client_id": r["client"]["client_id"]} for r in email
        )
        # The endpoint's own send carries the endpoint (Pinpoint's client_context); the address's has none.
        [shown] = {r["client_context"]["custom"]["endpoint"] for r in email if r["client"]["client_id"] == "ep-a"}
        assert orjson.loads(shown)["Address"] == "ep-a-k1@example.com"
        assert any("client_context" not in r for r in email)
        done = status_when(stack, app_id, lambda s: s["LagEvents"] == 0)
        assert done["Delivered"] >= len(rows) and done.get("LastError") is None and done["LagSeconds"] == 0

    def test_a_missing_stream_delays_and_loses_nothing(
        self, pinpoint: Any, stack: Stack, kinesis: Any, app_id: str
    ) -> None:
        stream = name("later")
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": ""}
        )
        put_events(pinpoint, app_id, "down", n=3)
        rows = stored(stack, app_id)
        failing = status_when(stack, app_id, lambda s: s["Failures"] >= 2 and bool(s["LastError"]))
        assert "ResourceNotFound" in failing["LastError"] and failing["LagEvents"] == len(rows)
        assert failing["Delivered"] == 0 and failing["LagSeconds"] > 0
        make_stream(kinesis, stream)  # the destination is back
        records = all_delivered(lambda: kinesis_records(kinesis, stream), rows)
        check_delivery(records, rows, app_id)
        wait_for("the lag back to zero", lambda: status(stack, app_id)["LagEvents"] == 0)

    def test_a_server_that_is_down_delays_and_loses_nothing(
        self, pinpoint: Any, stack: Stack, kinesis: LoopbackKinesis, app_id: str
    ) -> None:
        stream = name("outage")
        make_stream(kinesis, stream)
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": ""}
        )
        kinesis.stop()
        try:
            put_events(pinpoint, app_id, "outage", n=3)
            rows = stored(stack, app_id)
            failing = status_when(stack, app_id, lambda s: s["Failures"] >= 2)
            assert "cannot be reached" in failing["LastError"] and failing["LagEvents"] == len(rows)
        finally:
            kinesis.start()
        records = all_delivered(lambda: kinesis_records(kinesis, stream), rows)
        check_delivery(records, rows, app_id)
        assert status_when(stack, app_id, lambda s: s["LagEvents"] == 0)["Delivered"] >= len(rows)

    def test_a_restarted_worker_resumes_from_the_cursor(
        self, pinpoint: Any, stack: Stack, kinesis: Any, app_id: str
    ) -> None:
        stream = name("restart")
        make_stream(kinesis, stream)
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": ""}
        )
        put_events(pinpoint, app_id, "before", n=2)
        before = stored(stack, app_id)
        wait_for("the first events", lambda: delivered_all(kinesis_records(kinesis, stream), before))
        stack.stop_worker()
        try:
            put_events(pinpoint, app_id, "while", n=4)
            rows = stored(stack, app_id)
            assert status(stack, app_id)["LagEvents"] == len(rows) - len(before)
        finally:
            stack.start_worker()
        records = all_delivered(lambda: kinesis_records(kinesis, stream), rows)
        check_delivery(records, rows, app_id)

    def test_a_quiet_stream_moves_past_other_projects(
        self, pinpoint: Any, stack: Stack, kinesis: LoopbackKinesis, app_id: str
    ) -> None:
        stream = name("quiet")
        make_stream(kinesis, stream)
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": ""}
        )
        [start] = stack.sql("SELECT cursor::bigint AS c FROM event_streams WHERE app_id = $1", app_id)
        other = pinpoint.create_app(CreateApplicationRequest={"Name": name("other")})["ApplicationResponse"]["Id"]
        try:
            for i in range(120):  # one transaction each
                put_events(pinpoint, other, f"o{i}", n=0)

            def moved() -> bool:
                [row] = stack.sql("SELECT cursor::bigint AS c FROM event_streams WHERE app_id = $1", app_id)
                return bool(row["c"] > start["c"] + 100)

            wait_for("the quiet stream's cursor past the other project's events", moved)
        finally:
            pinpoint.delete_app(ApplicationId=other)
        put_events(pinpoint, app_id, "after", n=2)
        rows = stored(stack, app_id)
        check_delivery(all_delivered(lambda: kinesis_records(kinesis, stream), rows), rows, app_id)


class TestFirehose:
    def test_records_reach_the_delivery_streams_bucket_through_a_role(
        self, pinpoint: Any, stack: Stack, kinesis: Any, lambda_api: FakeLambda, app_id: str
    ) -> None:
        bucket, hose = name("events-bucket"), name("hose")
        kinesis("s3").create_bucket(Bucket=bucket)
        kinesis("firehose").create_delivery_stream(
            DeliveryStreamName=hose,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
            },
        )
        role = f"arn:aws:iam::{ACCOUNT}:role/{name('pinpoint-stream')}"
        lambda_api.allow_role(role)
        pinpoint.put_event_stream(
            ApplicationId=app_id,
            WriteEventStream={
                "DestinationStreamArn": f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{hose}",
                "RoleArn": role,
            },
        )
        put_events(pinpoint, app_id, "fh", n=3)
        rows = stored(stack, app_id)
        s3 = kinesis("s3")

        def objects() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
            for key in listed:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                out.extend(orjson.loads(line) for line in body.splitlines() if line.strip())
            return out

        records = all_delivered(objects, rows)
        check_delivery(records, rows, app_id)
        assert any(call.role_arn == role for call in lambda_api.assumed)


def send_email(pinpoint: Any, app_id: str, to: str) -> None:
    """A direct send to an address; its standard events (`_email.send`, `_email.delivered`) follow."""
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Addresses": {to: {"ChannelType": "EMAIL"}},
            "MessageConfiguration": {"EmailMessage": {"SimpleEmail": {
                "Subject": {"Data": "Hi"}, "TextPart": {"Data": "Hello"}}}},
        },
    )  # fmt: skip


def streams_cli(stack: Stack, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`openpoint streams credentials ...` against the stack's database and master key."""
    monkeypatch.setenv("DATABASE_URL", stack.settings.database_url)
    monkeypatch.setenv("OPENPOINT_MASTER_KEY", stack.settings.master_key)
    get_settings.cache_clear()
    try:
        return cli(["streams", "credentials", *argv])
    finally:
        get_settings.cache_clear()


class TestStoredCredentials:
    def test_the_stream_writes_with_its_own_keys_and_role_and_email_facets_arrive(
        self, pinpoint: Any, stack: Stack, kinesis: Any, lambda_api: FakeLambda, smtp: Any, app_id: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        stream = name("owned")
        make_stream(kinesis, stream)
        role = f"arn:aws:iam::{ACCOUNT}:role/{name('pinpoint-owned')}"
        external = f"ext-{secrets.token_hex(4)}"
        lambda_api.allow_role(role, external_id=external)  # only with the stored ExternalId
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn(stream), "RoleArn": role}
        )
        key, secret = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30)
        argv = ["--project", app_id, f"AccessKeyId={key}", f"SecretAccessKey={secret}", f"ExternalId={external}"]
        assert streams_cli(stack, monkeypatch, *argv) == 0
        # The secret is stored encrypted and never shown; the ExternalId is, as Pinpoint showed it.
        [row] = stack.sql("SELECT secret_ciphertext FROM event_streams WHERE app_id = $1", app_id)
        assert secret.encode() not in row["secret_ciphertext"] and key.encode() not in row["secret_ciphertext"]
        shown = pinpoint.get_event_stream(ApplicationId=app_id)["EventStream"]
        assert shown["ExternalId"] == external and shown["RoleArn"] == role
        assert secret not in orjson.dumps(shown).decode() and key not in orjson.dumps(shown).decode()

        to = f"facets-{secrets.token_hex(4)}@example.com"
        send_email(pinpoint, app_id, to)
        wait_for(
            "the send's standard events",
            lambda: {"_email.send", "_email.delivered"} <= {r["event_type"] for r in stored(stack, app_id)},
        )
        rows = stored(stack, app_id)
        records = all_delivered(lambda: kinesis_records(kinesis, stream), rows)
        check_delivery(records, rows, app_id)
        # The role was assumed with the stored keys and ExternalId, not the environment's.
        assumed = [a for a in lambda_api.assumed if a.role_arn == role]
        assert assumed and all(a.access_key == key and a.external_id == external for a in assumed)

        by_type = {r["event_type"]: r for r in records}
        message_id = orjson.loads(next(r["attributes"] for r in rows if r["event_type"] == "_email.send"))["message_id"]
        for kind, part, feedback in (
            ("_email.send", "send", "received"),
            ("_email.delivered", "delivery", "delivered"),
        ):
            r = by_type[kind]
            mail_event = r["facets"]["email_channel"]["mail_event"]
            assert mail_event["mail"]["message_id"] == message_id and mail_event["mail"]["destination"] == [to]
            assert mail_event["mail"]["common_headers"]["to"] == [to]
            assert mail_event["mail"]["message_send_timestamp"] == r["event_timestamp"]
            assert part in mail_event and r["attributes"]["feedback"] == feedback
        assert by_type["_email.delivered"]["facets"]["email_channel"]["mail_event"]["delivery"]["recipients"] == [to]

    def test_bad_input_writes_nothing(
        self, pinpoint: Any, stack: Stack, app_id: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
    ) -> None:
        # No stream yet: nothing to store on.
        ok = ["--project", app_id, "Region=eu-west-1"]
        assert streams_cli(stack, monkeypatch, *ok) == 1
        assert "no event stream" in capsys.readouterr().err
        pinpoint.put_event_stream(
            ApplicationId=app_id, WriteEventStream={"DestinationStreamArn": kinesis_arn("x"), "RoleArn": ""}
        )
        for bad, named in (
            (["Password=hunter2"], "Password"),
            (["AccessKeyId=AKIAIOSFODNN7EXAMPLE"], "SecretAccessKey"),
            (["Region=eu-west-1", "Colour=blue"], "Colour"),
        ):
            assert streams_cli(stack, monkeypatch, "--project", app_id, *bad) == 2
            assert named in capsys.readouterr().err
        [row] = stack.sql("SELECT secret_ciphertext, external_id FROM event_streams WHERE app_id = $1", app_id)
        assert row["secret_ciphertext"] is None and row["external_id"] == ""
        # Stored, then cleared: back to the environment's.
        assert streams_cli(stack, monkeypatch, *ok, "ExternalId=ext-1") == 0
        [row] = stack.sql("SELECT secret_ciphertext, external_id FROM event_streams WHERE app_id = $1", app_id)
        assert row["secret_ciphertext"] is not None and row["external_id"] == "ext-1"
        assert streams_cli(stack, monkeypatch, "--project", app_id, "--clear") == 0
        [row] = stack.sql("SELECT secret_ciphertext, external_id FROM event_streams WHERE app_id = $1", app_id)
        assert row["secret_ciphertext"] is None and row["external_id"] == ""
