"""Dependency outages, with the real servers stopped and started by the test.

This module has its own PostgreSQL, Temporal dev server, SMTP sink and stack, so that stopping
them disturbs no other test. While PostgreSQL is stopped or hung (SIGSTOP), and while Temporal
is stopped, every answer is Pinpoint's modeled InternalServerErrorException with HTTP 503 (which
boto3's retry modes retry) naming what is unavailable; nothing hangs past the clients' read
timeout; the first request after the server is back succeeds, with nothing restarted; a client in
boto3's standard retry mode that calls during a short outage gets its answer. Work started while
the worker is down completes once a worker is back.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from launch.postgres import EmbeddedPostgres
from launch.processes import free_port
from launch.temporal import TemporalDevServer
from store.migrate import upgrade
from tests.api.test_analytics_pages import page, table
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

pytestmark = pytest.mark.slow

OUTAGE = 10.0  # seconds each load test keeps the dependency away
CLIENTS = 4
READ_TIMEOUT = 20  # a request that hangs fails the test (the server answers within ~2 s)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("outage-pg") / "data", fast=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    # On a state file, so that workflows outlive the restart as they would on a real cluster.
    server = TemporalDevServer(tmp_path_factory.mktemp("outage-temporal") / "t.db", port=free_port(), ui_port=None)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_stack(
    pg: EmbeddedPostgres,
    temporal: TemporalDevServer,
    mail: SmtpServer,
    twilio_api: FakeTwilio,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    url = pg.create_database("outages")
    upgrade(url)
    s = Stack(
        database_url=url,
        temporal_address=temporal.address,
        smtp_url=mail.url,
        data_dir=Path(tmp_path_factory.mktemp("outage-data")),
        twilio_api_url=twilio_api.url,
        twilio_account_sid=twilio_api.account_sid,
        twilio_auth_token=twilio_api.auth_token,
    ).start()
    yield s
    s.stop()


def _client(stack: Stack, **retries: Any) -> Any:
    return boto3.client(
        "pinpoint",
        endpoint_url=stack.url,
        region_name="us-east-1",
        aws_access_key_id=stack.access_key_id,
        aws_secret_access_key=stack.secret_access_key,
        config=Config(retries=retries or {"max_attempts": 1}, connect_timeout=5, read_timeout=READ_TIMEOUT),
    )


@pytest.fixture(scope="module")
def project(own_stack: Stack) -> str:
    pinpoint = _client(own_stack)
    app_id: str = pinpoint.create_app(CreateApplicationRequest={"Name": "outages"})["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
    pinpoint.update_endpoint(
        ApplicationId=app_id,
        EndpointId="user-endpoint",
        EndpointRequest={"Address": _address("user"), "ChannelType": "EMAIL", "User": {"UserId": "user-1"}},
    )
    return app_id


def _address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


def _send(pinpoint: Any, app_id: str, to: str) -> dict[str, Any]:
    out: dict[str, Any] = pinpoint.send_messages(
        ApplicationId=app_id,
        MessageRequest={
            "Addresses": {to: {"ChannelType": "EMAIL"}},
            "MessageConfiguration": {
                "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "hi"}, "TextPart": {"Data": "hi"}}}
            },
        },
    )["MessageResponse"]["Result"][to]
    return out


def _unavailable(err: ClientError, what: str) -> bool:
    """The modeled retryable answer: InternalServerErrorException, HTTP 503, naming `what`."""
    return (
        err.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        and err.response["Error"]["Code"] == "InternalServerErrorException"
        and err.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype") == "InternalServerErrorException"
        and what in err.response["Error"]["Message"]
        and "retry" in err.response["Error"]["Message"]
        and bool(err.response["Error"].get("Message"))
    )


# -- PostgreSQL ------------------------------------------------------------------------------------


def _family(pid: int) -> list[int]:
    """A process and its descendants (the postmaster and its backends)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(p for c in children for p in _family(int(c)))]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        call()
        return "ok"
    except ClientError as e:
        return e


