"""Headless Chromium (Debian's `chromium`, which `make test` installs) driven by Playwright
against the test stack's gateway, and helpers to make console users directly in the store."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console import passwords
from store import console_users
from store.db import make_engine
from tests.stack import Stack

CHROMIUM = os.environ.get("OPENPOINT_CHROMIUM", "/usr/bin/chromium")
# What keeps Debian's Chromium quiet and self-contained in a container: no sandbox (root), no
# GPU, and none of the background traffic to Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(os.environ.get("OPENPOINT_TEST_ARTEFACTS", "/tmp/openpoint-console-screenshots"))


class Chromium:
    """The module's browser, launched again if it is gone when a test asks for a new context: a
    Chromium that crashed (or was killed from outside) fails the test it was running, not every
    later test of the module."""

    def __init__(self, playwright: Any) -> None:
        self._playwright = playwright
        self._browser = self._launch()

    def _launch(self) -> Any:
        return self._playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def new_context(self, **options: Any) -> Any:
        if not self._browser.is_connected():
            self._browser = self._launch()
        return self._browser.new_context(**options)

    def close(self) -> None:
        if self._browser.is_connected():
            self._browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    # Per module, not per session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and every later test that runs asyncio would then fail.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = Chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile per test (no cookies shared), at a laptop's size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture(scope="session")
def console_url(stack: Stack) -> str:
    return f"{stack.url}/console"


@pytest.fixture(scope="session")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


def new_email(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


def add_user(stack: Stack, email: str, role: str, projects: list[str] | None = None) -> str:
    """A console user made straight in the store; returns its password."""
    password = passwords.generate()

    async def create() -> None:
        engine = make_engine(stack.settings.database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await console_users.create(
                    conn,
                    email=email,
                    password_hash=passwords.hash_password(password),
                    role=role,
                    project_ids=projects or [],
                )
        finally:
            await engine.dispose()

    stack.run(create())
    return password


def sign_in(page: Any, console_url: str, email: str, password: str) -> Any:
    """Fill the sign-in form as a person would (by its labels); returns the POST's response."""
    page.goto(f"{console_url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/console/signin") and r.request.method == "POST") as info:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return info.value


def session_cookie(page: Any) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "openpoint_console"), None)


def csrf_of(page: Any) -> str:
    token: str = page.locator('meta[name="csrf-token"]').get_attribute("content")
    return token
