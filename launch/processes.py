"""Process supervision for the servers `make run` and the test fixtures start on this machine:
ports, logs, child processes and the registry that stops them.

Servers run as child processes of the current Python process. Three layers keep them from
outliving it: their `stop()`, an `atexit` hook over the servers registered here, and (for
processes started from the main thread) a parent-death signal, which covers a SIGKILLed parent
that never gets to run Python code again.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
LOG_TAIL_BYTES = 4000


class EmbeddedServerError(RuntimeError):
    """A server did not start or stop; the message carries the tail of its log."""


# -- ports and logs ----------------------------------------------------------------------------


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (the caller races other processes for it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT from our own last run would look busy, although
        # the servers (which set it) can bind it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 30.0, *, process: subprocess.Popen[Any] | None = None) -> None:
    """Block until `host:port` accepts TCP connections; fail early if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not port_accepts(host, port):
        if process is not None and process.poll() is not None:
            raise EmbeddedServerError(
                f"process {process.pid} exited with {process.returncode} before {host}:{port} opened"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout:g}s")
        time.sleep(0.05)


def tail(path_or_file: Path | IO[bytes] | None, limit: int = LOG_TAIL_BYTES) -> str:
    """The last `limit` bytes of a log, for error messages."""
    if path_or_file is None:
        return ""
    try:
        if isinstance(path_or_file, Path):
            with path_or_file.open("rb") as f:
                return _read_tail(f, limit)
        path_or_file.flush()
        return _read_tail(path_or_file, limit)
    except OSError as exc:
        return f"(log unreadable: {exc})"


def _read_tail(f: IO[bytes], limit: int) -> str:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - limit))
    return f.read().decode("utf-8", "replace")


def clean_env(drop_prefixes: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus variables that would silently redirect a server or client (PGHOST,
    TEMPORAL_ADDRESS, ...) — our own command lines are the only source of truth."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(extra or {})
    return env


def proc_state(pid: int) -> tuple[str, str] | None:
    """(state letter, command name) of a process, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return ("?", "?")
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    state = raw[raw.rindex(")") + 2 :].split(" ", 1)[0]
    return state, comm


# -- child processes ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _death_signal_hook(sig: int) -> Any:
    """A preexec_fn asking the kernel to send `sig` to the child when its parent thread dies.

    Only safe from the main thread: the kernel ties the signal to the creating *thread*, so a
    child started from a worker thread would die with that thread. It runs after subprocess has
    switched uid, which matters because a uid change clears the setting.
    """
    if _libc is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl = _libc.prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return hook


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    run_as: pwd.struct_passwd | None = None,
    cwd: str | Path | None = None,
    death_signal: int = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start a long-running child in its own session.

    Its own session keeps a Ctrl-C in the terminal from reaching it directly, so whoever started
    it decides the order in which things stop (gateway before database, ...).
    """
    user_kwargs: dict[str, Any] = {}
    if run_as is not None:
        user_kwargs = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}
    return subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_death_signal_hook(death_signal),
        **user_kwargs,
    )


def terminate(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Send `sig`, wait up to `timeout`, then SIGKILL. Returns the exit code (None if never started)."""
    if proc is None:
        return None
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("pid %s ignored signal %s for %.0fs; killing it", proc.pid, sig, timeout)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)
    return proc.returncode


class Server(Protocol):
    """What the registry needs of a server: a `stop()` that is safe to call twice."""

    def stop(self) -> None: ...


# Servers still running, stopped at interpreter exit in reverse start order.
_running: list[Server] = []
_running_lock = threading.Lock()


def register(server: Server) -> None:
    with _running_lock:
        if server not in _running:
            _running.append(server)


def unregister(server: Server) -> None:
    with _running_lock:
        if server in _running:
            _running.remove(server)


@atexit.register
def _stop_leftovers() -> None:
    for server in reversed(list(_running)):
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - at exit there is nobody left to raise to
            log.exception("stopping %r at exit", server)
