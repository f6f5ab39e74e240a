"""The platform under test: gateway on a loopback port and worker, on one background loop.

Tests are plain synchronous functions driving boto3, as a user's code would; the gateway and
worker run on their own event loop in a thread so that blocking boto3 calls do not stall them.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import boto3
import uvicorn
from botocore.config import Config
from temporalio.client import Client

from api.main import create_app
from launch.processes import free_port, wait_for_port
from openpoint.settings import Settings
from openpoint.vault import Vault
from store.access_keys import store_key
from store.db import make_engine, plain_dsn
from worker.main import build_dispatcher, build_rollups, build_streamer, build_worker

T = TypeVar("T")


class Stack:
    def __init__(
        self,
        *,
        database_url: str,
        temporal_address: str,
        smtp_url: str,
        data_dir: Path,
        file_root: Path | None = None,
        s3_endpoint_url: str = "",
        job_tls: ssl.SSLContext | None = None,
        **settings: Any,  # provider URLs and credentials (the loopback fakes)
    ) -> None:
        self.port = free_port()
        self.job_tls = job_tls
        self.settings = Settings(
            database_url=database_url,
            temporal_address=temporal_address,
            temporal_namespace="default",
            task_queue=f"openpoint-test-{secrets.token_hex(4)}",
            host="127.0.0.1",
            port=self.port,
            data_dir=data_dir,
            master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
            smtp_url=smtp_url,
            smtp_timeout_seconds=5.0,
            file_root=file_root,
            s3_endpoint_url=s3_endpoint_url,
            **settings,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_key_id = "OPTEST" + secrets.token_hex(6).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openpoint-stack", daemon=True)
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._db: asyncpg.Pool | None = None
        # Where the analytics tests send their page requests: this gateway (PostgreSQL's
        # rollups), or a second one whose analytics backend is ClickHouse (`use_clickhouse`).
        self.analytics_url = self.url
        self._clickhouse: tuple[str, uvicorn.Server, Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Stack:
        self._thread.start()
        self.run(self._start())
        wait_for_port("127.0.0.1", self.port, timeout=30)
        return self

    async def _start(self) -> None:
        engine = make_engine(self.settings.database_url, pool_size=2)
        await store_key(
            engine,
            Vault(base64.b64decode(self.settings.master_key)),
            self.access_key_id,
            self.secret_access_key,
            description="test key",
        )
        self._engine = engine
        client = await Client.connect(self.settings.temporal_address)
        self.temporal = client
        self._worker = build_worker(client, self.settings, engine, job_tls=self.job_tls)
        self._tasks.append(asyncio.create_task(self._worker.run()))
        self._start_dispatcher()
        self._start_rollups()
        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve()))
        self._db = await asyncpg.create_pool(plain_dsn(self.settings.database_url), min_size=1, max_size=2)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._rollups.cancel)

        async def _stop() -> None:
            if self._server is not None:
                self._server.should_exit = True
            if self._clickhouse is not None:
                self._clickhouse[1].should_exit = True
            self._stop_dispatcher()
            await self._worker.shutdown()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._db is not None:
                await self._db.close()
            await self._engine.dispose()

        self.run(_stop(), timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def restart_worker(self) -> None:
        """Stop the worker in the middle of whatever it runs and start a fresh one on the same
        task queue, as after a crash: its running activities are cancelled, their transactions
        rolled back, and Temporal retries them on the new worker, which replays the workflows."""

        async def _restart() -> None:
            self._stop_dispatcher()
            await self._worker.shutdown()
            self._worker = build_worker(self.temporal, self.settings, self._engine, job_tls=self.job_tls)
            self._tasks.append(asyncio.create_task(self._worker.run()))
            self._start_dispatcher()

        self.run(_restart(), timeout=60)

    def drain_outbox(self, app_id: str, timeout: float = 20) -> None:
        """Wait until the dispatcher has handed over the project's outbox rows (event triggers,
        and the workflow commands the API writes with campaign and journey changes)."""
        deadline = time.monotonic() + timeout
        while self.sql("SELECT count(*) AS n FROM trigger_outbox WHERE app_id = $1", app_id)[0]["n"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the outbox of project {app_id} was not drained within {timeout:g}s")
            time.sleep(0.05)

    def _start_dispatcher(self) -> None:
        """The trigger outbox's dispatcher and the event streamer, beside the worker as in
        `openpoint worker`."""
        self._dispatcher = asyncio.create_task(build_dispatcher(self.temporal, self.settings, self._engine).run())
        self._tasks.append(self._dispatcher)
        self._streamer = asyncio.create_task(build_streamer(self.settings, self._engine).run())
        self._tasks.append(self._streamer)

    def _stop_dispatcher(self) -> None:
        self._dispatcher.cancel()
        self._streamer.cancel()

    def _start_rollups(self) -> None:
        """The analytics rollup loop, beside the worker as in `openpoint worker`."""
        self._rollups = asyncio.create_task(build_rollups(self.settings, self._engine).run())
        self._tasks.append(self._rollups)

    def use_clickhouse(self, on: bool) -> None:
        """Send the analytics tests' page requests to the gateway whose analytics backend is
        ClickHouse (chDB in the data dir, its feeder in that gateway, started on first use), or
        back to this one."""
        if on and self._clickhouse is None:
            port = free_port()
            settings = self.settings.model_copy(
                update={
                    "port": port,
                    "analytics_url": f"chdb://{self.settings.data_dir.resolve()}/chdb",
                    "analytics_rollup_poll_seconds": 0.1,
                }
            )
            app = create_app(settings)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
            )

            async def _serve() -> None:
                self._tasks.append(asyncio.create_task(server.serve()))

            self.run(_serve())
            wait_for_port("127.0.0.1", port, timeout=30)
            self._clickhouse = (f"http://127.0.0.1:{port}", server, app)
        self.analytics_url = self._clickhouse[0] if on and self._clickhouse else self.url

    @property
    def clickhouse_app(self) -> Any:
        """The ClickHouse gateway's application (its `state.ctx.clickhouse`), once started."""
        assert self._clickhouse is not None
        return self._clickhouse[2]

    def drain_clickhouse(self, timeout: float = 30) -> None:
        """Wait until the ClickHouse feeder has copied every event stored so far (when its
        gateway runs)."""
        if self._clickhouse is None:
            return
        deadline = time.monotonic() + timeout
        query = (
            "SELECT c.backfill_after IS NULL AND NOT EXISTS (SELECT 1 FROM events e WHERE e.xid > c.xid::xid8)"
            " AS done FROM an_cursor c WHERE c.name = 'clickhouse'"
        )
        while not any(r["done"] for r in self.sql(query)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the ClickHouse feeder did not catch up within {timeout:g}s")
            time.sleep(0.05)

    def drain_rollups(self, timeout: float = 30) -> None:
        """Wait until the rollup loop has folded every event stored so far (and the ClickHouse
        feeder copied it, when its gateway runs)."""
        self.drain_clickhouse(timeout)
        deadline = time.monotonic() + timeout
        query = (
            "SELECT c.backfilled AND NOT EXISTS (SELECT 1 FROM events e WHERE e.xid > c.xid::xid8) AS done"
            " FROM an_cursor c WHERE c.name = 'rollups'"
        )
        while not any(r["done"] for r in self.sql(query)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the analytics rollups did not catch up within {timeout:g}s")
            time.sleep(0.05)

    def stop_worker(self) -> None:
        """No worker polls the task queue until start_worker: workflows started meanwhile wait,
        and so do the outbox's rows and the event streams (the dispatcher and the streamer live in
        the worker process)."""
        self._stop_dispatcher()
        self.run(self._worker.shutdown(), timeout=60)

    def start_worker(self) -> None:
        async def _start() -> None:
            self._worker = build_worker(self.temporal, self.settings, self._engine, job_tls=self.job_tls)
            self._tasks.append(asyncio.create_task(self._worker.run()))
            self._start_dispatcher()

        self.run(_start())

    # -- helpers for tests ------------------------------------------------------------------
    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Read the database directly: tests assert on rows, not only on responses."""
        assert self._db is not None
        pool = self._db

        async def fetch() -> list[asyncpg.Record]:
            return list(await pool.fetch(query, *args))

        return self.run(fetch())

    def client(self, *, key: tuple[str, str] | None = None, region: str = "us-east-1") -> Any:
        ak, sk = key or (self.access_key_id, self.secret_access_key)
        return boto3.client(
            "pinpoint",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=ak,
            aws_secret_access_key=sk,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=120),
        )

    def add_key(self, project_ids: list[str] | None) -> tuple[str, str]:
        ak, sk = "OPTEST" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
        vault = Vault(base64.b64decode(self.settings.master_key))
        self.run(store_key(self._engine, vault, ak, sk, project_ids=project_ids))
        return ak, sk
