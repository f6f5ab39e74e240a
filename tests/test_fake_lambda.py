"""The Lambda/STS fake, driven by real boto3 clients as the worker drives it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fakes.lambda_api import (
    FakeLambda,
    delay,
    denied,
    function_error,
    garbage,
    role_access_key,
    service_error,
    throttle,
)

KEY, SECRET = "AKIDPROJECTONE", "secret-one"
ROLE = "arn:aws:iam::210987654321:role/pinpoint-invoke"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLambda]:
    with FakeLambda() as f:
        yield f


def client(fake: FakeLambda, service: str = "lambda", key: str = KEY, secret: str = SECRET, **kw: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=fake.url,
        region_name=kw.pop("region", "eu-west-1"),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
        **kw,
    )


def invoke(fake: FakeLambda, name: str, event: Any = None, **kw: Any) -> Any:
    payload = json.dumps(event if event is not None else {}).encode()
    return client(fake).invoke(FunctionName=name, Payload=payload, **kw)


def test_handler_result_and_what_is_recorded(fake: FakeLambda) -> None:
    fake.add_function("echo", lambda event: {"got": event})
    answer = client(fake, aws_session_token="tok-1").invoke(
        FunctionName="echo", InvocationType="RequestResponse", Payload=b'{"a": 1}', LogType="Tail"
    )
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST" and answer["LogResult"]
    assert json.loads(answer["Payload"].read()) == {"got": {"a": 1}}
    [seen] = fake.to("echo")
    assert (seen.function, seen.sent_as, seen.qualifier, seen.invocation_type) == (
        "echo",
        "echo",
        None,
        "RequestResponse",
    )
    assert seen.event == {"a": 1} and seen.payload == b'{"a": 1}'
    assert (seen.access_key, seen.region, seen.security_token) == (KEY, "eu-west-1", "tok-1")
    assert seen.status == 200 and seen.at <= time.time()


def test_default_handler_answers_null(fake: FakeLambda) -> None:
    fake.add_function("quiet")
    assert invoke(fake, "quiet")["Payload"].read() == b"null"


@pytest.mark.parametrize(
    ("sent", "qualifier"),
    [
        ("named", None),
        ("named:live", "live"),
        ("123456789012:function:named", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:named", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:named:live", "live"),
    ],
)
def test_names_and_arns(fake: FakeLambda, sent: str, qualifier: str | None) -> None:
    fake.add_function("named", lambda event: "hi")
    assert invoke(fake, sent)["Payload"].read() == b'"hi"'
    seen = fake.invocations[-1]
    assert (seen.function, seen.sent_as, seen.qualifier) == ("named", sent, qualifier)


def test_qualifier_query(fake: FakeLambda) -> None:
    fake.add_function("versions")
    invoke(fake, "versions", Qualifier="7")
    assert fake.to("versions")[-1].qualifier == "7"


def test_unknown_function(fake: FakeLambda) -> None:
    lam = client(fake)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="arn:aws:lambda:us-east-1:111122223333:function:ghost:live", Payload=b"{}")
    assert (
        e.value.response["Error"]["Message"]
        == "Function not found: arn:aws:lambda:us-east-1:111122223333:function:ghost"
    )
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert fake.to("ghost")[-1].status == 404


def test_raising_handler_is_a_function_error(fake: FakeLambda) -> None:
    def fail(event: dict[str, Any]) -> None:
        raise KeyError("Endpoints")

    fake.add_function("failing", fail)
    answer = invoke(fake, "failing")
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    body = json.loads(answer["Payload"].read())
    assert body == {"errorMessage": "'Endpoints'", "errorType": "KeyError", "stackTrace": []}
    assert fake.to("failing")[-1].function_error == "Unhandled"


def test_scripted_answers_then_the_handler(fake: FakeLambda) -> None:
    fake.add_function("flaky", lambda event: "fine")
    fake.script("flaky", throttle(), service_error(), denied(), function_error("nope", "Boom"), garbage(b"<html>"))
    lam = client(fake)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as throttled:
        lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert throttled.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert throttled.value.response["retryAfterSeconds"] == "1"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(lam.exceptions.ServiceException) as failed:
        lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    answer = lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled" and json.loads(answer["Payload"].read())["errorType"] == "Boom"
    answer = lam.invoke(FunctionName="flaky", Payload=b"{}")
    assert "FunctionError" not in answer and answer["Payload"].read() == b"<html>"
    assert lam.invoke(FunctionName="flaky", Payload=b"{}")["Payload"].read() == b'"fine"'
    assert [i.status for i in fake.to("flaky")] == [429, 500, 403, 200, 200, 200]


def test_scripted_delay(fake: FakeLambda) -> None:
    fake.add_function("slow", lambda event: 1)
    fake.script("slow", delay(0.5))
    started = time.monotonic()
    assert invoke(fake, "slow")["Payload"].read() == b"1"
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    invoke(fake, "slow")
    assert time.monotonic() - started < 0.5


def test_not_json_payload(fake: FakeLambda) -> None:
    fake.add_function("strict")
    lam = client(fake)
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="strict", Payload=b"{not json")
    assert fake.to("strict")[-1].event is None


def test_allowed_keys(fake: FakeLambda) -> None:
    fake.add_function("private", allow_keys={"AKIDOTHER"})
    with pytest.raises(ClientError) as e:
        invoke(fake, "private")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    answer = client(fake, key="AKIDOTHER").invoke(FunctionName="private", Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert [i.access_key for i in fake.to("private")] == [KEY, "AKIDOTHER"]


def test_dry_run(fake: FakeLambda) -> None:
    calls: list[Any] = []
    fake.add_function("checked", calls.append, allow_keys={KEY})
    fake.script("checked", throttle())  # a DryRun takes no scripted answer
    assert invoke(fake, "checked", InvocationType="DryRun")["StatusCode"] == 204
    assert calls == [] and fake.functions["checked"].script
    with pytest.raises(ClientError) as e:
        client(fake, key="AKIDSTRANGER").invoke(FunctionName="checked", InvocationType="DryRun")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    lam = client(fake)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="missing", InvocationType="DryRun")


def test_event_invocation(fake: FakeLambda) -> None:
    calls: list[Any] = []
    fake.add_function("async", calls.append)
    answer = invoke(fake, "async", {"n": 1}, InvocationType="Event")
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    assert calls == [{"n": 1}] and fake.to("async")[-1].invocation_type == "Event"


def test_custom_channel_drops_repeats(fake: FakeLambda) -> None:
    sink = fake.add_custom_channel("channel")
    event = {
        "ApplicationId": "app",
        "Endpoints": {"e1": {"Address": "a"}, "e2": {"Address": "b"}},
        "IdempotencyKeys": {"e1": "k1", "e2": "k2"},
    }
    assert json.loads(invoke(fake, "channel", event)["Payload"].read()) == {"e1": "accepted", "e2": "accepted"}
    event["IdempotencyKeys"] = {"e1": "k1", "e2": "k3"}
    assert json.loads(invoke(fake, "channel", event)["Payload"].read()) == {"e1": "dropped", "e2": "accepted"}
    assert (sink.accepted, sink.dropped) == (["k1", "k2", "k3"], ["k1"])
    answer = invoke(fake, "channel", {"Endpoints": {"e9": {}}, "IdempotencyKeys": {}})
    assert answer["FunctionError"] == "Unhandled"


def test_assume_role_then_invoke(fake: FakeLambda) -> None:
    fake.allow_role(ROLE, external_id="ext-1")
    fake.add_function("cross", lambda event: "ok", allow_keys={role_access_key(ROLE)})
    sts = client(fake, "sts")
    creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="openpoint", ExternalId="ext-1")["Credentials"]
    assert creds["AccessKeyId"] == role_access_key(ROLE) and creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"].timestamp() > time.time()
    call = fake.assumed[-1]
    assert (call.role_arn, call.session_name, call.external_id, call.access_key) == (ROLE, "openpoint", "ext-1", KEY)
    assumed = boto3.client(
        "lambda",
        endpoint_url=fake.url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=NO_RETRIES,
    )
    assert assumed.invoke(FunctionName="cross", Payload=b"{}")["Payload"].read() == b'"ok"'
    seen = fake.to("cross")[-1]
    assert (seen.access_key, seen.security_token) == (creds["AccessKeyId"], creds["SessionToken"])
    with pytest.raises(ClientError):
        invoke(fake, "cross")  # the caller's own key is not the role's


def test_assume_role_refusals(fake: FakeLambda) -> None:
    fake.allow_role(ROLE, external_id="ext-1")
    sts = client(fake, "sts")
    for role, external_id in [(ROLE, "wrong"), ("arn:aws:iam::210987654321:role/other", "ext-1")]:
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=role, RoleSessionName="refused", ExternalId=external_id)
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert fake.assumed[-1].credentials is None
