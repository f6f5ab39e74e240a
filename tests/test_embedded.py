"""The servers `make run` and the fixtures start: embedded PostgreSQL and the Temporal dev server."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus

from launch.postgres import EmbeddedPostgres
from launch.processes import EmbeddedServerError, free_port, port_accepts, wait_for_port
from launch.temporal import TemporalDevServer


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_dead(pid: int, timeout: float = 10.0) -> None:
    """Until `pid` is gone or a zombie (our child stays one until someone reaps it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return
        if stat[stat.rindex(")") + 2] == "Z":
            return
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.02)


async def test_postgres_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path / "data", fast=True)
    dsn = first.start()
    assert dsn == f"postgresql://postgres@127.0.0.1:{first.port}/postgres"
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SHOW max_connections") == "200"
        await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    finally:
        await conn.close()
    pid = first.pid
    assert pid is not None
    first.stop()
    first.stop()  # idempotent
    assert _gone(pid) and first.pid is None

    # A new object on the same directory is what a second `make run` does.
    with EmbeddedPostgres(tmp_path / "data", fast=True) as second:
        conn = await asyncpg.connect(second.dsn)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == 42
        finally:
            await conn.close()

        other = second.create_database("fresh db")
        conn = await asyncpg.connect(other)
        try:
            assert await conn.fetchval("SELECT current_database()") == "fresh db"
        finally:
            await conn.close()


async def test_postgres_starts_again_after_sigkill(tmp_path: Path) -> None:
    # fsync stays on here: the row must survive the crash, not only the catalog.
    server = EmbeddedPostgres(tmp_path / "data")
    dsn = server.start()
    try:
        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE survived (v text); INSERT INTO survived VALUES ('yes')")
        await conn.close()
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid)

        # A new server on the directory, as after a killed `make run`: stale postmaster.pid, crash
        # recovery, backends of the old one possibly still detaching.
        again = EmbeddedPostgres(tmp_path / "data")
        try:
            conn = await asyncpg.connect(again.start())
            assert await conn.fetchval("SELECT v FROM survived") == "yes"
            await conn.close()
            assert "database system was interrupted" in again.log_file.read_text()
        finally:
            again.stop()
    finally:
        server.stop()


def test_postgres_refuses_a_directory_another_server_runs_on(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "data", fast=True) as running:
        with pytest.raises(EmbeddedServerError, match="already running"):
            EmbeddedPostgres(tmp_path / "data", fast=True).start()
        assert running.is_running()


def test_postgres_reports_a_taken_port(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "a", fast=True) as running:
        with pytest.raises(EmbeddedServerError, match="already in use"):
            EmbeddedPostgres(tmp_path / "b", port=running.port, fast=True).start()


async def test_temporal_dev_server_headless() -> None:
    server = TemporalDevServer(None, port=free_port(), ui_port=None)
    address = server.start()
    try:
        client = await Client.connect(address)
        assert client.namespace == "default"
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
    finally:
        pid = server.pid
        server.stop()
        server.stop()
    assert pid is not None and _gone(pid)
    assert not port_accepts("127.0.0.1", server.port)


async def test_temporal_dev_server_keeps_state_and_search_attributes(tmp_path: Path) -> None:
    state = tmp_path / "temporal.db"
    attrs = {"OpenPointApp": "Keyword"}
    workflow_id = f"kept-{uuid.uuid4().hex[:8]}"
    with TemporalDevServer(state, port=free_port(), ui_port=None, search_attributes=attrs) as server:
        client = await Client.connect(server.address)
        # No worker runs it: it simply stays open, which is enough to find it again.
        await client.start_workflow("Nobody", id=workflow_id, task_queue="nowhere")
    # Registering the same attribute on a database that already has it must not fail.
    with TemporalDevServer(state, port=free_port(), ui_port=free_port(), search_attributes=attrs) as server:
        assert server.ui_port is not None
        wait_for_port("127.0.0.1", server.ui_port, timeout=10)
        client = await Client.connect(server.address)
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(workflow_id).terminate()
    assert (tmp_path / "temporal.log").exists()
