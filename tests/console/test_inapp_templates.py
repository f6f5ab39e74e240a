"""The in-app template editor in a real browser, through CreateInAppTemplate's and
UpdateInAppTemplate's own code: a carousel of two items made in the console is what boto3's
get_in_app_template returns, member for member; its preview draws the card with the hex colours
and the typed text escaped; an edit is version 2, made active from the versions list; a colour
that is not hex and a header without its colour show the API's error by the field with nothing
saved; a viewer gets the card read-only and a forged POST is refused; axe at both widths."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.stack import Stack

NAME = f"spring-{secrets.token_hex(3)}"

FIRST: dict[str, Any] = {
    "HeaderConfig": {"Header": "Spring sale", "Alignment": "CENTER", "TextColor": "#ffffff"},
    "BodyConfig": {"Body": "Up to 30% off <b>today</b>", "Alignment": "LEFT", "TextColor": "#ffffff"},
    "ImageUrl": "https://example.com/spring.png",
    "BackgroundColor": "#1d2433",
    "PrimaryBtn": {
        "DefaultConfig": {
            "Text": "Shop now",
            "ButtonAction": "LINK",
            "Link": "https://example.com/sale",
            "BackgroundColor": "#ffcc00",
            "TextColor": "#111111",
            "BorderRadius": 6,
        },
        "Web": {"ButtonAction": "DEEP_LINK", "Link": "shop://sale"},
    },
}
SECOND: dict[str, Any] = {
    "HeaderConfig": {"Header": "Second page", "Alignment": "LEFT", "TextColor": "#000"},
    "BodyConfig": {"Body": "More to see", "Alignment": "RIGHT", "TextColor": "#333333"},
}


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> str:
    app_id: str = pinpoint.create_app(CreateApplicationRequest={"Name": f"In-app {secrets.token_hex(3)}"})[
        "ApplicationResponse"
    ]["Id"]
    return app_id


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, project: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email("inapp")
    sign_in(page, console_url, email, add_user(stack, email, "editor", [project]))
    yield page
    context.close()


def _versions(pinpoint: Any) -> list[str]:
    items = pinpoint.list_template_versions(TemplateName=NAME, TemplateType="INAPP")["TemplateVersionsResponse"]["Item"]
    return [v["Version"] for v in items]


def _item(page: Any, i: int) -> Any:
    return page.locator(f"#item-{i}")


def test_a_carousel_made_in_the_browser_is_what_boto3_reads(
    editor: Any, console_url: str, pinpoint: Any, artefacts: Path
) -> None:
    editor.goto(f"{console_url}/templates")
    editor.get_by_role("link", name="New In-app template").click()
    editor.get_by_label("Template name").fill(NAME)
    editor.get_by_label("Layout").select_option("CAROUSEL")
    first = _item(editor, 0)
    first.get_by_label("Header", exact=True).fill("Spring sale")
    first.get_by_label("Header alignment").select_option("CENTER")
    first.get_by_label("Header colour").fill("#ffffff")
    first.get_by_label("Body", exact=True).fill("Up to 30% off <b>today</b>")
    first.get_by_label("Body colour").fill("#ffffff")
    first.get_by_label("Image URL").fill("https://example.com/spring.png")
    first.get_by_label("Background colour", exact=True).first.fill("#1d2433")
    first.locator("summary", has_text="Primary button").click()
    first.get_by_label("Primary button text").fill("Shop now")
    first.locator("#f-c0-primary-action").select_option("LINK")
    first.locator("#f-c0-primary-link").fill("https://example.com/sale")
    first.locator("#f-c0-primary-bg").fill("#ffcc00")
    first.locator("#f-c0-primary-color").fill("#111111")
    first.get_by_label("Corner radius (px)").first.fill("6")
    first.locator("summary", has_text="Per platform").first.click()
    first.get_by_label("Web action").first.select_option("DEEP_LINK")
    first.get_by_label("Web link").first.fill("shop://sale")
    editor.get_by_role("button", name="Add a carousel item").click()
    # The second item is added on the server; what was typed is kept.
    expect(_item(editor, 0).get_by_label("Header", exact=True)).to_have_value("Spring sale")
    second = _item(editor, 1)
    second.get_by_label("Header", exact=True).fill("Second page")
    second.get_by_label("Header colour").fill("#000")
    second.get_by_label("Body", exact=True).fill("More to see")
    second.get_by_label("Body alignment").select_option("RIGHT")
    second.get_by_label("Body colour").fill("#333333")
    editor.get_by_label("Custom config (one key=value per line)").fill("campaign=spring\nscreen=home")
    editor.get_by_label("Tags (one key=value per line)").fill("team=growth")

    # The preview: the card's hex colours drawn, the typed markup shown as text.
    card = editor.locator('#inapp-preview .inapp-card[data-item="0"]')
    expect(editor.locator("#inapp-preview [data-card-layout]")).to_have_attribute("data-card-layout", "CAROUSEL")
    expect(card.locator(".inapp-body")).to_have_text("Up to 30% off <b>today</b>")
    assert card.locator(".inapp-body b").count() == 0
    expect(card).to_have_css("background-color", "rgb(29, 36, 51)")
    expect(card.locator(".inapp-button")).to_have_css("background-color", "rgb(255, 204, 0)")
    expect(card.locator(".inapp-button")).to_have_css("border-radius", "6px")
    assert axe_violations(editor) == []
    editor.evaluate("window.scrollTo(0, 0)")  # the preview is sticky: drawn where the page is scrolled to
    editor.screenshot(path=str(artefacts / "inapp-template.png"), full_page=True)
    editor.set_viewport_size({"width": 390, "height": 844})
    try:
        assert axe_violations(editor) == []
        editor.evaluate("window.scrollTo(0, 0)")
        editor.screenshot(path=str(artefacts / "inapp-template-phone.png"), full_page=True)
    finally:
        editor.set_viewport_size({"width": 1280, "height": 800})

    editor.get_by_role("button", name="Save", exact=True).click()
    expect(editor.get_by_role("heading", name=NAME)).to_be_visible()
    got = pinpoint.get_in_app_template(TemplateName=NAME)["InAppTemplateResponse"]
    assert got["Layout"] == "CAROUSEL"
    assert got["Content"] == [FIRST, SECOND]
    assert got["CustomConfig"] == {"campaign": "spring", "screen": "home"}
    assert got["tags"] == {"team": "growth"}
    assert got["Version"] == "1" and got["TemplateType"] == "INAPP"


def test_an_edit_is_version_2_made_active(editor: Any, console_url: str, pinpoint: Any) -> None:
    editor.goto(f"{console_url}/templates/inapp/{NAME}")
    expect(_item(editor, 1).get_by_label("Header", exact=True)).to_have_value("Second page")
    editor.get_by_role("button", name="Remove the last item").click()
    expect(editor.locator("#item-1")).to_have_count(0)
    _item(editor, 0).get_by_label("Body", exact=True).fill("Now 40% off")
    editor.get_by_label("Layout").select_option("TOP_BANNER")
    editor.get_by_role("button", name="Save as version 2").click()
    expect(editor.locator("#versions")).to_contain_text("Version 2")
    assert _versions(pinpoint) == ["1", "2"]
    got = pinpoint.get_in_app_template(TemplateName=NAME, Version="2")["InAppTemplateResponse"]
    assert got["Layout"] == "TOP_BANNER" and got["Content"] == [
        {**FIRST, "BodyConfig": {**FIRST["BodyConfig"], "Body": "Now 40% off"}}
    ]
    editor.get_by_role("button", name="Make version 2 active").click()
    expect(editor.locator("#versions li", has_text="Version 2")).to_contain_text("active")
    assert pinpoint.get_in_app_template(TemplateName=NAME)["InAppTemplateResponse"]["Version"] == "2"


def test_a_bad_colour_shows_the_api_error_by_its_field(
    editor: Any, console_url: str, pinpoint: Any, artefacts: Path
) -> None:
    editor.goto(f"{console_url}/templates/inapp/{NAME}")
    _item(editor, 0).get_by_label("Header colour").fill("tomato")
    # The preview does not draw a colour that is not hex.
    expect(editor.locator('#inapp-preview .inapp-header[data-color=""]')).to_have_count(1)
    editor.get_by_role("button", name="Save as version 3").click()
    error = editor.locator("#f-c0-header-color-error")
    expect(error).to_contain_text("InAppTemplateRequest.Content[0].HeaderConfig.TextColor")
    expect(error).to_contain_text("is not a colour")
    expect(_item(editor, 0).get_by_label("Header colour")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(editor) == []
    editor.evaluate("window.scrollTo(0, 0)")
    editor.screenshot(path=str(artefacts / "inapp-template-error.png"), full_page=True)
    # A header without its colour: the model's required member, by the colour field too.
    _item(editor, 0).get_by_label("Header colour").fill("")
    editor.get_by_role("button", name="Save as version 3").click()
    expect(editor.locator("#f-c0-header-color-error")).to_contain_text(
        "InAppTemplateRequest.Content[0].HeaderConfig.TextColor"
    )
    assert _versions(pinpoint) == ["1", "2"]  # nothing saved


def test_viewer_reads_the_card_and_a_forged_post_is_refused(
    browser: Any, stack: Stack, console_url: str, project: str, pinpoint: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    email = new_email("inapp-viewer")
    sign_in(page, console_url, email, add_user(stack, email, "viewer", [project]))
    page.goto(f"{console_url}/templates/inapp/{NAME}")
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    assert page.locator("form#editor").count() == 0
    expect(page.locator(".inapp-card .inapp-header")).to_have_text("Spring sale")
    csrf = csrf_of(page)
    answer = page.request.post(
        f"{console_url}/templates/inapp/{NAME}",
        form={"csrf_token": csrf, "c0.body.text": "forged", "c0.body.color": "#000"},
    )
    assert answer.status == 403
    page.goto(f"{console_url}/templates/new/inapp")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    context.close()
    assert _versions(pinpoint) == ["1", "2"]
