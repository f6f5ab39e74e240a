"""The event-stream sender on its own (channels/event_streams.py): a partial failure sends the
refused records again with the later records of their endpoints, in order; a destination that
keeps refusing, or answers an error, is StreamUnavailable."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from channels import event_streams
from channels.event_streams import StreamSender, StreamUnavailable
from openpoint.settings import Settings
from rules.event_records import FIREHOSE, KINESIS, Destination

KINESIS_DEST = Destination(KINESIS, "us-east-1", "123456789012", "s")
FIREHOSE_DEST = Destination(FIREHOSE, "us-east-1", "123456789012", "h")


class FakeClient:
    """Answers put_records / put_record_batch from a script: each entry, the indices to refuse
    ("all", or an exception to raise); then everything is accepted."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls: list[list[bytes]] = []

    def _answer(self, data: list[bytes]) -> list[dict[str, Any]]:
        self.calls.append(data)
        step = self.script.pop(0) if self.script else set()
        if isinstance(step, Exception):
            raise step
        refused = range(len(data)) if step == "all" else step
        error = {"ErrorCode": "ProvisionedThroughputExceededException"}
        return [error if i in refused else {} for i in range(len(data))]

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        entries = self._answer([r["Data"] for r in Records])
        return {"FailedRecordCount": sum(1 for e in entries if e), "Records": entries}

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        entries = self._answer([r["Data"] for r in Records])
        return {"FailedPutCount": sum(1 for e in entries if e), "RequestResponses": entries}


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_streams, "_PARTIAL_PAUSE", 0.0)


def sender_with(client: FakeClient, dest: Destination) -> StreamSender:
    sender = StreamSender(Settings())
    sender._clients[(dest.service, dest.region, event_streams.ENVIRONMENT)] = client
    return sender


RECORDS = [b"a1", b"b1", b"a2", b"c1", b"b2", b"a3"]
KEYS = ["a", "b", "a", "c", "b", "a"]


async def test_refused_records_go_again_with_the_later_ones_of_their_endpoint() -> None:
    client = FakeClient({1, 5})  # b1 and a3 refused
    await sender_with(client, KINESIS_DEST).send(KINESIS_DEST, RECORDS, KEYS)
    assert client.calls == [RECORDS, [b"b1", b"b2", b"a3"]]


async def test_firehose_too() -> None:
    client = FakeClient({0})
    await sender_with(client, FIREHOSE_DEST).send(FIREHOSE_DEST, RECORDS, KEYS)
    assert client.calls == [RECORDS, [b"a1", b"a2", b"a3"]]


async def test_a_destination_that_keeps_refusing_is_unavailable() -> None:
    client = FakeClient({3}, *["all"] * 10)
    with pytest.raises(StreamUnavailable, match="refused 1 of 1 records: ProvisionedThroughputExceeded"):
        await sender_with(client, KINESIS_DEST).send(KINESIS_DEST, RECORDS, KEYS)


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "PutRecords"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
async def test_errors_are_unavailable(error: Exception) -> None:
    with pytest.raises(StreamUnavailable):
        await sender_with(FakeClient(error), KINESIS_DEST).send(KINESIS_DEST, RECORDS, KEYS)


async def test_batches_of_at_most_500() -> None:
    client = FakeClient()
    records = [b"x%d" % i for i in range(1200)]
    await sender_with(client, KINESIS_DEST).send(KINESIS_DEST, records, ["k"] * 1200)
    assert [len(c) for c in client.calls] == [500, 500, 200] and sum(client.calls, []) == records
