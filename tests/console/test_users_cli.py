"""`openpoint users create | reset | list` against the test database, then signing in with the
password the command printed."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from typing import Any

from launch.postgres import EmbeddedPostgres
from launch.users import DEV_ADMIN_EMAIL, ensure_dev_admin
from store.migrate import upgrade
from tests.console.conftest import new_email, sign_in
from tests.stack import Stack


def openpoint(stack: Stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": stack.settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "launch.cli", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def printed_password(out: str) -> str:
    found = re.search(r"^password: (\S+)$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


class TestUsersCommand:
    def test_create_then_sign_in_with_the_printed_password(
        self, stack: Stack, pinpoint: Any, page: Any, console_url: str
    ) -> None:
        app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "cli project"})["ApplicationResponse"]["Id"]
        email = new_email("cli")
        done = openpoint(stack, "users", "create", email.upper(), "--role", "editor", "--project", app_id)
        assert done.returncode == 0, done.stderr
        password = printed_password(done.stdout)
        assert len(password) >= 20
        sign_in(page, console_url, email, password)
        assert page.url == f"{console_url}/projects"
        assert page.locator("tbody code").all_inner_texts() == [app_id]
        listed = openpoint(stack, "users", "list")
        assert re.search(rf"^{re.escape(email)}\s+editor\s+.*{app_id}$", listed.stdout, re.MULTILINE), listed.stdout

    def test_reset_prints_a_new_password_and_ends_sessions(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("reset")
        first = printed_password(openpoint(stack, "users", "create", email, "--role", "viewer").stdout)
        sign_in(page, console_url, email, first)
        assert page.url == f"{console_url}/projects"
        done = openpoint(stack, "users", "reset", email)
        assert done.returncode == 0, done.stderr
        second = printed_password(done.stdout)
        assert second != first
        page.reload()
        assert page.url == f"{console_url}/signin"  # the session ended with the old password
        assert sign_in(page, console_url, email, first).status == 401
        sign_in(page, console_url, email, second)
        assert page.url == f"{console_url}/projects"

    def test_password_from_stdin(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("stdin")
        short = openpoint(stack, "users", "create", email, "--role", "admin", "--password-stdin", stdin="short\n")
        assert short.returncode == 1 and "at least 12 characters" in short.stderr
        chosen = "correct horse battery staple"
        done = openpoint(stack, "users", "create", email, "--role", "admin", "--password-stdin", stdin=chosen + "\n")
        assert done.returncode == 0, done.stderr
        assert "password:" not in done.stdout  # a chosen password is not echoed
        sign_in(page, console_url, email, chosen)
        assert page.url == f"{console_url}/projects"

    def test_refusals(self, stack: Stack) -> None:
        email = new_email("dup")
        assert openpoint(stack, "users", "create", email, "--role", "viewer").returncode == 0
        again = openpoint(stack, "users", "create", email, "--role", "viewer")
        assert again.returncode == 1 and "exists already" in again.stderr
        missing = openpoint(stack, "users", "create", new_email("x"), "--role", "viewer", "--project", "nope")
        assert missing.returncode == 1 and "there is no project nope" in missing.stderr
        bad = openpoint(stack, "users", "create", "not-an-email", "--role", "viewer")
        assert bad.returncode == 1 and "not an email address" in bad.stderr
        nobody = openpoint(stack, "users", "reset", new_email("nobody"))
        assert nobody.returncode == 1 and "no console user" in nobody.stderr
        role = openpoint(stack, "users", "create", new_email("r"), "--role", "owner")
        assert role.returncode == 2


class TestDevelopmentAdmin:
    def test_make_run_creates_one_admin_once(self, stack: Stack, pg_server: EmbeddedPostgres) -> None:
        # On the stack's loop: Playwright's sync API holds this thread's event loop.
        url = pg_server.create_database(f"openpoint_devadmin_{secrets.token_hex(4)}")
        upgrade(url)
        created = stack.run(ensure_dev_admin(url))
        assert created is not None
        email, password = created
        assert email == DEV_ADMIN_EMAIL and len(password) >= 20
        # A second start leaves the console's users alone (and knows no password to print).
        assert stack.run(ensure_dev_admin(url)) is None
        # Each new database gets its own generated password, never a fixed default.
        other = pg_server.create_database(f"openpoint_devadmin_{secrets.token_hex(4)}")
        upgrade(other)
        again = stack.run(ensure_dev_admin(other))
        assert again is not None and again[1] != password
