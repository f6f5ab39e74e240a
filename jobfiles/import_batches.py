"""Writing an import file's batches: each batch in one transaction that upserts its endpoints,
adds its segment members and counts it in the job row (store.jobs.record_batch). Two batches of
a file may be in flight at once, so that Python work on one overlaps the database's work on the
other (more contend in the database and gain nothing); a batch that was already counted (the
activity is a retry) is rolled back, never applied twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from jobfiles.rows import Batch
from store import endpoints as endpoints_store
from store import jobs as jobs_store
from store.db import sqlstate

BATCHES_IN_FLIGHT = 2
_RETRY_SQLSTATES = ("40P01", "40001")  # deadlock (two batches naming the same endpoints), serialization


class _AlreadyCounted(Exception):
    """The batch was committed by an earlier attempt: roll this transaction back."""


class BatchWriter:
    """Writes a file's batches, at most BATCHES_IN_FLIGHT at once, each in its own transaction."""

    def __init__(
        self,
        engine: AsyncEngine,
        app_id: str,
        job_id: str,
        piece: int,
        url: str,
        *,
        segment: str | None,
        register: bool,
        removed: dict[str, list[str]],
    ) -> None:
        self.engine = engine
        self.app_id, self.job_id, self.piece, self.url = app_id, job_id, piece, url
        self.segment = segment
        self.register = register
        self.removed = removed
        self.running: set[asyncio.Task[None]] = set()

    async def submit(self, batch: Batch) -> None:
        while len(self.running) >= BATCHES_IN_FLIGHT:
            done, _ = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                self.running.discard(t)
                t.result()  # a failed batch fails the file (and Temporal retries it)
        self.running.add(asyncio.create_task(self._write(batch)))

    async def drain(self, *, failing: bool = False) -> None:
        """Wait for the batches in flight; when the file is failing anyway, their errors are moot."""
        running, self.running = self.running, set()
        results = await asyncio.gather(*running, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not failing:
                raise result

    async def cancel(self) -> None:
        running, self.running = self.running, set()
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _write(self, batch: Batch) -> None:
        for attempt in range(5):
            try:
                async with self.engine.begin() as conn:
                    await self._apply(conn, batch)
                return
            except _AlreadyCounted:
                return
            except Exception as e:
                if sqlstate(e) not in _RETRY_SQLSTATES or attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def _apply(self, conn: AsyncConnection, batch: Batch) -> None:
        failed: dict[int, str] = dict(batch.failures)
        rows_of: dict[str, list[int]] = {}
        for eid, _req, row in batch.endpoints:
            rows_of.setdefault(eid, []).append(row)
        members: list[str] = []
        channels: dict[str, int] = {}  # per imported row, as Pinpoint counts ChannelCounts
        if batch.endpoints:
            if self.register:
                items = [(eid, req) for eid, req, _row in batch.endpoints]
                errors = await endpoints_store.upsert(
                    conn, self.app_id, items, now=datetime.now(UTC), removed=self.removed, strict=False
                )
            else:
                known = await jobs_store.existing_ids(conn, self.app_id, list(rows_of))
                errors = {
                    eid: f"Endpoint {eid} is not registered, and the job's RegisterEndpoints is false."
                    for eid in rows_of
                    if eid not in known
                }
            for eid, message in errors.items():
                for row in rows_of[eid]:
                    failed[row] = message
            members = [eid for eid in rows_of if eid not in errors]
            for eid, req, _row in batch.endpoints:
                if eid not in errors and "ChannelType" in req:
                    channels[req["ChannelType"]] = channels.get(req["ChannelType"], 0) + 1
        if batch.users:
            found: dict[str, list[str]] = {}
            for r in await jobs_store.user_endpoints(conn, self.app_id, sorted({u for u, _ in batch.users})):
                found.setdefault(r["user_id"], []).append(r["id"])
            for user, row in batch.users:
                if user in found:
                    members.extend(found[user])
                else:
                    failed[row] = f"User {user} has no endpoints in this project."
        if self.segment is not None and members:
            await jobs_store.add_staged_members(conn, self.app_id, self.segment, members)
        counted = await jobs_store.record_batch(
            conn,
            self.app_id,
            self.job_id,
            self.piece,
            index=batch.index,
            end_offset=batch.end_offset,
            end_line=batch.end_line,
            imported=batch.rows - len(failed),
            failed=len(failed),
            messages=[f"{self.url} row {row}: {message}" for row, message in sorted(failed.items())],
            channels=channels,
        )
        if not counted:
            raise _AlreadyCounted
