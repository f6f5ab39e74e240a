"""Telling a hung PostgreSQL from a slow statement, so that a server that stopped answering
(frozen, or cut off without a TCP reset) fails requests within a second or two instead of
holding them until it comes back.

A short statement timeout would do that too, but it would also kill the legitimately long
statements of a live server. Instead, while some pooled connection has been held longer than
`stall` seconds, a watchdog asks the server for `SELECT 1` on a connection of its own. A server
that answers is alive and its slow statements are left alone; one that does not answer within
`probe` seconds has every connection of the pool cut (aborted at the socket, since a graceful
close waits for the server too), so the statements waiting on them fail at once and the pool
opens new connections, within their connect timeout, once the server is back.

At checkout a connection the server closed meanwhile (restart, failover) is replaced before use,
without a round trip; one idle for long is pinged first, for firewalls that drop idle
connections without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.util import await_only

log = logging.getLogger("openpoint.store")

PING_AFTER_IDLE = 30.0  # seconds a pooled connection may idle before it is pinged at checkout


class Watchdog:
    def __init__(self, dsn: str, *, stall: float, probe: float) -> None:
        self.dsn = dsn
        self.stall = stall
        self.probe = probe
        self._conns: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
        self._held: dict[int, tuple[asyncpg.Connection, float]] = {}  # pool record -> (conn, since)
        self._idle: dict[int, float] = {}  # pool record -> returned at
        self._task: asyncio.Task[None] | None = None
        self._probe_conn: asyncpg.Connection | None = None

    def install(self, target: Any) -> None:
        """`target`: the engine (sync side) whose pool to watch."""
        event.listen(target, "connect", self._on_connect)
        event.listen(target, "checkout", self._on_checkout)
        event.listen(target, "checkin", self._on_checkin)

    # -- pool events (synchronous, inside SQLAlchemy's greenlet on the event loop) -------------
    def _on_connect(self, dbapi_conn: Any, record: Any) -> None:
        self._conns.add(dbapi_conn.driver_connection)

    def _on_checkout(self, dbapi_conn: Any, record: Any, proxy: Any) -> None:
        raw: asyncpg.Connection = dbapi_conn.driver_connection
        if raw.is_closed():
            raise DisconnectionError("the server closed this connection")  # the pool reconnects
        idle_since = self._idle.pop(id(record), None)
        if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
            try:
                await_only(raw.fetchval("SELECT 1", timeout=self.probe))
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                raw.terminate()
                raise DisconnectionError("the connection did not answer a ping") from e
        self._held[id(record)] = (raw, time.monotonic())
        self._ensure_watching()

    def _on_checkin(self, dbapi_conn: Any, record: Any) -> None:
        self._held.pop(id(record), None)
        self._idle[id(record)] = time.monotonic()
        if not self._held and self._task is not None:
            self._task.cancel()  # nothing to watch; a task left sleeping would outlive its loop
            self._task = None

    # -- the watchdog ----------------------------------------------------------------------------
    def _ensure_watching(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._watch(), name="openpoint-db-watchdog")

    async def _watch(self) -> None:
        """Runs while connections are held; ends (closing its probe connection) when none is."""
        try:
            while self._held:
                await asyncio.sleep(self.stall / 2)
                now = time.monotonic()
                for key, (raw, _since) in list(self._held.items()):
                    if raw.is_closed():
                        self._held.pop(key, None)  # invalidated without a checkin
                stalled = any(now - since >= self.stall for _raw, since in self._held.values())
                if stalled and not await self._answers():
                    log.warning("PostgreSQL did not answer within %.1fs; dropping its connections", self.probe)
                    for conn in list(self._conns):
                        conn.terminate()
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            if self._probe_conn is not None:
                self._probe_conn.terminate()
                self._probe_conn = None

    async def _answers(self) -> bool:
        """Whether the server answers at all. An error it sends back (too many connections,
        shutting down) is an answer: the connections it still serves get their own errors."""
        try:
            if self._probe_conn is None or self._probe_conn.is_closed():
                self._probe_conn = None
                self._probe_conn = await asyncpg.connect(self.dsn, timeout=self.probe)
            await self._probe_conn.fetchval("SELECT 1", timeout=self.probe)
            return True
        except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.exceptions.PostgresConnectionError):
            if self._probe_conn is not None:
                with contextlib.suppress(Exception):
                    self._probe_conn.terminate()
                self._probe_conn = None
            return False
        except asyncpg.PostgresError:
            return True
