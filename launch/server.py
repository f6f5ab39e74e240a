"""What every local sink shares: an ASGI app served on a loopback port from a background thread,
and a folder where each accepted message becomes one readable JSON file.

Hypercorn serves them all because APNs speaks only HTTP/2 over TLS; with TLS it offers h2 and
http/1.1 (ALPN), without it plain HTTP/1.1, which is what the Twilio and FCM clients use.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette

from launch.processes import port_is_free, wait_for_port

HOST = "127.0.0.1"
_START_TIMEOUT = 15.0


class SinkError(RuntimeError):
    """A sink could not start (its port is taken, most often)."""


class Folder:
    """Writes one JSON file per message: `<UTC time>-<seq>-<id>.json`, so that `ls` lists them in
    arrival order. Each file is written under a temporary name and renamed, so that whoever
    watches the folder never reads half a message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seq = itertools.count(1)

    def write(self, message_id: str, record: dict[str, Any]) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in message_id)[:80]
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{next(self._seq):05d}-{safe_id}.json"
        final = self.path / name
        partial = self.path / f".{name}.partial"
        partial.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
        os.replace(partial, final)
        return final


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SinkServer:
    """Serves `app` on HOST:`port` until `stop()`; `tls` = (certificate, key) files for https."""

    name = "sink"

    def __init__(self, app: Starlette, port: int, *, tls: tuple[Path, Path] | None = None) -> None:
        self.port = port
        self.url = f"{'https' if tls else 'http'}://{HOST}:{port}"
        self._config = Config()
        self._config.bind = [f"{HOST}:{port}"]
        self._config.loglevel = "WARNING"
        self._config.accesslog = None
        # Clients keep connections open (the worker's pools do): do not wait for them at stop.
        self._config.graceful_timeout = 1.0
        if tls is not None:
            self._config.certfile, self._config.keyfile = str(tls[0]), str(tls[1])
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"openpoint-{self.name}-sink", daemon=True)

    def start(self) -> SinkServer:
        # Checked here so that a taken port is a clear message, not a timeout.
        if not port_is_free(self.port, HOST):
            raise SinkError(f"the {self.name} sink cannot listen on {HOST}:{self.port}: the port is in use")
        self._thread.start()
        try:
            wait_for_port(HOST, self.port, timeout=_START_TIMEOUT)
        except TimeoutError:
            raise SinkError(f"the {self.name} sink did not start on {HOST}:{self.port}: {self._failure!r}") from None
        return self

    def stop(self) -> None:
        if self._thread.ident is None:  # never started (an earlier sink failed): nothing to stop
            return
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` on the sink's loop after the answer has gone out (Twilio's callbacks); a
        reference is kept so that the task is not collected half-way."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # reported by start(); the thread must not die silently
            self._failure = e

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        try:
            await serve(self._app, self._config, shutdown_trigger=self._stopping.wait)  # type: ignore[arg-type]
        finally:
            for task in list(self._tasks):
                task.cancel()
