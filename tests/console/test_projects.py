"""The Projects page in a real browser: the list each role sees, creating a project through
CreateApp's own code (seen by boto3's get_apps), its errors next to the field, the empty state,
and a viewer refused."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.stack import Stack


class TestProjectsPage:
    def test_an_admin_creates_a_project_that_the_api_sees(
        self, stack: Stack, pinpoint: Any, page: Any, console_url: str, artefacts: Path
    ) -> None:
        email = new_email("creator")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        name = f"Spring launch {secrets.token_hex(3)}"
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create project").click()
        status = page.get_by_role("status")
        status.wait_for()
        assert f"Created project {name}" in status.inner_text()
        row = page.get_by_role("row").filter(has_text=name)
        assert row.count() == 1
        app_id = row.locator("code").inner_text()
        apps, token = [], None  # GetApps lists it (paged: the shared stack holds many projects)
        while True:
            answer = pinpoint.get_apps(PageSize="100", **({"Token": token} if token else {}))["ApplicationsResponse"]
            apps += answer["Item"]
            if not (token := answer.get("NextToken")):
                break
        assert {"Id": app_id, "Name": name} in [{"Id": a["Id"], "Name": a["Name"]} for a in apps]
        page.screenshot(path=str(artefacts / "projects.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(artefacts / "projects-phone.png"), full_page=True)

    def test_createapps_errors_are_shown_next_to_the_field(
        self, stack: Stack, page: Any, console_url: str, artefacts: Path
    ) -> None:
        email = new_email("blank")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        before = stack.sql("SELECT count(*) AS n FROM apps")[0]["n"]
        page.get_by_label("Name").fill("   ")
        page.get_by_role("button", name="Create project").click()
        error = page.locator("#project-name-error")
        error.wait_for()
        # The same words CreateApp answers over the API.
        assert error.inner_text() == "Invalid value for CreateApplicationRequest.Name: must not be empty."
        assert page.get_by_label("Name").get_attribute("aria-invalid") == "true"
        assert stack.sql("SELECT count(*) AS n FROM apps")[0]["n"] == before
        page.screenshot(path=str(artefacts / "projects-error.png"))

    def test_what_a_user_typed_is_shown_as_text(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("escape")
        sign_in(page, console_url, email, add_user(stack, email, "admin"))
        name = f"<img src=x onerror=alert(1)> {secrets.token_hex(3)}"
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Create project").click()
        page.get_by_role("status").wait_for()
        assert page.get_by_role("cell", name=name).count() == 1
        assert page.locator("main img").count() == 0

    def test_a_viewer_sees_only_their_projects_and_cannot_create(
        self, stack: Stack, pinpoint: Any, page: Any, console_url: str
    ) -> None:
        mine = pinpoint.create_app(CreateApplicationRequest={"Name": f"viewer's {secrets.token_hex(3)}"})
        other = pinpoint.create_app(CreateApplicationRequest={"Name": f"not theirs {secrets.token_hex(3)}"})
        mine_id = mine["ApplicationResponse"]["Id"]
        email = new_email("viewer")
        sign_in(page, console_url, email, add_user(stack, email, "viewer", [mine_id]))
        ids = page.locator("tbody code").all_inner_texts()
        assert ids == [mine_id]
        assert other["ApplicationResponse"]["Id"] not in page.content()
        assert page.get_by_role("button", name="Create project").count() == 0
        assert page.get_by_label("Name").count() == 0
        # A forged request, with the session's own CSRF token, is refused on the role.
        name = f"forged-{secrets.token_hex(3)}"
        response = page.request.post(
            f"{console_url}/projects", form={"name": name}, headers={"X-CSRF-Token": csrf_of(page)}
        )
        assert response.status == 403
        assert "viewer" in response.text()
        assert not stack.sql("SELECT 1 FROM apps WHERE name = $1", name)

    def test_an_editor_cannot_create_either(self, stack: Stack, page: Any, console_url: str) -> None:
        email = new_email("editor")
        sign_in(page, console_url, email, add_user(stack, email, "editor"))
        assert page.get_by_role("button", name="Create project").count() == 0
        response = page.request.post(
            f"{console_url}/projects", form={"name": "nope"}, headers={"X-CSRF-Token": csrf_of(page)}
        )
        assert response.status == 403

    def test_no_projects_yet(self, stack: Stack, page: Any, console_url: str, artefacts: Path) -> None:
        email = new_email("empty")
        sign_in(page, console_url, email, add_user(stack, email, "viewer"))
        assert page.get_by_text("No projects yet").is_visible()
        assert page.get_by_text("Ask an administrator").is_visible()
        page.screenshot(path=str(artefacts / "projects-empty.png"))

    def test_unknown_pages_and_static_assets(self, stack: Stack, page: Any, console_url: str) -> None:
        response = page.goto(f"{console_url}/nowhere")
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        for asset in ("vendor/htmx/htmx.min.js", "vendor/echarts/echarts.min.js", "console.css"):
            assert page.request.get(f"{console_url}/static/{asset}").ok
        page.goto(f"{stack.url}/console")
        assert page.url == f"{console_url}/signin"  # not signed in in this browser
