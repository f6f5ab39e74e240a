"""The event streamer: every project's events, sent on to its event stream (PutEventStream).

It runs beside the Temporal worker in every worker process, like the outbox dispatcher. Every
`poll_seconds` it takes the projects with a stream, and for each one no other worker is
streaming (an advisory lock, store/event_streams.claim): reads the event feed (store/feed.py)
from the stream's cursor, turns each event into Pinpoint's event-stream record
(rules/event_records.py) and sends them (channels/event_streams.py) with the stream's own
credentials (decrypted here with the vault, so they never leave the worker) or the
environment's, assuming the stream's RoleArn with them. The cursor moves on only
once the destination accepted every record of the read, so a worker that stops in the middle
sends those records again after its restart: at least once, in order per endpoint. A destination
that is down, throttles or is missing is tried again with backoff (up to `max_backoff_seconds`);
its error and the stream's lag (events and seconds) are kept on the stream's row, shown by
`GET /v1/apps/{app}/eventstream/status` and logged. No event is ever skipped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.aws import Credentials
from channels.event_streams import StreamSender, StreamUnavailable
from openpoint.vault import Vault
from rules.event_records import Destination, destination, encode, record
from store import event_streams as store
from store import feed

log = logging.getLogger("openpoint.streamer")
_IDLE_SKIP = 100  # transactions of other projects a quiet stream's cursor lets pass before moving on


@dataclass(frozen=True)
class StreamSettings:
    poll_seconds: float = 0.2  # look for new events this often
    read_events: int = 2000  # events read from the feed at once (whole transactions: maybe more)
    rounds: int = 20  # reads per project before the next project's turn
    concurrency: int = 4  # projects streamed at once
    backoff_seconds: float = 1.0  # after a failure: this, doubled per failure in a row, jittered
    max_backoff_seconds: float = 60.0
    log_every_seconds: float = 30.0  # a stream's lag is logged this often while it lags


class Streamer:
    def __init__(
        self,
        engine: AsyncEngine,
        sender: StreamSender,
        account_id: str,
        settings: StreamSettings | None = None,
        *,
        vault: Vault | None = None,
    ) -> None:
        self._engine = engine
        self._sender = sender
        self._vault = vault  # decrypts streams' own credentials; None: every stream uses the environment's
        self._account_id = account_id
        self.settings = settings or StreamSettings()
        self._gate = asyncio.Semaphore(self.settings.concurrency)
        self._logged: dict[str, float] = {}

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            busy = False
            try:
                async with self._engine.connect() as conn:
                    apps = await store.due(conn)
                results = await asyncio.gather(*(self._stream(app) for app in apps), return_exceptions=True)
                for app, result in zip(apps, results, strict=True):
                    if isinstance(result, BaseException):
                        if isinstance(result, asyncio.CancelledError):
                            raise result
                        log.warning("event stream of project %s: %r", app, result)
                    else:
                        busy = busy or result
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the database is away: the next poll tries again
                log.warning("event streams: %r", e)
            if not busy:
                await asyncio.sleep(self.settings.poll_seconds)

    async def _stream(self, app_id: str) -> bool:
        """Send the project's new events; True when there may be more right away."""
        async with self._gate:
            for _ in range(self.settings.rounds):
                more = await self._round(app_id)
                if not more:
                    return False
            return True

    async def _round(self, app_id: str) -> bool:
        async with self._engine.connect() as conn, conn.begin():
            row = await store.claim(conn, app_id)
            if row is None:
                return False
            horizon = int(await feed.horizon(conn))  # before the read: at most the read's own
            events, cursor = await feed.read(conn, row["cursor"], limit=self.settings.read_events, app_id=app_id)
            if not events and horizon - 1 - int(cursor) > _IDLE_SKIP:
                # None of the project's events lie below the horizon: the cursor may pass the other
                # projects' transactions, which each read would otherwise scan again.
                cursor = str(horizon - 1)
                await store.skip_to(conn, app_id, cursor)
            if events:
                try:
                    await self._send(conn, app_id, row, events)
                except StreamUnavailable as e:
                    await self._failed(conn, app_id, row, str(e))
                    return False
                await store.advance(
                    conn, app_id, cursor=cursor, delivered=len(events), last_event_at=events[-1]["received_at"]
                )
            lag = await store.measure_lag(conn, row, cursor)
        self._log_lag(app_id, *lag)
        return bool(events)

    async def _send(self, conn: Any, app_id: str, row: dict[str, Any], events: list[dict[str, Any]]) -> None:
        dest: Destination = destination(row["destination_stream_arn"])
        endpoints = await store.endpoints(conn, app_id, sorted({e["endpoint_id"] for e in events}))
        sessions = await store.sessions(conn, app_id, sorted({e["session_id"] for e in events if e["session_id"]}))
        records = [
            encode(
                record(e, endpoints.get(e["endpoint_id"]), self._account_id, sessions.get(e["session_id"] or "")),
                dest.service,
            )
            for e in events
        ]
        keys = [e["endpoint_id"] for e in events]
        await self._sender.send(dest, records, keys, self._credentials(row))

    def _credentials(self, row: dict[str, Any]) -> Credentials:
        """The stream's own access keys (else the environment's), and its role to assume with them."""
        own: dict[str, str] = {}
        if row.get("secret_ciphertext"):
            if self._vault is None:
                raise StreamUnavailable(
                    "the stream holds its own credentials, but this worker has no vault to read them"
                )
            try:
                own = store.credentials(self._vault, row["app_id"], row["secret_ciphertext"])
            except InvalidTag:
                raise StreamUnavailable(
                    "the stream's stored credentials do not decrypt with this master key (was OPENPOINT_MASTER_KEY"
                    " changed?): store them again with `openpoint streams credentials`"
                ) from None
        return Credentials(
            access_key_id=own.get("AccessKeyId", ""),
            secret_access_key=own.get("SecretAccessKey", ""),
            session_token=own.get("SessionToken", ""),
            region=own.get("Region", ""),
            role_arn=row["role_arn"],
            external_id=row["external_id"],
        )

    async def _failed(self, conn: Any, app_id: str, row: dict[str, Any], error: str) -> None:
        s = self.settings
        backoff = min(s.max_backoff_seconds, s.backoff_seconds * 2 ** min(int(row["failures"]), 16))
        backoff *= random.uniform(0.8, 1.2)
        failures = await store.failed(conn, app_id, error=error, backoff_seconds=backoff)
        events, seconds = await store.measure_lag(conn, row, row["cursor"])
        log.warning(
            "event stream of project %s to %s: attempt %d failed (%s); %d events (%.1f s) behind, next try in %.1f s",
            app_id, row["destination_stream_arn"], failures, error, events, seconds, backoff,
        )  # fmt: skip

    def _log_lag(self, app_id: str, events: int, seconds: float) -> None:
        now = time.monotonic()
        if events and now - self._logged.get(app_id, 0.0) >= self.settings.log_every_seconds:
            self._logged[app_id] = now
            log.info("event stream of project %s: %d events (%.1f s) behind", app_id, events, seconds)
