"""Sending event-stream records (rules/event_records.py) to a Kinesis data stream (PutRecords)
or a Firehose delivery stream (PutRecordBatch) with boto3.

`send` returns once the destination accepted every record, or raises `StreamUnavailable`: the
caller keeps its cursor and tries the same records again later (at least once). The refused
entries of a partial failure are sent again at once a few times (with the later records of their
endpoints, which keeps an endpoint's records in order) before giving up.

Credentials, in this order: the stream's own (access keys stored encrypted with the stream by
`openpoint streams credentials`), else the environment's (boto3's chain); then, when the stream
names a RoleArn, that role assumed with them (with its ExternalId), through channels/aws.py's
role assumption shared with the Lambda functions.

`OPENPOINT_KINESIS_ENDPOINT_URL` and `OPENPOINT_FIREHOSE_ENDPOINT_URL` send the calls to a
Kinesis- or Firehose-compatible server (LocalStack, moto, a proxy) instead of AWS.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from channels.aws import Credentials, error_code, session
from openpoint.settings import Settings
from rules.event_records import FIREHOSE, KINESIS, Destination, batches, to_resend

_PARTIAL_RETRIES = 5  # immediate re-sends of a partial failure's refused entries
_PARTIAL_PAUSE = 0.2  # seconds, times the attempt
_MAX_CLIENTS = 1000
ENVIRONMENT = Credentials()  # the environment's, no role


class StreamUnavailable(Exception):
    """The destination did not take the records (down, throttling, missing, refused): try later."""


class StreamSender:
    """One per process: boto3 clients made once per (service, role, region) and shared; their
    calls run in threads."""

    def __init__(self, settings: Settings) -> None:
        self._endpoints = {
            KINESIS: settings.kinesis_endpoint_url or None,
            FIREHOSE: settings.firehose_endpoint_url or None,
        }
        # Failures come back to the streamer, which retries with backoff: one retry here.
        self._config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 2})
        self._clients: dict[tuple[str, str, Credentials], Any] = {}

    async def send(
        self, dest: Destination, records: list[bytes], keys: list[str], credentials: Credentials = ENVIRONMENT
    ) -> None:
        """Every record accepted, in order per key (the endpoint id), or StreamUnavailable."""
        client = self._client(dest, credentials)
        for start, end in batches([len(r) + len(k) for r, k in zip(records, keys, strict=True)], dest.service):
            await self._send_batch(client, dest, records[start:end], keys[start:end])

    async def _send_batch(self, client: Any, dest: Destination, records: list[bytes], keys: list[str]) -> None:
        for attempt in range(_PARTIAL_RETRIES + 1):
            refused, reason = await self._call(client, dest, records, keys)
            if not any(refused):
                return
            if attempt == _PARTIAL_RETRIES:
                raise StreamUnavailable(f"{dest.name} refused {sum(refused)} of {len(records)} records: {reason}")
            again = to_resend(keys, refused)
            records, keys = [records[i] for i in again], [keys[i] for i in again]
            await asyncio.sleep(_PARTIAL_PAUSE * (attempt + 1))

    async def _call(
        self, client: Any, dest: Destination, records: list[bytes], keys: list[str]
    ) -> tuple[list[bool], str]:
        """(which records were refused, why) for one call."""
        try:
            if dest.service == KINESIS:
                answer = await asyncio.to_thread(
                    client.put_records,
                    StreamName=dest.name,
                    Records=[{"Data": r, "PartitionKey": k} for r, k in zip(records, keys, strict=True)],
                )
                entries = answer.get("Records") or []
            else:
                answer = await asyncio.to_thread(
                    client.put_record_batch, DeliveryStreamName=dest.name, Records=[{"Data": r} for r in records]
                )
                entries = answer.get("RequestResponses") or []
        except ClientError as e:
            code, message, status = error_code(e)
            raise StreamUnavailable(f"{dest.service} answered {status} {code}: {message}".rstrip(": ")) from None
        except BotoCoreError as e:  # connection refused, timeouts, DNS, no credentials
            raise StreamUnavailable(f"{dest.service} cannot be reached: {e}") from None
        if not int(answer.get("FailedRecordCount") or answer.get("FailedPutCount") or 0):
            return [False] * len(records), ""
        refused = [bool(entry.get("ErrorCode")) for entry in entries]
        if len(refused) != len(records):  # an answer that does not say which: all of them again
            return [True] * len(records), "the answer did not list the records"
        reasons = {str(e.get("ErrorCode")) for e in entries if e.get("ErrorCode")}
        return refused, ", ".join(sorted(reasons))

    def _client(self, dest: Destination, credentials: Credentials) -> Any:
        key = (dest.service, dest.region, credentials)
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= _MAX_CLIENTS:  # credentials that changed leave their clients behind
                self._clients.clear()
            client = session(credentials).client(
                dest.service, region_name=dest.region, endpoint_url=self._endpoints[dest.service], config=self._config
            )
            self._clients[key] = client
        return client