def _load(stack: Stack, app_id: str, stop: threading.Event, n: int) -> list[Any]:
    """One client's calls in a loop until `stop`: each outcome, "ok" or the ClientError."""
    pinpoint = _client(stack)
    outcomes: list[Any] = []
    calls: list[Callable[[], Any]] = [
        lambda: pinpoint.get_app(ApplicationId=app_id),
        lambda: pinpoint.update_endpoint(
            ApplicationId=app_id,
            EndpointId=f"load-{n}",
            EndpointRequest={"Address": _address("load"), "ChannelType": "EMAIL"},
        ),
        lambda: pinpoint.get_endpoint(ApplicationId=app_id, EndpointId=f"load-{n}"),
        lambda: _send(pinpoint, app_id, _address("load")),
    ]
    # Each client starts at another call, so that the outage never finds them all in the same
    # kind (on a loaded machine, all four waiting on their sends' workflows noticed nothing).
    calls[1]()  # the endpoint exists before any client reads it
    i = n
    while not stop.is_set():
        try:
            calls[i % len(calls)]()
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e)
        i += 1
    return outcomes


@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_postgres_outage_answers_a_retryable_error_and_recovers(
    own_stack: Stack, pg: EmbeddedPostgres, project: str, how: str
) -> None:
    stop = threading.Event()
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        loads = [pool.submit(_load, own_stack, project, stop, n) for n in range(CLIENTS)]
        time.sleep(1)  # the load runs against a healthy server first
        pids = _family(pg.pid or 0)
        if how == "stopped":
            pg.stop()
        else:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(OUTAGE / 2)
            # A data call made during the outage, whatever the load's calls happen to be doing.
            during: Future[Any] = pool.submit(_outcome, lambda: _client(own_stack).get_app(ApplicationId=project))
            # A client in standard retry mode calling mid-outage gets its answer once it is over.
            patient: Future[Any] = pool.submit(
                lambda: _client(own_stack, mode="standard", max_attempts=15).get_app(ApplicationId=project)
            )
            time.sleep(OUTAGE / 2)
        finally:
            if how == "stopped":
                pg.start()
            else:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
        stop.set()
        outcomes = [o for f in loads for o in f.result()]  # a hung request raised ReadTimeout here
        outcomes.append(during.result())
        assert patient.result()["ApplicationResponse"]["Id"] == project

    errors = [o for o in outcomes if o != "ok"]
    assert errors, "the outage went unnoticed"
    # Every error is the modeled retryable one. A send waiting on its workflow may instead name
    # Temporal when the loaded machine keeps it from answering in time: retryable all the same.
    unexpected = [e.response for e in errors if not (_unavailable(e, "database") or _unavailable(e, "engine"))]
    assert not unexpected
    assert any(_unavailable(e, "database") for e in errors)
    # The first request after the outage succeeds: the pool reconnected by itself.
    assert _client(own_stack).get_app(ApplicationId=project)["ApplicationResponse"]["Id"] == project
    assert _send(_client(own_stack), project, _address("after"))["DeliveryStatus"] == "SUCCESSFUL"


# -- Temporal --------------------------------------------------------------------------------------


def test_temporal_outage_answers_a_retryable_error_and_recovers(
    own_stack: Stack, temporal: TemporalDevServer, project: str, mail: SmtpServer, twilio_api: FakeTwilio
) -> None:
    pinpoint = _client(own_stack)
    assert _send(pinpoint, project, _address("before"))["DeliveryStatus"] == "SUCCESSFUL"  # the client connected
    temporal.stop()
    try:
        attempts: list[Callable[[], Any]] = [
            lambda: _send(pinpoint, project, _address("down")),
            lambda: pinpoint.send_users_messages(
                ApplicationId=project,
                SendUsersMessageRequest={
                    "MessageConfiguration": {"EmailMessage": {"SimpleEmail": {"TextPart": {"Data": "x"}}}},
                    "Users": {"user-1": {}},
                },
            ),
            lambda: pinpoint.send_otp_message(
                ApplicationId=project,
                SendOTPMessageRequestParameters={
                    "BrandName": "Shop",
                    "Channel": "SMS",
                    "DestinationIdentity": "+12065550123",
                    "OriginationIdentity": "+12065550100",
                    "ReferenceId": "outage",
                },
            ),
        ]
        for attempt in attempts:
            with pytest.raises(ClientError) as caught:
                attempt()
            assert _unavailable(caught.value, "workflow engine"), caught.value.response
        # Data operations do not need Temporal.
        assert pinpoint.get_app(ApplicationId=project)["ApplicationResponse"]["Id"] == project
        pinpoint.put_events(
            ApplicationId=project,
            EventsRequest={
                "BatchItem": {
                    "d1": {
                        "Endpoint": {},
                        "Events": {"e1": {"EventType": "outage.seen", "Timestamp": "2026-01-01T00:00:00Z"}},
                    }
                }
            },
        )
        # Standard retry mode: a send made during a short outage goes out once Temporal is back.
        patient = _client(own_stack, mode="standard", max_attempts=15)
        to = _address("patient")
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(_send, patient, project, to)
            time.sleep(2)
            temporal.start()
            assert answer.result()["DeliveryStatus"] == "SUCCESSFUL"
        assert len(mail.sink.to(to)) == 1
    finally:
        temporal.start()  # no-op when running
    # Nothing was restarted: the gateway's and the worker's clients reconnected by themselves.
    to = _address("after")
    assert _send(pinpoint, project, to)["DeliveryStatus"] == "SUCCESSFUL"
    assert len(mail.sink.to(to)) == 1


