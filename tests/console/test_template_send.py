"""A template's test send in a real browser, through SendMessages' own code: an email template
sent to a typed address arrives at the SMTP sink rendered with its default substitutions, and to
an endpoint picked from the project's list with the endpoint's attributes; the same form
submitted twice (a double click, then the same POST again) delivers once; an SMS template
reaches the Twilio fake; a project whose channel is off shows SendMessages' refusal; a viewer
gets no form and a forged POST is refused with nothing sent. axe on the page at both widths.

One browser context for the editor (signed in once)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.conftest import add_user, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

EMAIL_NAME = f"receipt-{secrets.token_hex(3)}"
SMS_NAME = f"code-{secrets.token_hex(3)}"


def _address(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


@pytest.fixture(scope="module")
def projects(pinpoint: Any) -> dict[str, str]:
    """A shop with email and SMS enabled and two endpoints; a project with no channel."""
    shop = pinpoint.create_app(CreateApplicationRequest={"Name": f"Shop {secrets.token_hex(3)}"})["ApplicationResponse"]
    bare = pinpoint.create_app(CreateApplicationRequest={"Name": f"Bare {secrets.token_hex(3)}"})["ApplicationResponse"]
    pinpoint.update_email_channel(
        ApplicationId=shop["Id"], EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    pinpoint.update_sms_channel(ApplicationId=shop["Id"], SMSChannelRequest={"Enabled": True, "SenderId": "SHOP"})
    pinpoint.update_endpoints_batch(
        ApplicationId=shop["Id"],
        EndpointBatchRequest={
            "Item": [
                {"Id": "ep-ada", "ChannelType": "EMAIL", "Address": _address("ada"), "Attributes": {"Plan": ["ruby"]}},
                {"Id": "ep-bob", "ChannelType": "EMAIL", "Address": _address("bob")},
            ]
        },
    )
    pinpoint.create_email_template(
        TemplateName=EMAIL_NAME,
        EmailTemplateRequest={
            "Subject": "Your {{Attributes.Plan}} plan",
            "HtmlPart": "<p id='hi'>Thanks for choosing {{Attributes.Plan}}</p>",
            "TextPart": "Thanks for choosing {{Attributes.Plan}}",
            "DefaultSubstitutions": '{"Attributes.Plan": "gold"}',
        },
    )
    pinpoint.create_sms_template(
        TemplateName=SMS_NAME,
        SMSTemplateRequest={"Body": "Your code is {{Code}}", "DefaultSubstitutions": '{"Code": "4242"}'},
    )
    return {"shop": shop["Id"], "shop_name": shop["Name"], "bare": bare["Id"], "bare_name": bare["Name"]}


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, projects: dict[str, str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email("test-send")
    sign_in(page, console_url, email, add_user(stack, email, "editor", [projects["shop"], projects["bare"]]))
    yield page
    context.close()


def _open(page: Any, console_url: str, ttype: str, name: str, project_name: str) -> Any:
    """The template's page with its test send's project chosen (the endpoint list follows)."""
    page.goto(f"{console_url}/templates/{ttype}/{name}")
    card = page.locator("#test-send")
    expect(card.get_by_role("heading", name="Send a test")).to_be_visible()
    card.get_by_label("Send from project").select_option(label=project_name)
    expect(card.locator("select#send-endpoint")).to_be_visible()
    return card


def _sent(card: Any) -> Any:
    card.get_by_role("button", name="Send test").click()
    result = card.page.locator("#test-result")
    expect(result).to_be_visible()
    return result


def test_an_email_test_send_arrives_rendered(
    editor: Any, console_url: str, projects: dict[str, str], smtp: SmtpServer, artefacts: Path
) -> None:
    to = _address("tester")
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["shop_name"])
    expect(card).to_contain_text("Sends version 1")
    card.get_by_label("Email address").fill(to)
    result = _sent(card)
    row = result.locator(f'tr[data-recipient="{to}"]')
    expect(row.locator("[data-status]")).to_have_text("SUCCESSFUL")
    message_id = row.locator("[data-message-id]").inner_text()
    assert message_id not in ("", "—")
    [mail] = smtp.sink.to(to)
    assert mail.message["Subject"] == "Your gold plan"
    assert "Thanks for choosing gold" in mail.html and "Thanks for choosing gold" in mail.text
    assert mail.message["From"] == "shop@example.com"

    assert axe_violations(editor) == []
    editor.evaluate("window.scrollTo(0, 0)")  # the preview is sticky: drawn where the page is scrolled to
    editor.screenshot(path=str(artefacts / "template-test-send.png"), full_page=True)
    editor.set_viewport_size({"width": 390, "height": 844})
    try:
        assert axe_violations(editor) == []
        editor.screenshot(path=str(artefacts / "template-test-send-phone.png"), full_page=True)
    finally:
        editor.set_viewport_size({"width": 1280, "height": 800})


def test_an_endpoint_picked_from_the_list_gets_its_own_values(
    editor: Any, console_url: str, projects: dict[str, str], smtp: SmtpServer, pinpoint: Any
) -> None:
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["shop_name"])
    options = card.locator("select#send-endpoint option").all_inner_texts()
    assert [o.split(" ·")[0] for o in options] == ["None", "ep-ada", "ep-bob"]
    card.get_by_label("Endpoint to send to").select_option("ep-ada")
    result = _sent(card)
    expect(result.locator('tr[data-recipient="ep-ada"] [data-status]')).to_have_text("SUCCESSFUL")
    ada = pinpoint.get_endpoint(ApplicationId=projects["shop"], EndpointId="ep-ada")["EndpointResponse"]["Address"]
    [mail] = smtp.sink.to(ada)
    assert mail.message["Subject"] == "Your ruby plan"


def test_the_same_form_submitted_twice_delivers_once(
    editor: Any, console_url: str, projects: dict[str, str], smtp: SmtpServer
) -> None:
    to = _address("twice")
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["shop_name"])
    card.get_by_label("Email address").fill(to)
    form = card.locator("form")
    fields = form.evaluate("f => Object.fromEntries(new FormData(f))")
    card.get_by_role("button", name="Send test").dblclick()
    result = editor.locator("#test-result")
    expect(result.locator("[data-status]")).to_have_text("SUCCESSFUL")
    first_id = result.locator("[data-message-id]").inner_text()
    # The same form posted again (as a browser's resubmission would): the same result, no second mail.
    again = editor.request.post(form.evaluate("f => f.action"), form=fields)
    assert again.status == 200 and first_id in again.text()
    assert len(smtp.sink.to(to)) == 1


def test_the_same_form_posted_twice_at_once_delivers_once(
    editor: Any, console_url: str, projects: dict[str, str], smtp: SmtpServer
) -> None:
    """Two submits of one form in flight together: the second joins the first's workflow."""
    to = _address("together")
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["shop_name"])
    card.get_by_label("Email address").fill(to)
    form = card.locator("form")
    fields = form.evaluate("f => Object.fromEntries(new FormData(f))")
    action: str = form.evaluate("f => f.action")
    cookies = {c["name"]: c["value"] for c in editor.context.cookies()}

    def post(_: int) -> str:
        with httpx.Client(cookies=cookies, timeout=60) as client:
            answer = client.post(action, data=fields)
        assert answer.status_code == 200
        return str(re.findall(r"data-message-id>([^<]+)<", answer.text)[0])

    with ThreadPoolExecutor(2) as pool:
        ids = set(pool.map(post, range(2)))
    assert len(ids) == 1 and len(smtp.sink.to(to)) == 1


