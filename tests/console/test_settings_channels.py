"""Settings → Channels and Access keys in a real browser: an administrator enables the SMS
channel and edits the GCM channel with an API key that never reaches the browser (not in the
page, not in any HTTP answer) while boto3's get_gcm_channel sees the change; the project's own
Twilio credentials set and cleared; an access key created (its secret shown once, boto3 works
with it) and revoked (boto3 is refused at once). axe at 1280 and 390 px on each page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from tests.console.test_project_settings import role_page, shots_and_axe
from tests.console.test_segments import axe_violations
from tests.stack import Stack


@pytest.fixture(scope="module")
def app_id(pinpoint: Any) -> str:
    found: str = pinpoint.create_app(CreateApplicationRequest={"Name": f"Channels {secrets.token_hex(3)}"})[
        "ApplicationResponse"
    ]["Id"]
    return found


@pytest.fixture(scope="module")
def admin(browser: Any, stack: Stack, console_url: str, app_id: str) -> Iterator[Any]:
    page = role_page(browser, stack, console_url, "admin", app_id)
    yield page
    page.context.close()


class Answers:
    """Every HTTP answer the page receives, to show that a secret is in none of them."""

    def __init__(self, page: Any) -> None:
        self.bodies: list[str] = []
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        try:
            self.bodies.append(response.text())
        except Exception:  # noqa: BLE001 - a redirect has no body to read
            self.bodies.append("")

    def contain(self, text: str) -> bool:
        return any(text in b for b in self.bodies)


def test_enable_sms_and_edit_gcm_without_the_key_reaching_the_browser(
    pinpoint: Any, admin: Any, console_url: str, app_id: str, artefacts: Path
) -> None:
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": False, "SenderId": "SHOP"})
    answers = Answers(admin)
    admin.goto(f"{console_url}/projects/{app_id}/settings/channels")
    sms = admin.locator('#channels tr[data-channel="SMS"]')
    expect(sms.locator("[data-state]")).to_have_attribute("data-state", "disabled")
    expect(sms).to_contain_text("SHOP")
    sms.get_by_role("button", name="Enable SMS").click()
    expect(sms.locator("[data-state]")).to_have_attribute("data-state", "enabled")
    channel = pinpoint.get_sms_channel(ApplicationId=app_id)["SMSChannelResponse"]
    assert channel["Enabled"] is True and channel["SenderId"] == "SHOP"  # the rest kept

    api_key = "AIza-" + secrets.token_urlsafe(24)
    admin.get_by_role("link", name="Edit Firebase Cloud Messaging (GCM/FCM)").click()
    expect(admin.locator('[data-secret="ApiKey"]')).to_have_text("not set")
    admin.get_by_label("ApiKey").fill(api_key)
    admin.get_by_label("Enabled").check()
    admin.get_by_role("button", name="Save the channel").click()
    gcm = admin.locator('#channels tr[data-channel="GCM"]')
    expect(gcm.locator("[data-state]")).to_have_attribute("data-state", "enabled")
    expect(gcm.locator('[data-secret="ApiKey"]')).to_have_text("set")
    stored = pinpoint.get_gcm_channel(ApplicationId=app_id)["GCMChannelResponse"]
    assert stored["Enabled"] is True and stored["HasCredential"] is True

    # Edited again with the key left empty: kept; the form never holds it.
    admin.get_by_role("link", name="Edit Firebase Cloud Messaging (GCM/FCM)").click()
    expect(admin.locator('[data-secret="ApiKey"]')).to_have_text("set")
    assert admin.get_by_label("ApiKey").input_value() == ""
    admin.get_by_label("DefaultAuthenticationMethod").fill("KEY")
    admin.get_by_role("button", name="Save the channel").click()
    expect(gcm.locator('[data-secret="ApiKey"]')).to_have_text("set")
    again = pinpoint.get_gcm_channel(ApplicationId=app_id)["GCMChannelResponse"]
    assert again["HasCredential"] is True and again["DefaultAuthenticationMethod"] == "KEY"
    assert again["Version"] == stored["Version"] + 1

    # A bad ServiceJson: UpdateGcmChannel's error by the field, nothing written.
    admin.get_by_role("link", name="Edit Firebase Cloud Messaging (GCM/FCM)").click()
    admin.get_by_label("ServiceJson").fill("{not json")
    admin.get_by_role("button", name="Save the channel").click()
    expect(admin.locator("#ch-ServiceJson-error")).to_have_text(
        "Invalid value for GCMChannelRequest.ServiceJson: not a JSON document."
    )
    assert pinpoint.get_gcm_channel(ApplicationId=app_id)["GCMChannelResponse"]["Version"] == again["Version"]
    shots_and_axe(admin, artefacts, "channel-gcm-error")

    admin.goto(f"{console_url}/projects/{app_id}/settings/channels")
    assert api_key not in admin.content()
    assert not answers.contain(api_key)
    shots_and_axe(admin, artefacts, "channels")


def test_the_projects_own_twilio_account_set_and_cleared(
    pinpoint: Any, admin: Any, console_url: str, app_id: str, artefacts: Path
) -> None:
    pinpoint.update_sms_channel(ApplicationId=app_id, SMSChannelRequest={"Enabled": True})
    token = "tok-" + secrets.token_hex(12)
    answers = Answers(admin)
    admin.goto(f"{console_url}/projects/{app_id}/settings/channels")
    card = admin.locator("#credentials-sms")
    expect(card.locator('[data-credential="TwilioAuthToken"]')).to_have_text("not set")
    card.get_by_label("TwilioAccountSid").fill("AC0123")
    card.get_by_label("TwilioAuthToken").fill(token)
    card.get_by_role("button", name="Save SMS credentials").click()
    expect(card.locator('[data-credential="TwilioAccountSid"]')).to_have_text("AC0123")  # a public name
    expect(card.locator('[data-credential="TwilioAuthToken"]')).to_have_text("set")
    assert token not in admin.content() and not answers.contain(token)

    # A refusal the CLI gives too: a role ARN that is not one.
    custom = admin.locator("#credentials-custom")
    custom.get_by_label("LambdaRoleArn").fill("not-a-role")
    custom.get_by_role("button", name="Save Lambda functions credentials").click()
    expect(admin.locator("#cred-error-custom")).to_have_text("LambdaRoleArn: 'not-a-role' is not an IAM role ARN")

    admin.locator("#credentials-sms").get_by_role("button", name="Clear").click()
    expect(admin.locator('#credentials-sms [data-credential="TwilioAuthToken"]')).to_have_text("not set")
    expect(admin.locator('#credentials-sms [data-credential="TwilioAccountSid"]')).to_have_text("not set")
    assert pinpoint.get_sms_channel(ApplicationId=app_id)["SMSChannelResponse"]["Enabled"] is True


def test_an_access_key_is_shown_once_works_and_is_refused_once_revoked(
    stack: Stack, admin: Any, console_url: str, app_id: str, artefacts: Path
) -> None:
    admin.goto(f"{console_url}/projects/{app_id}/settings/keys")
    description = f"billing job {secrets.token_hex(2)}"
    admin.get_by_label("Description").fill(description)
    admin.get_by_role("button", name="Create access key").click()
    expect(admin.get_by_role("alert")).to_contain_text("only time the secret access key is shown")
    key_id = admin.locator("#new-key-id").inner_text()
    secret = admin.locator("#new-key-secret").inner_text()
    shots_and_axe(admin, artefacts, "access-key-created")

    client = stack.client(key=(key_id, secret))
    assert client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Id"] == app_id
    with pytest.raises(ClientError) as elsewhere:  # scoped to this project
        client.create_app(CreateApplicationRequest={"Name": "not allowed"})
    assert elsewhere.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    admin.get_by_role("link", name="Done: back to Access keys").click()
    row = admin.locator(f'#keys tr[data-key="{key_id}"]')
    expect(row).to_contain_text(description)
    expect(row).to_contain_text("this project")
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "active")
    assert secret not in admin.content()  # listed without its secret, ever again
    shots_and_axe(admin, artefacts, "access-keys")

    row.get_by_role("button", name=f"Revoke {key_id}").click()
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    with pytest.raises(ClientError) as refused:  # at once: this gateway forgot its cached copy
        client.get_app(ApplicationId=app_id)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert axe_violations(admin) == []


def test_a_key_of_another_project_cannot_be_revoked_here(
    stack: Stack, admin: Any, console_url: str, app_id: str, pinpoint: Any
) -> None:
    other: str = pinpoint.create_app(CreateApplicationRequest={"Name": "other keys"})["ApplicationResponse"]["Id"]
    key = stack.add_key([other])
    admin.goto(f"{console_url}/projects/{app_id}/settings/keys")
    expect(admin.locator(f'#keys tr[data-key="{key[0]}"]')).to_have_count(0)
    token = admin.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = admin.request.post(
        f"{console_url}/projects/{app_id}/settings/keys/{key[0]}/revoke", form={"csrf_token": token}, max_redirects=0
    )
    assert answer.status == 404
    assert stack.client(key=key).get_app(ApplicationId=other)["ApplicationResponse"]["Id"] == other