def test_during_a_temporal_outage_triggers_and_campaigns_wait_in_the_outbox(
    own_stack: Stack, temporal: TemporalDevServer, project: str, mail: SmtpServer
) -> None:
    """PutEvents goes on accepting events, their triggers wait in the outbox, and so does a
    campaign created meanwhile: once Temporal is back each message goes out exactly once."""
    pinpoint = _client(own_stack)
    tag = secrets.token_hex(3)
    members = {f"ev-{tag}-{i}": _address(f"ev{i}") for i in range(5)}
    pinpoint.update_endpoints_batch(
        ApplicationId=project,
        EndpointBatchRequest={
            "Item": [
                {"Id": e, "Address": a, "ChannelType": "EMAIL", "Attributes": {"Plan": [tag]}}
                for e, a in members.items()
            ]
        },
    )
    segment_id = pinpoint.create_segment(
        ApplicationId=project,
        WriteSegmentRequest={
            "Name": "outbox",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": [tag]}}},
        },
    )["SegmentResponse"]["Id"]
    event_type = f"cart.{tag}"
    pinpoint.create_campaign(
        ApplicationId=project,
        WriteCampaignRequest={
            "Name": "triggered",
            "SegmentId": segment_id,
            "Schedule": {
                "StartTime": "IMMEDIATE",
                "Frequency": "EVENT",
                "EventFilter": {
                    "FilterType": "ENDPOINT",
                    "Dimensions": {"EventType": {"DimensionType": "INCLUSIVE", "Values": [event_type]}},
                },
            },
            "MessageConfiguration": {"EmailMessage": {"Title": "triggered", "Body": "x"}},
        },
    )
    time.sleep(1.1)  # past the second for which the gateway caches a project's triggers
    temporal.stop()
    try:
        for endpoint_id in members:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            events = {f"{endpoint_id}-1": {"EventType": event_type, "Timestamp": stamp}}
            answer = pinpoint.put_events(
                ApplicationId=project, EventsRequest={"BatchItem": {endpoint_id: {"Endpoint": {}, "Events": events}}}
            )["EventsResponse"]["Results"][endpoint_id]
            assert answer["EventsItemResponse"][f"{endpoint_id}-1"]["StatusCode"] == 202
        # The same events again (a client retrying): they must not send twice.
        for endpoint_id in members:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            events = {f"{endpoint_id}-1": {"EventType": event_type, "Timestamp": stamp}}
            pinpoint.put_events(
                ApplicationId=project, EventsRequest={"BatchItem": {endpoint_id: {"Endpoint": {}, "Events": events}}}
            )
        scheduled = pinpoint.create_campaign(
            ApplicationId=project,
            WriteCampaignRequest={
                "Name": "created during the outage",
                "SegmentId": segment_id,
                "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
                "MessageConfiguration": {"EmailMessage": {"Title": "scheduled", "Body": "x"}},
            },
        )["CampaignResponse"]
        waiting = own_stack.sql(
            "SELECT kind, count(*) AS n FROM trigger_outbox WHERE app_id = $1 GROUP BY kind", project
        )
        assert {r["kind"]: r["n"] for r in waiting} == {"campaign": 10, "command": 1}
        assert not any(mail.sink.to(a) for a in members.values())
    finally:
        temporal.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not all(len(mail.sink.to(a)) >= 2 for a in members.values()):
        time.sleep(0.2)
    own_stack.drain_outbox(project, timeout=60)
    time.sleep(1)  # anything sent twice would have arrived by now
    for address in members.values():
        assert sorted(m.message["Subject"] for m in mail.sink.to(address)) == ["scheduled", "triggered"]
    state = pinpoint.get_campaign(ApplicationId=project, CampaignId=scheduled["Id"])["CampaignResponse"]["State"]
    assert state["CampaignStatus"] in ("EXECUTING", "COMPLETED")


