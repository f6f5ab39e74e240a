"""A project's Settings pages in a real browser: an administrator changes quiet time and limits
(boto3's get_application_settings sees them), a bad value is the API's error by its field with
nothing written; editors and viewers read but cannot change (no buttons, forged POSTs 403);
deleting a project takes its name typed. Channels and access keys: test_settings_channels.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.stack import Stack


def role_page(browser: Any, stack: Stack, console_url: str, role: str, app_id: str) -> Any:
    """A signed-in page of a user with `role`, given the project; axe-core injected as an init
    script (so the CSP stays on)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email(f"settings-{role}")
    sign_in(page, console_url, email, add_user(stack, email, role, [app_id]))
    return page


def shots_and_axe(page: Any, artefacts: Path, name: str) -> None:
    """The page at 1280×800 and at phone width (390×844): screenshots in the artefacts folder,
    and axe-core's check at both widths (no serious or critical violations)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artefacts / f"{name}-phone.png"), full_page=True)
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> tuple[str, str]:
    name = f"Settings {secrets.token_hex(3)}"
    app_id: str = pinpoint.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    return app_id, name


@pytest.fixture(scope="module")
def admin(browser: Any, stack: Stack, console_url: str, project: tuple[str, str]) -> Iterator[Any]:
    page = role_page(browser, stack, console_url, "admin", project[0])
    yield page
    page.context.close()


def _settings(pinpoint: Any, app_id: str) -> dict[str, Any]:
    found: dict[str, Any] = pinpoint.get_application_settings(ApplicationId=app_id)["ApplicationSettingsResource"]
    return found


def test_an_admin_changes_quiet_time_and_limits(
    pinpoint: Any, admin: Any, console_url: str, project: tuple[str, str], artefacts: Path
) -> None:
    app_id, name = project
    admin.goto(f"{console_url}/projects")
    admin.get_by_role("link", name=f"Settings of {name}").click()
    expect(admin.locator("#project-name")).to_have_text(name)
    expect(admin.locator('nav[aria-label="Project"] a[aria-current="page"]')).to_have_text("Settings")
    admin.get_by_label("Start (HH:MM)").fill("22:00")
    admin.get_by_label("End (HH:MM)").fill("07:30")
    limits = admin.locator("fieldset", has_text="Campaign limits")
    limits.get_by_label("Per endpoint per day").fill("5")
    limits.get_by_label("Messages per second").fill("50")
    limits.get_by_label("Longest run (seconds)").fill("3600")
    journeys = admin.locator("fieldset", has_text="Journey limits")
    journeys.get_by_label("Per endpoint per day").fill("2")
    admin.get_by_label("Event tagging enabled").check()
    admin.get_by_role("button", name="Save settings").click()
    expect(admin.get_by_role("status")).to_have_text("Settings saved.")

    saved = _settings(pinpoint, app_id)
    assert saved["QuietTime"] == {"Start": "22:00", "End": "07:30"}
    assert saved["Limits"] == {"Daily": 5, "MessagesPerSecond": 50, "MaximumDuration": 3600}
    assert saved["JourneyLimits"] == {"DailyCap": 2}
    # The page shows what is stored.
    expect(limits.get_by_label("Per endpoint per day")).to_have_value("5")
    expect(admin.get_by_label("Event tagging enabled")).to_be_checked()
    shots_and_axe(admin, artefacts, "settings")


def test_a_bad_value_is_the_apis_error_by_the_field_and_nothing_is_written(
    pinpoint: Any, admin: Any, console_url: str, project: tuple[str, str], artefacts: Path
) -> None:
    app_id, _ = project
    before = _settings(pinpoint, app_id)
    admin.goto(f"{console_url}/projects/{app_id}/settings")
    limits = admin.locator("fieldset", has_text="Campaign limits")
    limits.get_by_label("Per endpoint per day").fill("500")
    admin.get_by_label("Start (HH:MM)").fill("23:00")
    admin.get_by_role("button", name="Save settings").click()
    error = admin.locator("#s-Limits-Daily-error")
    # The words UpdateApplicationSettings answers over the API.
    expect(error).to_have_text(
        "Invalid value for WriteApplicationSettingsRequest.Limits.Daily: must be between 0 and 100."
    )
    expect(limits.get_by_label("Per endpoint per day")).to_have_attribute("aria-invalid", "true")
    expect(admin.get_by_label("Start (HH:MM)")).to_have_value("23:00")  # what was typed is kept
    with pytest.raises(ClientError) as refused:
        pinpoint.update_application_settings(
            ApplicationId=app_id, WriteApplicationSettingsRequest={"Limits": {"Daily": 500}}
        )
    assert refused.value.response["Error"]["Message"] == error.inner_text()
    assert _settings(pinpoint, app_id) == before
    admin.screenshot(path=str(artefacts / "settings-error.png"), full_page=True)
    assert axe_violations(admin) == []


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_read_but_cannot_change(
    role: str, pinpoint: Any, browser: Any, stack: Stack, console_url: str, project: tuple[str, str]
) -> None:
    app_id, _ = project
    before = _settings(pinpoint, app_id)
    page = role_page(browser, stack, console_url, role, app_id)
    try:
        page.goto(f"{console_url}/projects/{app_id}/settings")
        expect(page.get_by_label("Start (HH:MM)")).to_have_value(before["QuietTime"]["Start"])
        expect(page.get_by_role("note")).to_contain_text("only an administrator can change them")
        expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
        expect(page.get_by_role("link", name="Delete this project…")).to_have_count(0)
        expect(page.get_by_role("link", name="Access keys")).to_have_count(0)
        assert axe_violations(page) == []
        page.get_by_role("link", name="Channels").click()
        expect(page.locator("#channels")).to_be_visible()
        expect(page.locator("#channels").get_by_role("button")).to_have_count(0)
        assert page.request.get(f"{console_url}/projects/{app_id}/settings/keys").status == 403

        token = csrf_of(page)
        forged = {
            "settings": {"Limits.Daily": "1"},
            "settings/delete": {"confirm_name": project[1]},
            "settings/channels/sms/enabled": {"enabled": "true"},
            "settings/channels/gcm": {"ApiKey": "forged", "Enabled": "on"},
            "settings/credentials/custom": {"LambdaRegion": "eu-west-1"},
            "settings/keys": {"description": "forged"},
        }
        for path, form in forged.items():
            answer = page.request.post(
                f"{console_url}/projects/{app_id}/{path}", form={"csrf_token": token, **form}, max_redirects=0
            )
            assert answer.status == 403, path
        assert _settings(pinpoint, app_id) == before
        assert pinpoint.get_channels(ApplicationId=app_id)["ChannelsResponse"]["Channels"] == {}
        assert pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["Id"] == app_id
        keys = stack.sql("SELECT count(*) AS n FROM access_keys WHERE description = 'forged'")
        assert keys[0]["n"] == 0
    finally:
        page.context.close()


def test_another_projects_settings_are_refused(
    pinpoint: Any, browser: Any, stack: Stack, console_url: str, project: tuple[str, str]
) -> None:
    other: str = pinpoint.create_app(CreateApplicationRequest={"Name": "not theirs"})["ApplicationResponse"]["Id"]
    page = role_page(browser, stack, console_url, "viewer", project[0])
    try:
        for path in ("settings", "settings/channels", "settings/channels/gcm"):
            assert page.request.get(f"{console_url}/projects/{other}/{path}").status == 403, path
    finally:
        page.context.close()


def test_deleting_a_project_takes_its_name(pinpoint: Any, admin: Any, console_url: str, artefacts: Path) -> None:
    name = f"Short-lived {secrets.token_hex(3)}"
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    admin.goto(f"{console_url}/projects/{app_id}/settings")
    admin.get_by_role("link", name="Delete this project…").click()
    field = admin.get_by_label("Type the project's name to confirm")
    field.fill(name.upper())
    admin.get_by_role("button", name="Delete the project").click()
    expect(admin.locator("#confirm-name-error")).to_have_text("Type the project's name exactly as shown to delete it.")
    assert pinpoint.get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"] == name  # still there
    admin.screenshot(path=str(artefacts / "settings-delete.png"), full_page=True)
    assert axe_violations(admin) == []

    admin.get_by_label("Type the project's name to confirm").fill(name)
    admin.get_by_role("button", name="Delete the project").click()
    admin.wait_for_url(f"{console_url}/projects")
    expect(admin.get_by_role("row").filter(has_text=name)).to_have_count(0)
    with pytest.raises(ClientError) as gone:
        pinpoint.get_app(ApplicationId=app_id)
    assert gone.value.response["Error"]["Code"] == "NotFoundException"
