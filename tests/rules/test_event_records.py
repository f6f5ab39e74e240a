"""Event-stream rules: destination and role ARNs, the record of a stored event, batches and
what a partial failure sends again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from openpoint.errors import BadRequest
from rules.event_records import (
    FIREHOSE,
    KINESIS,
    MAX_BATCH_BYTES,
    Destination,
    batches,
    check_role,
    destination,
    encode,
    event_version,
    record,
    to_resend,
)


class TestDestination:
    def test_kinesis_stream(self) -> None:
        assert destination("arn:aws:kinesis:eu-west-1:123456789012:stream/clicks") == Destination(
            KINESIS, "eu-west-1", "123456789012", "clicks"
        )

    def test_firehose_delivery_stream(self) -> None:
        assert destination("arn:aws-cn:firehose:cn-north-1:123456789012:deliverystream/a.b-c_d") == Destination(
            FIREHOSE, "cn-north-1", "123456789012", "a.b-c_d"
        )

    @pytest.mark.parametrize(
        "arn",
        [
            "",
            None,
            42,
            "clicks",
            "arn:aws:sns:us-east-1:123456789012:topic",
            "arn:aws:kinesis:us-east-1:123456789012:deliverystream/x",  # a Kinesis ARN of Firehose's kind
            "arn:aws:firehose:us-east-1:123456789012:stream/x",
            "arn:aws:kinesis:us-east-1:12345:stream/x",  # account
            "arn:aws:kinesis::123456789012:stream/x",  # region
            "arn:aws:kinesis:us-east-1:123456789012:stream/",
            "arn:aws:kinesis:us-east-1:123456789012:stream/a b",
        ],
    )
    def test_anything_else_is_refused_naming_the_field(self, arn: Any) -> None:
        with pytest.raises(BadRequest, match=r"WriteEventStream\.DestinationStreamArn"):
            destination(arn)


class TestRole:
    def test_role_arn_or_empty(self) -> None:
        assert check_role("arn:aws:iam::123456789012:role/service-role/pinpoint") == (
            "arn:aws:iam::123456789012:role/service-role/pinpoint"
        )
        assert check_role("") == ""

    @pytest.mark.parametrize(
        "arn", ["role", "arn:aws:iam::123456789012:user/bob", "arn:aws:iam::1234:role/x", "arn:aws:s3:::b", 7]
    )
    def test_malformed(self, arn: Any) -> None:
        with pytest.raises(BadRequest, match=r"WriteEventStream\.RoleArn"):
            check_role(arn)


def _event(**over: Any) -> dict[str, Any]:
    return {
        "app_id": "app1",
        "endpoint_id": "ep-1",
        "event_id": "ev-1",
        "event_type": "purchase",
        "event_time": datetime(2026, 11, 20, 10, 5, 0, 250000, tzinfo=UTC),
        "session_id": "s-1",
        "attributes": {"sku": "A1"},
        "metrics": {"price": 9.5},
        "client": {"AppPackageName": "com.shop", "AppTitle": "Shop", "SdkName": "aws-amplify", "AppVersionCode": "7"},
        "received_at": datetime(2026, 11, 20, 10, 5, 1, tzinfo=UTC),
        **over,
    }


_ENDPOINT = {
    "id": "ep-1",
    "address": "ann@example.com",
    "channel_type": "EMAIL",
    "endpoint_status": "ACTIVE",
    "opt_out": "NONE",
    "user_id": "u-1",
    "cohort_id": 12,
    "request_id": None,
    "effective_date": None,
    "attributes": {"plan": ["pro"]},
    "user_attributes": None,
    "metrics": None,
    "demographic": {"Platform": "android", "PlatformVersion": "14", "Make": "Google", "Locale": "en_US",
                    "AppVersion": "1.2"},
    "location": None,
    "created_at": datetime(2026, 11, 1, tzinfo=UTC),
}  # fmt: skip


class TestRecord:
    def test_app_event(self) -> None:
        r = record(_event(), _ENDPOINT, "123456789012")
        assert r["event_type"] == "purchase" and r["event_id"] == "ev-1"
        assert r["event_timestamp"] == 1795169100250 and r["arrival_timestamp"] == 1795169101000
        assert r["event_version"] == "3.0"
        assert r["application"] == {
            "app_id": "app1",
            "cognito_identity_pool_id": "",
            "package_name": "com.shop",
            "title": "Shop",
            "version_name": "1.2",
            "version_code": "7",
            "sdk": {"name": "aws-amplify"},
        }
        assert r["client"] == {"client_id": "ep-1", "cognito_id": ""}
        assert r["device"] == {
            "locale": {"code": "en_US", "language": "en", "country": "US"},
            "make": "Google",
            "platform": {"name": "android", "version": "14"},
        }
        assert r["session"] == {"session_id": "s-1"}
        assert r["attributes"] == {"sku": "A1"} and r["metrics"] == {"price": 9.5}
        assert r["awsAccountId"] == "123456789012"
        assert r["endpoint"]["Id"] == "ep-1" and r["endpoint"]["User"] == {"UserId": "u-1"}
        assert r["endpoint"]["CohortId"] == "12" and r["endpoint"]["CreationDate"] == "2026-11-01T00:00:00.000Z"

    def test_session_times(self) -> None:
        session = {"start_time": datetime(2026, 11, 20, 10, tzinfo=UTC), "stop_time": None}
        r = record(_event(event_type="_session.start"), None, "1", session)
        assert r["session"] == {"session_id": "s-1", "start_timestamp": 1795168800000}

    def test_engagement_event(self) -> None:
        attrs = {"campaign_id": "c1", "treatment_id": "0", "campaign_send_status": "SUCCESS"}
        r = record(_event(event_type="_campaign.send", session_id=None, client={}, attributes=attrs), _ENDPOINT, "1")
        assert r["event_version"] == "3.1" and r["attributes"] == attrs
        assert r["application"] == {"app_id": "app1", "sdk": {}} and r["client"] == {"client_id": "ep-1"}
        assert r["session"] == {} and r["device"] == {"platform": {}} and "endpoint" not in r
        shown = orjson.loads(r["client_context"]["custom"]["endpoint"])
        assert shown["ChannelType"] == "EMAIL" and shown["Id"] == "ep-1"
        assert r["awsAccountId"] == "1"

    def test_engagement_event_without_endpoint(self) -> None:
        r = record(_event(event_type="_email.send", session_id=None), None, "1")
        assert "client_context" not in r and r["client"] == {"client_id": "ep-1"}

    @pytest.mark.parametrize(
        ("kind", "version"),
        [("click", "3.0"), ("_session.stop", "3.0"), ("_monetization.purchase", "3.0"), ("_email.send", "3.1"),
         ("_SMS.SUCCESS", "3.1"), ("_journey.send", "3.1")],
    )  # fmt: skip
    def test_event_version(self, kind: str, version: str) -> None:
        assert event_version(kind) == version

    def test_encoding(self) -> None:
        r = record(_event(), None, "1")
        assert encode(r, KINESIS) == orjson.dumps(r)
        assert encode(r, FIREHOSE) == orjson.dumps(r) + b"\n"


class TestBatches:
    def test_at_most_500_records(self) -> None:
        assert batches([10] * 1201, KINESIS) == [(0, 500), (500, 1000), (1000, 1201)]

    def test_at_most_the_bytes_of_a_call(self) -> None:
        mib = 1024 * 1024
        assert batches([mib - 1000] * 6, KINESIS) == [(0, 5), (5, 6)]
        assert batches([mib - 1000] * 6, FIREHOSE) == [(0, 4), (4, 6)]
        assert sum([mib - 1000] * 5) <= MAX_BATCH_BYTES[KINESIS]

    def test_empty(self) -> None:
        assert batches([], KINESIS) == []


class TestResend:
    def test_an_endpoints_records_from_its_first_refused_one(self) -> None:
        keys = ["a", "b", "a", "c", "b", "a"]
        refused = [False, True, False, False, False, True]
        # b from index 1 on (1, 4); a from index 5 on; c never.
        assert to_resend(keys, refused) == [1, 4, 5]

    def test_nothing_refused(self) -> None:
        assert to_resend(["a", "b"], [False, False]) == []