def _segment(pinpoint: Any, app_id: str) -> str:
    segment_id: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "everyone",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["outage"]}}},
        },
    )["SegmentResponse"]["Id"]
    return segment_id


# -- the worker ------------------------------------------------------------------------------------


def test_sends_started_while_the_worker_is_down_complete_once_it_is_back(
    own_stack: Stack, project: str, mail: SmtpServer
) -> None:
    pinpoint = _client(own_stack)
    member = _address("member")
    pinpoint.update_endpoint(
        ApplicationId=project,
        EndpointId=f"member-{secrets.token_hex(3)}",
        EndpointRequest={"Address": member, "ChannelType": "EMAIL", "Attributes": {"Plan": ["worker"]}},
    )
    segment_id = pinpoint.create_segment(
        ApplicationId=project,
        WriteSegmentRequest={
            "Name": "worker test",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["worker"]}}},
        },
    )["SegmentResponse"]["Id"]
    direct = _address("direct")
    own_stack.stop_worker()
    restarted = False
    try:
        with ThreadPoolExecutor(1) as pool:
            # The direct send waits in Temporal for a worker, its request open meanwhile.
            answer = pool.submit(_send, _client(own_stack), project, direct)
            campaign = pinpoint.create_campaign(
                ApplicationId=project,
                WriteCampaignRequest={
                    "Name": "while the worker is down",
                    "SegmentId": segment_id,
                    "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
                    "MessageConfiguration": {"EmailMessage": {"Title": "resumed", "Body": "resumed"}},
                },
            )["CampaignResponse"]
            time.sleep(2)
            assert not answer.done() and not mail.sink.to(direct) and not mail.sink.to(member)
            own_stack.start_worker()
            restarted = True
            assert answer.result()["DeliveryStatus"] == "SUCCESSFUL"
    finally:
        if not restarted:
            own_stack.start_worker()
    assert len(mail.sink.to(direct)) == 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = pinpoint.get_campaign(ApplicationId=project, CampaignId=campaign["Id"])["CampaignResponse"]["State"]
        if state["CampaignStatus"] == "COMPLETED":
            break
        time.sleep(0.2)
    assert [m.message["Subject"] for m in mail.sink.to(member)] == ["resumed"]


# -- the analytics rollups -------------------------------------------------------------------------


def test_the_rollups_pause_through_a_postgres_outage_and_fold_each_event_once(
    own_stack: Stack, pg: EmbeddedPostgres, project: str
) -> None:
    """The worker's rollup loop moves its cursor in the transaction that folds: a PostgreSQL
    outage fails its batches (rolled back, retried), the loop keeps running, and once the
    database is back every event is on the events page exactly once."""
    pinpoint = _client(own_stack, mode="standard", max_attempts=10)
    kind = f"outage.{secrets.token_hex(3)}"

    def put(tag: str, n: int) -> None:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        events = {f"{tag}-{i}": {"EventType": kind, "Timestamp": at} for i in range(n)}
        result = pinpoint.put_events(
            ApplicationId=project,
            EventsRequest={"BatchItem": {f"rollup-{tag}": {"Endpoint": {"ChannelType": "GCM"}, "Events": events}}},
        )["EventsResponse"]["Results"][f"rollup-{tag}"]
        assert all(r["StatusCode"] == 202 for r in result["EventsItemResponse"].values())

    put("before", 3)  # stored; the loop (polling every second) most likely has not folded them yet
    pg.stop()
    try:
        time.sleep(4)  # a few of the loop's attempts fail meanwhile
    finally:
        pg.start()
    put("after", 4)
    own_stack.drain_rollups(timeout=60)
    rows = table(page(own_stack, project, "events", ("event-type", kind)))
    assert sum(int(values["Events"]) for values in rows.values()) == 7
    endpoint_days = own_stack.sql(
        "SELECT count(*) AS n FROM an_endpoint_days WHERE app_id = $1 AND endpoint_id LIKE 'rollup-%'", project
    )
    assert endpoint_days[0]["n"] == 2
