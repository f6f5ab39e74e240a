"""The states around the pages: an expired session, the database unavailable (while listing, and
while checking the session), and HTMX doing its swap under the Content-Security-Policy."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from openpoint.errors import DatabaseUnavailable
from tests.console.conftest import add_user, new_email, session_cookie, sign_in
from tests.stack import Stack


async def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseUnavailable()


class TestStates:
    def test_an_expired_session_goes_back_to_sign_in(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("expired")
        sign_in(page, console_url, email, add_user(stack, email, "viewer"))
        stack.sql(
            "UPDATE console_sessions SET expires_at = now() - interval '1 second'"
            " WHERE user_id = (SELECT id FROM console_users WHERE email = $1)",
            email,
        )
        page.goto(f"{console_url}/projects")
        assert page.url == f"{console_url}/signin"

    def test_projects_that_cannot_be_loaded(
        self, stack: Stack, page: Any, console_url: str, artefacts: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        email = new_email("outage")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        # The gateway runs in this process (tests/stack.py): its listing fails as with PostgreSQL down.
        monkeypatch.setattr("store.apps.page", _unavailable)
        response = page.reload()
        assert response is not None and response.status == 503
        alert = page.get_by_role("alert")
        assert "The projects could not be loaded." in alert.inner_text()
        assert "The database is unavailable" in alert.inner_text()
        assert page.get_by_role("link", name="Try again").is_visible()
        page.screenshot(path=str(artefacts / "projects-unavailable.png"))
        monkeypatch.undo()
        page.get_by_role("link", name="Try again").click()
        page.wait_for_load_state()
        assert page.get_by_role("alert").count() == 0

    def test_the_database_down_at_the_session_check(
        self, stack: Stack, page: Any, console_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        email = new_email("outage2")
        sign_in(page, console_url, email, add_user(stack, email, "viewer"))
        monkeypatch.setattr("store.console_users.session_user", _unavailable)
        response = page.goto(f"{console_url}/projects")
        assert response is not None and response.status == 503
        assert page.get_by_role("heading", level=1).inner_text() == "Try again shortly"
        assert response.headers["content-security-policy"].startswith("default-src 'self'")

    def test_create_swaps_the_list_in_place_with_htmx(self, stack: Stack, page: Any, console_url: str) -> None:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        email = new_email("htmx")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        assert session_cookie(page)
        name = f"htmx {secrets.token_hex(3)}"
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/console/projects")) as sent:
            page.get_by_label("Name").fill(name)
            page.get_by_role("button", name="Create project").click()
        assert sent.value.headers.get("hx-request") == "true"
        assert sent.value.headers.get("x-csrf-token")  # from the meta tag (console.js)
        page.get_by_role("status").wait_for()
        # A plain form post would have navigated to ?created=...; HTMX swapped the list instead.
        assert page.url == f"{console_url}/projects"
        assert page.get_by_role("cell", name=name).count() == 1
        assert problems == []  # nothing refused by the Content-Security-Policy, no script errors
