"""`make run` (`openpoint dev`): the whole platform on this machine.

Starts what is not configured externally — embedded PostgreSQL (data in `{data_dir}/postgres`,
port 5433 or `OPENPOINT_PG_PORT`) and the Temporal dev server (state in `{data_dir}/temporal.db`,
gRPC 127.0.0.1:7233, Web UI 127.0.0.1:8233; `OPENPOINT_TEMPORAL_PORT` / `OPENPOINT_TEMPORAL_UI_PORT`
override) — and a local sink for each provider nobody configured (SMTP, Twilio, FCM, APNs, a
webhook receiver: launch/sinks.py), applies migrations, makes sure the development key exists,
then runs the worker and the gateway as child processes and prints how to reach them. Ctrl-C (or SIGTERM) stops gateway,
worker, Temporal and PostgreSQL in that order; the data stays for the next run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from launch.postgres import EmbeddedPostgres
from launch.processes import EmbeddedServerError, spawn, terminate
from launch.server import SinkError
from launch.sinks import LocalSinks, SinkPorts
from launch.temporal import TemporalDevServer
from openpoint.settings import Settings, get_settings

log = logging.getLogger("launch.dev")

DEFAULT_PG_PORT = 5433
DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_TEMPORAL_UI_PORT = 8233
HEALTH_TIMEOUT = 90.0
# How long each child gets to finish in-flight work after SIGINT before it is killed.
STOP_TIMEOUT = {"gateway": 10.0, "worker": 30.0}


class Shutdown(BaseException):
    """Raised from the SIGTERM/SIGHUP handler; a BaseException so that no `except Exception` in
    the startup path swallows it (KeyboardInterrupt plays the same role for SIGINT)."""


class StartupError(Exception):
    pass


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise StartupError(f"{name} must be a port number, got {raw!r}") from None


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to `host`."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def redact(dsn: str) -> str:
    """A DSN fit for the terminal: the password of an external database is not printed."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class DevStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).absolute()
        self.postgres: EmbeddedPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}  # in start order
        self.database_url = settings.database_url
        self.temporal_address = settings.temporal_address
        host = _client_host(settings.host)
        self.gateway_url = f"http://{host}:{settings.port}"
        self.key: tuple[str, str] = ("", "")
        self.console_admin: tuple[str, str] | None = None  # (email, password) when created by this run
        self.sinks: LocalSinks | None = None

    # -- startup -------------------------------------------------------------------------------
    def start(self) -> None:
        self._start_servers()
        self._start_sinks()
        self._migrate()
        self._ensure_dev_key()
        self._ensure_console_admin()
        env = self._child_env()
        # The worker first, so that the gateway's first workflow finds a poller.
        self.children["worker"] = spawn([sys.executable, "-m", "launch.cli", "worker"], env=env)
        self.children["gateway"] = spawn([sys.executable, "-m", "launch.cli", "api"], env=env)
        self._wait_healthy()

    def _start_servers(self) -> None:
        if not self.temporal_address:
            self.temporal = TemporalDevServer(
                self.data_dir / "temporal.db",
                port=_env_port("OPENPOINT_TEMPORAL_PORT", DEFAULT_TEMPORAL_PORT),
                ui_port=_env_port("OPENPOINT_TEMPORAL_UI_PORT", DEFAULT_TEMPORAL_UI_PORT),
                namespace=self.settings.temporal_namespace,
            )
            print(f"starting Temporal dev server (state {self.temporal.state_file}) ...", flush=True)
            self.temporal.launch()  # boots while PostgreSQL starts
        if not self.database_url:
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres", port=_env_port("OPENPOINT_PG_PORT", DEFAULT_PG_PORT)
            )
            print(f"starting PostgreSQL (data {self.postgres.data_dir}) ...", flush=True)
            self.database_url = self.postgres.start()
        if self.temporal is not None:
            self.temporal.wait_ready()
            self.temporal_address = self.temporal.address

    def _start_sinks(self) -> None:
        """Providers nobody configured are replaced by local sinks, so that every channel can be
        tried and its messages read (files under the data directory)."""
        from openpoint.vault import vault_from
        from rules.webhooks import signing_secret

        d = SinkPorts()
        ports = SinkPorts(
            smtp=_env_port("OPENPOINT_SMTP_PORT", d.smtp),
            twilio=_env_port("OPENPOINT_TWILIO_SINK_PORT", d.twilio),
            fcm=_env_port("OPENPOINT_FCM_SINK_PORT", d.fcm),
            apns=_env_port("OPENPOINT_APNS_SINK_PORT", d.apns),
            webhook=_env_port("OPENPOINT_WEBHOOK_SINK_PORT", d.webhook),
        )
        secret = signing_secret(self.settings, vault_from(self.settings))
        self.sinks = LocalSinks(self.data_dir, os.environ, webhook_secret=secret, ports=ports)
        self.sinks.start()

    def _migrate(self) -> None:
        from store.migrate import upgrade

        print("applying migrations ...", flush=True)
        upgrade(self.database_url)

    def _ensure_dev_key(self) -> None:
        # Imported late: it pulls in the store and the vault, which the servers above do not need.
        from store.access_keys import ensure_dev_key

        self.key = asyncio.run(ensure_dev_key(self.database_url, self.settings))

    def _ensure_console_admin(self) -> None:
        from launch.users import ensure_dev_admin

        self.console_admin = asyncio.run(ensure_dev_admin(self.database_url))

    def _console_lines(self) -> str:
        if self.console_admin is None:
            return (
                "  Console sign-in         an existing console user (`openpoint users list`;"
                " `openpoint users reset EMAIL` prints a new password)"
            )
        email, password = self.console_admin
        return (
            f"  Console email           {email}\n"
            f"  Console password        {password}\n"
            "                          (created now, shown once: `openpoint users reset EMAIL` prints a new one)"
        )

    def _child_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            # Absolute, so that children agree on the data (and the master key in it) whatever
            # directory they end up in.
            "OPENPOINT_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            **(self.sinks.env() if self.sinks is not None else {}),
            **self._temporal_ui_env(),
        }

    def _temporal_ui_env(self) -> dict[str, str]:
        """The embedded Temporal's Web UI, for the console's links to participants' workflows
        (a URL set by the caller, e.g. an external Temporal's UI, is kept)."""
        ui = self.temporal.ui_url if self.temporal is not None else None
        if os.environ.get("OPENPOINT_TEMPORAL_UI_URL") or not ui:
            return {}
        return {"OPENPOINT_TEMPORAL_UI_URL": ui}

    def _wait_healthy(self) -> None:
        url = f"http://{_client_host(self.settings.host)}:{self.settings.port}/healthz"
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise StartupError(f"the gateway did not answer {url} within {HEALTH_TIMEOUT:g}s")

    # -- steady state --------------------------------------------------------------------------
    def supervise(self) -> None:
        """Return only by exception: a signal, or a part that died."""
        while True:
            self._check_alive()
            time.sleep(0.5)

    def _check_alive(self) -> None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                raise StartupError(f"the {name} exited unexpectedly with code {proc.returncode}")
        for name, server in (("Temporal dev server", self.temporal), ("PostgreSQL", self.postgres)):
            if server is not None and not server.is_running():
                log_hint = f"; see {server.log_file}" if server.log_file else ""
                raise StartupError(f"{name} exited unexpectedly{log_hint}")

    # -- shutdown ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Gateway, worker, Temporal, PostgreSQL: each part stops before what it depends on."""
        for name in ("gateway", "worker"):
            proc = self.children.pop(name, None)
            if proc is not None:
                # SIGINT is what both handle as "finish up" (uvicorn drains, the worker's
                # KeyboardInterrupt path shuts the Temporal worker down).
                terminate(proc, signal.SIGINT, STOP_TIMEOUT[name])
        if self.temporal is not None:
            self.temporal.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self.sinks is not None:
            self.sinks.stop()

    # -- output --------------------------------------------------------------------------------
    def banner(self) -> str:
        key_id, secret = self.key
        region = self.settings.region
        url = self.gateway_url
        temporal_line = self.temporal_address + f" (namespace {self.settings.temporal_namespace})"
        ui = self.temporal.ui_url if self.temporal is not None else None
        providers = self.sinks.banner() if self.sinks is not None else ""
        return f"""
OpenPoint is running.

  Gateway (Pinpoint API)  {url}
  Console                 {url}/console/
  Temporal Web UI         {ui or "(external Temporal: use its own UI)"}
  Temporal                {temporal_line}
  PostgreSQL              {redact(self.database_url)}
  Data directory          {self.data_dir}

  Access key id           {key_id}
  Secret access key       {secret}

{self._console_lines()}

Providers (a local sink saves each message as a file; the README says how to use real ones):
{providers}

boto3:

    import boto3
    pinpoint = boto3.client("pinpoint", endpoint_url="{url}", region_name="{region}",
                            aws_access_key_id="{key_id}", aws_secret_access_key="{secret}")
    print(pinpoint.get_apps())

AWS CLI:

    AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION={region} \\
        aws pinpoint get-apps --endpoint-url {url}

Ctrl-C stops everything; the data stays in {self.data_dir} for the next run.
"""


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _while_stopping(signum: int, frame: FrameType | None) -> None:
    # A second Ctrl-C must not abandon the ordered shutdown half-way (children would be left
    # to the parent-death signal, PostgreSQL without its checkpoint).
    print("still stopping ...", file=sys.stderr, flush=True)


def main() -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The Twilio sink's status callbacks go out through httpx, which logs each request at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stack = DevStack(get_settings())
    signal.signal(signal.SIGTERM, _raise_shutdown)
    signal.signal(signal.SIGHUP, _raise_shutdown)  # terminal closed
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    try:
        stack.start()
        print(stack.banner(), flush=True)
        stack.supervise()
    except (KeyboardInterrupt, Shutdown):
        print("\nstopping ...", file=sys.stderr, flush=True)
    except (StartupError, EmbeddedServerError, SinkError) as exc:
        print(f"\nopenpoint dev: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _while_stopping)
        stack.stop()
    return code
