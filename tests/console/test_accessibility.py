"""axe-core in the browser on each console page: no serious or critical violations (WCAG 2.1 A
and AA rules: labels, contrast, landmarks, names of buttons and links)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import add_user, new_email, sign_in
from tests.stack import Stack

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.fixture
def axe_page(browser: Any) -> Any:
    # The console's CSP refuses injected scripts, as it should; the checker's page bypasses it.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document,"
        " {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))"
    )
    return [f"{v['id']} ({v['impact']}, {v['nodes']}x): {v['help']}" for v in result if v["impact"] in SERIOUS]


class TestAccessibility:
    def test_sign_in_page(self, axe_page: Any, console_url: str) -> None:
        axe_page.goto(f"{console_url}/signin")
        assert violations(axe_page) == []

    def test_sign_in_with_an_error(self, stack: Stack, axe_page: Any, console_url: str) -> None:
        sign_in(axe_page, console_url, new_email("a11y"), "wrong-password")
        assert violations(axe_page) == []

    @pytest.mark.parametrize("width", [1280, 390])
    def test_projects_page(self, stack: Stack, pinpoint: Any, axe_page: Any, console_url: str, width: int) -> None:
        pinpoint.create_app(CreateApplicationRequest={"Name": "accessible"})
        email = new_email("a11y")
        sign_in(axe_page, console_url, email, add_user(stack, email, "admin"))
        axe_page.set_viewport_size({"width": width, "height": 800})
        assert violations(axe_page) == []
        axe_page.get_by_label("Name").fill("   ")
        axe_page.get_by_role("button", name="Create project").click()
        axe_page.locator("#project-name-error").wait_for()
        assert violations(axe_page) == []

    def test_empty_projects_page(self, stack: Stack, axe_page: Any, console_url: str) -> None:
        email = new_email("a11y")
        sign_in(axe_page, console_url, email, add_user(stack, email, "viewer"))
        assert violations(axe_page) == []

    def test_sign_in_with_the_keyboard_alone(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("keys")
        password = add_user(stack, email, "viewer")
        page.goto(f"{console_url}/signin")
        page.keyboard.type(email)  # the Email field has the focus on arrival
        page.keyboard.press("Tab")
        page.keyboard.type(password)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
        page.keyboard.press("Enter")
        page.wait_for_url(f"{console_url}/projects")
        # The skip link is the first stop, and leads to the page's content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
