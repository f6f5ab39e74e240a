"""The Templates pages in a real browser, as an editor: an email template created in the
console is what boto3's get_email_template returns; an edit is version 2; the API's error shows
by its field with nothing saved; the preview renders an endpoint's attribute with the sends'
renderer, its HTML in a sandboxed frame where a script does not run; a viewer gets no editor
and a forged POST is refused; and the axe check of the pages.

One browser context for the module (signed in once)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ARTEFACTS, add_user, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.stack import Stack

SHOTS = ARTEFACTS  # the test-artefacts folder (OPENPOINT_TEST_ARTEFACTS)
NAME = f"welcome-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> str:
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Templates {secrets.token_hex(3)}"})
    app_id: str = app["ApplicationResponse"]["Id"]
    pinpoint.update_endpoint(
        ApplicationId=app_id,
        EndpointId="ep-ada",
        EndpointRequest={
            "ChannelType": "EMAIL",
            "Address": "ada@example.com",
            "User": {"UserId": "u-ada", "UserAttributes": {"FirstName": ["Ada"]}},
        },
    )
    return app_id


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, project: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email("templates")
    sign_in(page, console_url, email, add_user(stack, email, "editor", [project]))
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def test_create_an_email_template(editor: Any, console_url: str, pinpoint: Any) -> None:
    editor.goto(f"{console_url}/templates")
    editor.get_by_role("link", name="New Email template").click()
    editor.get_by_label("Template name").fill(NAME)
    editor.get_by_label("Subject").fill("Hello {{User.UserAttributes.FirstName}}")
    editor.get_by_label("HTML part").fill("<p>Hi {{User.UserAttributes.FirstName}}</p>")
    editor.get_by_label("Text part").fill("Hi {{User.UserAttributes.FirstName}}")
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_role("heading", name=NAME)).to_be_visible()
    got = pinpoint.get_email_template(TemplateName=NAME)["EmailTemplateResponse"]
    assert got["Subject"] == "Hello {{User.UserAttributes.FirstName}}"
    assert got["HtmlPart"] == "<p>Hi {{User.UserAttributes.FirstName}}</p>"
    assert got["Version"] == "1"


def test_edit_makes_version_2(editor: Any, console_url: str, pinpoint: Any) -> None:
    editor.goto(f"{console_url}/templates/email/{NAME}")
    editor.get_by_label("Text part").fill("Hi {{User.UserAttributes.FirstName}}, welcome")
    editor.get_by_role("button", name="Save as version 2").click()
    expect(editor.locator("#versions")).to_contain_text("Version 2")
    versions = pinpoint.list_template_versions(TemplateName=NAME, TemplateType="EMAIL")
    assert [v["Version"] for v in versions["TemplateVersionsResponse"]["Item"]] == ["1", "2"]
    got = pinpoint.get_email_template(TemplateName=NAME, Version="2")["EmailTemplateResponse"]
    assert got["TextPart"].endswith("welcome")
    # Pinpoint keeps version 1 active until one is made active
    editor.get_by_role("button", name="Make version 2 active").click()
    expect(editor.locator("#versions li", has_text="Version 2")).to_contain_text("active")
    assert pinpoint.get_email_template(TemplateName=NAME)["EmailTemplateResponse"]["Version"] == "2"


def test_bad_value_shows_the_api_error_by_its_field(editor: Any, console_url: str, pinpoint: Any) -> None:
    editor.goto(f"{console_url}/templates/email/{NAME}")
    editor.get_by_label("Subject").fill("Hello {{#if x}}")  # an unclosed block: CreateEmailTemplate refuses it
    editor.get_by_role("button", name="Save as version 3").click()
    error = editor.locator("#f-Subject-error")
    expect(error).to_contain_text("EmailTemplateRequest.Subject")
    expect(editor.get_by_label("Subject")).to_have_attribute("aria-invalid", "true")
    versions = pinpoint.list_template_versions(TemplateName=NAME, TemplateType="EMAIL")
    assert len(versions["TemplateVersionsResponse"]["Item"]) == 2  # nothing saved


def test_preview_for_an_endpoint_in_a_sandboxed_frame(editor: Any, console_url: str, project: str) -> None:
    editor.goto(f"{console_url}/templates/email/{NAME}")
    expect(editor.locator("#variables")).to_contain_text("{{User.UserAttributes.FirstName}}")
    editor.get_by_label("HTML part").fill(
        "<p id='hi'>Hi {{User.UserAttributes.FirstName}}</p><script>document.title='ran'</script>"
    )
    # The editor's one project is chosen; its few endpoints are a list to pick from.
    expect(editor.get_by_label("Project", exact=True)).to_have_value(project)
    editor.get_by_label("Endpoint id").select_option("ep-ada")
    expect(editor.locator("[data-preview-for]")).to_have_attribute("data-preview-for", "ep-ada")
    expect(editor.locator("pre[data-part=Subject]")).to_have_text("Hello Ada")
    frame_el = editor.locator("iframe[data-part=HtmlPart]")
    assert frame_el.get_attribute("sandbox") == ""
    frame = frame_el.element_handle().content_frame()
    expect(frame.locator("#hi")).to_have_text("Hi Ada")
    assert frame.evaluate("document.title") != "ran"  # the template's script did not run
    assert axe_violations(editor) == []
    editor.screenshot(path=str(SHOTS / "template-email-editor.png"), full_page=True)
    editor.goto(f"{console_url}/templates")
    expect(editor.get_by_role("link", name=NAME)).to_be_visible()
    assert axe_violations(editor) == []
    editor.screenshot(path=str(SHOTS / "templates-list.png"), full_page=True)


def test_viewer_sees_no_editor_and_a_forged_post_is_refused(
    browser: Any, stack: Stack, console_url: str, project: str, pinpoint: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    email = new_email("viewer")
    sign_in(page, console_url, email, add_user(stack, email, "viewer", [project]))
    page.goto(f"{console_url}/templates/email/{NAME}")
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    assert page.locator("form#editor").count() == 0
    assert page.get_by_role("link", name="New Email template").count() == 0
    csrf = page.evaluate("document.cookie")  # the token is not in a cookie the page can read
    answer = page.request.post(f"{console_url}/templates/email/{NAME}", form={"Subject": "forged", "csrf_token": csrf})
    assert answer.status == 403
    page.goto(f"{console_url}/templates/new/email")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    context.close()
    versions = pinpoint.list_template_versions(TemplateName=NAME, TemplateType="EMAIL")
    assert len(versions["TemplateVersionsResponse"]["Item"]) == 2
