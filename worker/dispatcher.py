"""The trigger dispatcher: hands the trigger outbox (store/outbox.py) to Temporal.

It runs beside the Temporal worker in every worker process. Woken by the outbox's NOTIFY (and
by a poll, for lost notifications and expired leases), it claims a batch of rows and:
- starts one CampaignTriggerWorkflow per campaign for all of the batch's events that matched it
  (not one workflow per event): its local activity sends them through the one delivery path;
- starts one journey participant per event-started entry (admission is its first step);
- signals the events to the participants waiting for them at a split;
- carries out the API's workflow commands (engine/commands.py: start or stop a campaign's
  workflows, signal a journey's), written with the change they act on.
Started, it deletes the rows. Delivery to Temporal is at least once: a dispatcher that dies
between the start and the delete leaves the rows to be claimed again when their lease ends, and
the workflow ids (first row of the batch, participant entry) and the delivery log's idempotency
keys make the repeat a no-op. While Temporal is unreachable the rows stay and are retried with
backoff; PutEvents keeps accepting events all the while.

Starts ask for eager execution: the worker in this process gets the workflow's first task with
the start's answer, which saves a round trip through the server's task queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from engine import campaigns, commands
from engine import journeys as journeys_engine
from rules.triggers import CAMPAIGN, ENGAGEMENT, JOURNEY
from store import journey_events, outbox
from store.db import plain_dsn
from workflows.campaign import TriggerBatch
from workflows.journey import ParticipantInput

log = logging.getLogger("openpoint.dispatcher")


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 1000  # outbox rows claimed at once
    campaign_batch: int = 500  # events per CampaignTriggerWorkflow
    lease_seconds: float = 30.0  # a claimed row is another dispatcher's after this
    poll_seconds: float = 1.0  # look even without a notification this often
    linger_seconds: float = 0.05  # after a notification, wait this long for more before claiming
    retry_seconds: float = 2.0  # rows Temporal did not take wait this long, times their attempts (≤ 60 s)
    max_delay_seconds: float = 300.0  # an event-triggered message later than this is dropped (recorded)
    concurrency: int = 4  # batches handed over at once


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        client: Callable[[], Awaitable[Client]],
        task_queue: str,
        database_url: str,
        settings: DispatchSettings | None = None,
    ) -> None:
        self._engine = engine
        self._client = client
        self._task_queue = task_queue
        self._dsn = plain_dsn(database_url)
        self.settings = settings or DispatchSettings()
        self._wake = asyncio.Event()
        self._gate = asyncio.Semaphore(self.settings.concurrency)
        self._inflight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Until cancelled."""
        listener = asyncio.create_task(self._listen())
        try:
            while True:
                claimed = await self._claim_and_hand_over()
                if claimed < self.settings.batch_size:
                    # Drained: sleep until a notification or the next poll. Woken, linger a
                    # moment so that the events of the next few requests travel together: one
                    # workflow and one round of statements for several triggers instead of each.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
                        await asyncio.sleep(self.settings.linger_seconds)
                    self._wake.clear()
        finally:
            listener.cancel()
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(listener, *self._inflight, return_exceptions=True)

    async def _listen(self) -> None:
        """LISTEN on a connection of its own, reconnecting after an outage."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await outbox.listen(self._dsn, self._wake.set)
                self._wake.set()  # whatever arrived while not listening
                while not conn.is_closed():
                    await asyncio.sleep(5)
                    await outbox.still_there(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the poll covers for the listener while it is away
                log.info("outbox listener reconnecting: %s", e)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=1)
            await asyncio.sleep(1)

    async def _claim_and_hand_over(self) -> int:
        try:
            async with self._engine.begin() as conn:
                rows = await outbox.claim(
                    conn, limit=self.settings.batch_size, lease_seconds=self.settings.lease_seconds
                )
        except Exception as e:  # noqa: BLE001 - the database is away: try again at the next poll
            log.warning("outbox claim failed: %s", e)
            return 0
        if rows:
            await self._gate.acquire()
            task = asyncio.create_task(self._hand_over(rows))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return len(rows)

    async def _hand_over(self, rows: list[dict[str, Any]]) -> None:
        try:
            done, failed = await self._start_all(rows)
            # Backoff grows with the attempts, so a row Temporal keeps refusing costs little.
            attempts = {r["id"]: r["attempts"] for r in rows}
            waits: dict[float, list[int]] = defaultdict(list)
            for row_id in failed:
                waits[min(self.settings.retry_seconds * attempts[row_id], 60.0)].append(row_id)
            async with self._engine.begin() as conn:
                await outbox.done(conn, done)
                for seconds, ids in waits.items():
                    await outbox.retry_later(conn, ids, after_seconds=seconds)
        except Exception:  # noqa: BLE001 - the lease runs out and the rows are claimed again
            log.exception("outbox hand-over failed")
        finally:
            self._gate.release()

    async def _start_all(self, rows: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[(r["kind"], r["app_id"], r["target_id"])].append(r)
        jobs: list[tuple[list[int], Awaitable[None]]] = []
        for (kind, app_id, target), members in groups.items():
            if kind == CAMPAIGN:
                size = self.settings.campaign_batch
                for i in range(0, len(members), size):
                    chunk = members[i : i + size]
                    jobs.append(([r["id"] for r in chunk], self._start_campaign(app_id, target, chunk)))
            elif kind == JOURNEY:
                jobs.extend(([r["id"]], self._start_participant(app_id, target, r)) for r in members)
            elif kind == ENGAGEMENT:
                jobs.append(([r["id"] for r in members], self._signal(app_id, members)))
            elif kind == outbox.COMMAND:
                # One target's commands in the order written: a stop must not overtake the start
                # it follows (the workflow would run until it read the change itself).
                jobs.append(([r["id"] for r in members], self._commands(sorted(members, key=lambda r: r["id"]))))
            else:  # written by a newer version: leave it for a dispatcher that knows it
                log.warning("outbox rows of unknown kind %s left for another dispatcher", kind)
        outcomes = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
        done: list[int] = []
        failed: list[int] = []
        for (ids, _), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("%d outbox rows wait for Temporal: %s", len(ids), outcome)
                failed.extend(ids)
            else:
                done.extend(ids)
        return done, failed

    async def _start_campaign(self, app_id: str, campaign_id: str, rows: list[dict[str, Any]]) -> None:
        batch = TriggerBatch(
            app_id,
            campaign_id,
            [r["endpoint_id"] for r in rows],
            [r["event_id"] for r in rows],
            [r["event_time"].isoformat() for r in rows],
            max_delay_seconds=self.settings.max_delay_seconds,
        )
        await campaigns.start_triggers(await self._client(), self._task_queue, batch, min(r["id"] for r in rows))

    async def _start_participant(self, app_id: str, journey_id: str, row: dict[str, Any]) -> None:
        who = ParticipantInput(
            app_id, journey_id, row["endpoint_id"], f"event-{row['event_id']}", event_time=row["event_time"].isoformat()
        )
        # The same event again finds its entry started: nothing new.
        await journeys_engine.start_participant(await self._client(), who, self._task_queue, eager=True)

    async def _commands(self, rows: list[dict[str, Any]]) -> None:
        client = await self._client()
        for row in rows:
            await commands.execute(client, self._engine, self._task_queue, row)

    async def _signal(self, app_id: str, rows: list[dict[str, Any]]) -> None:
        """Events of endpoints whose participants wait at a split, told to those participants."""
        async with self._engine.connect() as conn:
            waiting = await journey_events.listening(conn, app_id, sorted({r["endpoint_id"] for r in rows}))
        if not waiting:
            return
        client = await self._client()
        for listener in waiting:
            for row in rows:
                if row["endpoint_id"] != listener["endpoint_id"]:
                    continue
                if not listener["since"] <= row["event_time"] <= listener["until"]:
                    continue
                # False: the participant moved on before the event; Temporal away: raised.
                await journeys_engine.tell_engagement(client, listener["workflow_id"], row["event"])
