"""Sign-in in a real browser: wrong and right passwords, sign-out, the rate limit, and changes
refused without the session's CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.console.conftest import add_user, csrf_of, new_email, session_cookie, sign_in
from tests.stack import Stack


class TestSignIn:
    def test_wrong_password_shows_an_error_and_opens_no_session(
        self, stack: Stack, page: Any, console_url: str, artefacts: Path
    ) -> None:
        email = new_email("wrong")
        add_user(stack, email, "admin")
        response = sign_in(page, console_url, email, "not-the-password")
        assert response.status == 401
        assert page.get_by_role("alert").inner_text() == "The email or password is not right."
        assert page.get_by_label("Email").input_value() == email  # kept, so only the password is retyped
        assert session_cookie(page) is None
        page.screenshot(path=str(artefacts / "signin-error.png"))
        page.goto(f"{console_url}/projects")
        assert page.url == f"{console_url}/signin"

    def test_unknown_email_reads_the_same(self, page: Any, console_url: str) -> None:
        response = sign_in(page, console_url, new_email("nobody"), "whatever-password")
        assert response.status == 401
        assert page.get_by_role("alert").inner_text() == "The email or password is not right."

    def test_right_password_lands_on_projects(self, stack: Stack, page: Any, console_url: str, artefacts: Path) -> None:
        page.goto(f"{console_url}/")
        assert page.url == f"{console_url}/signin"
        page.screenshot(path=str(artefacts / "signin.png"))
        email = new_email("admin")
        password = add_user(stack, email, "admin")
        sign_in(page, console_url, email, password)
        assert page.url == f"{console_url}/projects"
        assert page.get_by_role("heading", level=1).inner_text() == "Projects"
        # Outside a project the nav lists the account-wide pages only (a project's come with it).
        links = page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
        assert links == ["Projects", "Templates"]
        cookie = next(c for c in page.context.cookies() if c["name"] == "openpoint_console")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
        # Only the token's hash is stored.
        query = "SELECT 1 FROM console_sessions WHERE token_sha256 = {}(convert_to($1, 'UTF8'))"
        assert stack.sql(query.format("sha256"), cookie["value"])
        assert not stack.sql(query.format(""), cookie["value"])

    def test_sign_out_ends_the_session_on_the_server(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("signout")
        sign_in(page, console_url, email, add_user(stack, email, "viewer"))
        token = session_cookie(page)
        assert token is not None
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{console_url}/signin")
        assert session_cookie(page) is None
        # The old cookie, replayed, no longer opens anything.
        page.context.add_cookies([{"name": "openpoint_console", "value": token, "url": console_url}])
        page.goto(f"{console_url}/projects")
        assert page.url == f"{console_url}/signin"

    def test_repeated_failures_are_refused_with_429(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("limited")
        password = add_user(stack, email, "admin")
        for _ in range(5):
            assert sign_in(page, console_url, email, "wrong-password-1").status == 401
        # The sixth attempt is refused before the password is looked at, the right one included.
        response = sign_in(page, console_url, email, password)
        assert response.status == 429
        assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()
        assert session_cookie(page) is None
        rows = stack.sql("SELECT count(*) AS n FROM console_signin_failures WHERE email = $1", email)
        assert rows[0]["n"] == 5
        # Another account from the same address is not affected.
        other = new_email("other")
        sign_in(page, console_url, other, add_user(stack, other, "viewer"))
        assert page.url == f"{console_url}/projects"


class TestCsrf:
    def test_a_change_without_the_token_is_refused(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("csrf")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        name = f"csrf-{email}"
        response = page.request.post(f"{console_url}/projects", form={"name": name})
        assert response.status == 403
        assert "security token" in response.text()
        wrong = page.request.post(f"{console_url}/projects", form={"name": name, "csrf_token": "forged"})
        assert wrong.status == 403
        assert not stack.sql("SELECT 1 FROM apps WHERE name = $1", name)
        # Sign-out is a change too: without the token the session stays.
        assert page.request.post(f"{console_url}/signout").status == 403
        page.goto(f"{console_url}/projects")
        assert page.url == f"{console_url}/projects"

    def test_the_header_htmx_sends_is_accepted(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("header")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        name = f"header-{email}"
        response = page.request.post(
            f"{console_url}/projects", form={"name": name}, headers={"X-CSRF-Token": csrf_of(page)}
        )
        assert response.ok
        assert stack.sql("SELECT 1 FROM apps WHERE name = $1", name)

    def test_the_sign_in_form_needs_its_own_token(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("logincsrf")
        password = add_user(stack, email, "admin")
        response = page.request.post(f"{console_url}/signin", form={"email": email, "password": password})
        assert response.status == 403
        assert session_cookie(page) is None

    def test_an_oversized_field_is_refused_with_a_page(self, page: Any, console_url: str) -> None:
        page.goto(f"{console_url}/signin")
        token = page.locator('input[name="login_token"]').get_attribute("value")
        response = page.request.post(
            f"{console_url}/signin", form={"email": "a" * 5000, "password": "x", "login_token": token}
        )
        assert response.status == 400
        assert "The form could not be read." in response.text()
