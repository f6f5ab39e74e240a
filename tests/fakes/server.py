"""Serve an ASGI app on a loopback port from a background thread (uvicorn), for provider fakes."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import uvicorn

from launch.processes import free_port, wait_for_port


class LoopbackServer:
    """`with Fake() as fake:` starts it; `fake.url` is its base URL."""

    def __init__(self, app: Any, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) files to serve https:// with."""
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
            # Clients keep connections alive (the worker's webhook pool does): do not wait on them.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve()), daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, timeout=15)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