def test_an_sms_test_send_reaches_twilio(
    editor: Any, console_url: str, projects: dict[str, str], twilio_api: FakeTwilio
) -> None:
    number = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    card = _open(editor, console_url, "sms", SMS_NAME, projects["shop_name"])
    card.get_by_label("Phone number").fill(number)
    result = _sent(card)
    expect(result.locator(f'tr[data-recipient="{number}"] [data-status]')).to_have_text("SUCCESSFUL")
    [sms] = twilio_api.to(number)
    assert sms["Body"] == "Your code is 4242" and sms["From"] == "SHOP"


def test_a_project_without_the_channel_shows_the_api_refusal(
    editor: Any, console_url: str, projects: dict[str, str], smtp: SmtpServer, artefacts: Path
) -> None:
    to = _address("bare")
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["bare_name"])
    card.get_by_label("Email address").fill(to)
    result = _sent(card)
    row = result.locator(f'tr[data-recipient="{to}"]')
    expect(row.locator("[data-status]")).to_have_text("PERMANENT_FAILURE")
    expect(row.locator("[data-message]")).to_have_text("The EMAIL channel is not enabled for this project.")
    assert smtp.sink.to(to) == []
    editor.screenshot(path=str(artefacts / "template-test-send-refused.png"), full_page=True)


def test_a_missing_address_is_said_by_the_field(editor: Any, console_url: str, projects: dict[str, str]) -> None:
    card = _open(editor, console_url, "email", EMAIL_NAME, projects["shop_name"])
    card.get_by_role("button", name="Send test").click()
    expect(editor.locator("#send-address-error")).to_contain_text("Type email address, or choose an endpoint")
    expect(editor.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(editor) == []


def test_viewer_has_no_form_and_a_forged_send_is_refused(
    browser: Any, stack: Stack, console_url: str, projects: dict[str, str], smtp: SmtpServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    email = new_email("viewer")
    sign_in(page, console_url, email, add_user(stack, email, "viewer", [projects["shop"]]))
    page.goto(f"{console_url}/templates/email/{EMAIL_NAME}")
    expect(page.get_by_role("heading", name=EMAIL_NAME)).to_be_visible()
    assert page.locator("#test-send").count() == 0
    to = _address("forged")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(
        f"{console_url}/templates/email/{EMAIL_NAME}/test-send",
        form={"csrf_token": csrf, "project": projects["shop"], "address": to, "version": "1", "key": "0" * 32},
    )
    assert answer.status == 403
    context.close()
    assert smtp.sink.to(to) == []


def test_another_projects_send_is_refused(
    browser: Any, stack: Stack, console_url: str, projects: dict[str, str], pinpoint: Any, smtp: SmtpServer
) -> None:
    other = pinpoint.create_app(CreateApplicationRequest={"Name": "Not yours"})["ApplicationResponse"]["Id"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    email = new_email("editor-other")
    sign_in(page, console_url, email, add_user(stack, email, "editor", [projects["shop"]]))
    page.goto(f"{console_url}/templates/email/{EMAIL_NAME}")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    to = _address("other")
    answer = page.request.post(
        f"{console_url}/templates/email/{EMAIL_NAME}/test-send",
        form={"csrf_token": csrf, "project": other, "address": to, "version": "1", "key": "1" * 32},
    )
    assert answer.status == 403
    context.close()
    assert smtp.sink.to(to) == []
