"""The Campaigns pages in a real browser: an email campaign created with boto3 and delivered to
the SMTP sink is in the list with its state; its page lists its run and its chart's table shows
Sent equal to the messages the sink received; an editor pauses and resumes a future campaign
(boto3's get_campaign sees PAUSED, then SCHEDULED); a viewer sees no button and a forged POST is
refused; the axe check of both pages. One browser context per role for the module."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ARTEFACTS, add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

SHOTS = ARTEFACTS  # the test-artefacts folder (OPENPOINT_TEST_ARTEFACTS)
MEMBERS = 4


@pytest.fixture(scope="module")
def audience(pinpoint: Any) -> tuple[str, str, list[str]]:
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Campaigns {secrets.token_hex(3)}"})
    app_id: str = app["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    addresses = [f"k{i}-{tag}@example.com" for i in range(MEMBERS)]
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [
                {"Id": f"k{i}", "Address": a, "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold"]}}
                for i, a in enumerate(addresses)
            ]
        },
    )
    segment_id: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "gold",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    return app_id, segment_id, addresses


def _context(browser: Any, stack: Stack, console_url: str, role: str, app_id: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email(f"campaigns-{role}")
    sign_in(page, console_url, email, add_user(stack, email, role, [app_id]))
    return page


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, audience: tuple[str, str, list[str]]) -> Iterator[Any]:
    page = _context(browser, stack, console_url, "editor", audience[0])
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    page.context.close()


def _campaign(pinpoint: Any, app_id: str, segment_id: str, name: str, schedule: dict[str, Any]) -> str:
    campaign_id: str = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": name,
            "SegmentId": segment_id,
            "Schedule": schedule,
            "MessageConfiguration": {"EmailMessage": {"Title": "Spring sale", "HtmlBody": "<p>Hello</p>"}},
        },
    )["CampaignResponse"]["Id"]
    return campaign_id


def _status(pinpoint: Any, app_id: str, campaign_id: str) -> dict[str, Any]:
    c: dict[str, Any] = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"]
    return c


def _wait(pinpoint: Any, app_id: str, campaign_id: str, state: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (status := _status(pinpoint, app_id, campaign_id)["State"]["CampaignStatus"]) != state:
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return str(status)


def test_a_delivered_campaign_in_the_list_with_its_run_and_chart(
    pinpoint: Any, smtp: SmtpServer, editor: Any, console_url: str, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, addresses = audience
    campaign_id = _campaign(
        pinpoint, app_id, segment_id, "Spring sale", {"StartTime": "IMMEDIATE", "Frequency": "ONCE"}
    )
    assert _wait(pinpoint, app_id, campaign_id, "COMPLETED") == "COMPLETED"
    received = sum(len(smtp.sink.to(a)) for a in addresses)
    assert received == MEMBERS

    editor.goto(f"{console_url}/projects/{app_id}/campaigns")
    row = editor.locator(f'#campaigns tr[data-id="{campaign_id}"]')
    expect(row).to_contain_text("Spring sale")
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "COMPLETED")
    expect(row).to_contain_text("Email")
    expect(editor.locator('nav a[aria-current="page"]', has_text="Campaigns")).to_have_count(1)
    editor.screenshot(path=str(SHOTS / "campaigns-list.png"), full_page=True)
    assert axe_violations(editor) == []

    # The figures come from the analytics rollups, which fold new events within seconds.
    deadline = time.monotonic() + 30
    while True:
        editor.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}")
        sent = editor.locator("#figures td[data-label='Sent']")
        if sent.count() and sent.first.get_attribute("data-value") == str(received):
            break
        assert time.monotonic() < deadline, "the chart's table never showed the messages sent"
        time.sleep(1)
    expect(editor.locator("#runs tbody tr")).to_have_count(1)
    expect(editor.locator("#runs td[data-label='Delivered']")).to_have_attribute("data-value", str(MEMBERS))
    expect(editor.locator(".chart canvas, .chart svg").first).to_be_visible()
    assert "campaign-id=" + campaign_id in (editor.get_by_role("link", name="Download CSV").get_attribute("href") or "")
    editor.screenshot(path=str(SHOTS / "campaign-page.png"), full_page=True)
    assert axe_violations(editor) == []


def test_pause_and_resume_a_scheduled_campaign(
    pinpoint: Any, editor: Any, console_url: str, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, _ = audience
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign_id = _campaign(pinpoint, app_id, segment_id, "Weekly news", {"StartTime": start, "Frequency": "WEEKLY"})
    assert _wait(pinpoint, app_id, campaign_id, "SCHEDULED") == "SCHEDULED"

    editor.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}")
    editor.get_by_role("button", name="Pause").click()
    expect(editor.locator("#status")).to_have_attribute("data-state", "PAUSED")
    paused = _status(pinpoint, app_id, campaign_id)
    assert paused["IsPaused"] is True and paused["State"]["CampaignStatus"] == "PAUSED"
    assert paused["Schedule"]["StartTime"] == start  # the rest of the definition is kept

    editor.get_by_role("button", name="Resume").click()
    expect(editor.locator("#status")).to_have_attribute("data-state", "SCHEDULED")
    resumed = _status(pinpoint, app_id, campaign_id)
    assert not resumed.get("IsPaused") and resumed["State"]["CampaignStatus"] == "SCHEDULED"


def test_a_viewer_reads_but_cannot_pause(
    pinpoint: Any, browser: Any, stack: Stack, console_url: str, audience: tuple[str, str, list[str]]
) -> None:
    app_id, segment_id, _ = audience
    start = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign_id = _campaign(pinpoint, app_id, segment_id, "Viewer's", {"StartTime": start, "Frequency": "ONCE"})
    viewer = _context(browser, stack, console_url, "viewer", app_id)
    try:
        viewer.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}")
        expect(viewer.locator("#status")).to_be_visible()
        expect(viewer.get_by_role("button", name="Pause")).to_have_count(0)
        forged = viewer.request.post(
            f"{console_url}/projects/{app_id}/campaigns/{campaign_id}/pause",
            form={"csrf_token": csrf_of(viewer)},
            max_redirects=0,
        )
        assert forged.status == 403
        assert not _status(pinpoint, app_id, campaign_id).get("IsPaused")
    finally:
        viewer.context.close()


def test_the_wizard_creates_a_campaign_that_delivers_and_shows_errors_by_the_field(
    pinpoint: Any, smtp: SmtpServer, editor: Any, console_url: str, audience: tuple[str, str, list[str]]
) -> None:
    app_id, _segment_id, addresses = audience
    before = sum(len(smtp.sink.to(a)) for a in addresses)
    editor.goto(f"{console_url}/projects/{app_id}/campaigns/new")
    editor.get_by_label("Campaign name").fill("Launch")
    editor.get_by_label("Segment", exact=True).select_option(label="gold (dynamic; version 1)")
    editor.get_by_label("Subject").fill("We launched")
    editor.get_by_label("HTML body").fill("<p>Hello</p>")
    editor.get_by_label("Once, at a time").check()
    editor.get_by_label("Start (UTC)").fill("2020-01-01T10:00")
    editor.get_by_role("button", name="Create the campaign").click()
    expect(editor.locator("#w-start-error")).to_contain_text("StartTime")
    editor.screenshot(path=str(SHOTS / "campaign-new-error.png"), full_page=True)
    assert axe_violations(editor) == []
    names = [c["Name"] for c in pinpoint.get_campaigns(ApplicationId=app_id)["CampaignsResponse"]["Item"]]
    assert "Launch" not in names  # nothing written on refusal

    editor.get_by_label("Now", exact=True).check()
    editor.get_by_role("button", name="Create the campaign").click()
    expect(editor.locator("#status")).to_be_visible()
    campaign_id = editor.url.rstrip("/").split("/")[-1]
    assert _wait(pinpoint, app_id, campaign_id, "COMPLETED") == "COMPLETED"
    assert sum(len(smtp.sink.to(a)) for a in addresses) == before + MEMBERS
