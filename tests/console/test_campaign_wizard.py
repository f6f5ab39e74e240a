"""The campaign wizard in a real browser: an email campaign from a template created and launched
(the SMTP sink receives the template's mail); an A/B campaign with a holdout and two treatments,
a recurring local-time campaign with quiet time and limits and an event-triggered campaign with
a filter, each as boto3's get_campaign reads it back; a bad treatment percentage shown by that
treatment with nothing saved; a scheduled campaign's name and schedule edited (version 2); a
viewer refused; another project's campaign refused; axe at 1280 and 390 px."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

MEMBERS = 3
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def audience(pinpoint: Any) -> dict[str, Any]:
    app_id: str = pinpoint.create_app(CreateApplicationRequest={"Name": f"Wizard {secrets.token_hex(3)}"})[
        "ApplicationResponse"
    ]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    addresses = [f"w{i}-{tag}@example.com" for i in range(MEMBERS)]
    pinpoint.update_endpoints_batch(
        ApplicationId=app_id,
        EndpointBatchRequest={
            "Item": [
                {"Id": f"w{i}", "Address": a, "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold"]}}
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
    template = f"wizard-welcome-{tag}"
    pinpoint.create_email_template(
        TemplateName=template,
        EmailTemplateRequest={"Subject": f"Welcome {tag}", "HtmlPart": "<p>Hello {{Attributes.Plan}}</p>"},
    )
    return {"app_id": app_id, "segment_id": segment_id, "addresses": addresses, "template": template, "tag": tag}


def _page(browser: Any, stack: Stack, console_url: str, role: str, app_id: str) -> Any:
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email(f"wizard-{role}")
    sign_in(page, console_url, email, add_user(stack, email, role, [app_id]))
    return page


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, audience: dict[str, Any]) -> Iterator[Any]:
    page = _page(browser, stack, console_url, "editor", audience["app_id"])
    yield page
    page.context.close()


def shot(page: Any, name: str, artefacts: Path) -> None:
    """The full page into the test-artefacts folder (docs/console holds copies made by hand: a
    test run never writes into the source tree)."""
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True, caret="initial")


def _get(pinpoint: Any, app_id: str, campaign_id: str) -> dict[str, Any]:
    c: dict[str, Any] = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign_id)["CampaignResponse"]
    return c


def _wait(pinpoint: Any, app_id: str, campaign_id: str, state: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (status := _get(pinpoint, app_id, campaign_id)["State"]["CampaignStatus"]) != state:
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return str(status)


def _names(pinpoint: Any, app_id: str) -> list[str]:
    return [c["Name"] for c in pinpoint.get_campaigns(ApplicationId=app_id)["CampaignsResponse"]["Item"]]


def _at(days: float) -> str:
    """A future UTC time as the datetime-local field takes it (minutes)."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _start(page: Any, console_url: str, app_id: str, name: str) -> None:
    page.goto(f"{console_url}/projects/{app_id}/campaigns/new")
    page.get_by_label("Campaign name").fill(name)
    page.get_by_label("Segment", exact=True).select_option(index=1)


def _save(page: Any) -> str:
    page.get_by_role("button", name="Create the campaign").click()
    expect(page.locator("#status")).to_be_visible()
    return str(page.url.rstrip("/").split("/")[-1])


def test_an_email_campaign_from_a_template_is_created_and_delivered(
    pinpoint: Any,
    smtp: SmtpServer,
    stack: Stack,
    editor: Any,
    console_url: str,
    audience: dict[str, Any],
    artefacts: Path,
) -> None:
    app_id, addresses = audience["app_id"], audience["addresses"]
    _start(editor, console_url, app_id, "Welcome from a template")
    treatment = editor.locator("#t0")
    treatment.get_by_label("Use a template").check()
    expect(treatment.get_by_label("Subject")).to_be_hidden()  # the template's content replaces the fields
    treatment.get_by_label("Template", exact=True).select_option(label=f"{audience['template']} (active version 1)")
    editor.get_by_label("Now", exact=True).check()
    editor.get_by_role("button", name="Update the review").click()
    review = editor.locator("#review")
    expect(review).to_contain_text(f"Email template {audience['template']}, its active version")
    expect(review).to_contain_text("gold, its latest version")
    shot(editor, "campaign-wizard", artefacts)
    assert axe_violations(editor) == []

    campaign_id = _save(editor)
    stack.drain_outbox(app_id)
    assert _wait(pinpoint, app_id, campaign_id, "COMPLETED") == "COMPLETED"
    mails = [m for a in addresses for m in smtp.sink.to(a)]
    assert len(mails) == MEMBERS
    assert {m.message["Subject"] for m in mails} == {f"Welcome {audience['tag']}"}
    assert "Hello gold" in mails[0].html
    c = _get(pinpoint, app_id, campaign_id)
    assert c["TemplateConfiguration"] == {"EmailTemplate": {"Name": audience["template"]}}
    assert c["Schedule"]["StartTime"] == "IMMEDIATE"


def test_an_ab_campaign_with_a_holdout_and_two_treatments(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path
) -> None:
    app_id = audience["app_id"]
    _start(editor, console_url, app_id, "Subject test")
    editor.locator("#t0").get_by_label("Treatment name").fill("Control")
    editor.locator("#t0").get_by_label("Subject").fill("Spring sale")
    editor.locator("#t0").get_by_label("HTML body").fill("<p>Sale</p>")
    editor.get_by_label("Once, at a time").check()
    start = _at(3)
    editor.get_by_label("Start (UTC)").fill(start)
    editor.get_by_label("Holdout (%)").fill("10")
    editor.get_by_role("button", name="Add a treatment").click()
    editor.get_by_role("button", name="Add a treatment").click()
    expect(editor.locator("fieldset.treatment")).to_have_count(3)
    expect(editor.get_by_label("Holdout (%)")).to_have_value("10")  # the draft came back whole
    t1, t2 = editor.locator("#t1"), editor.locator("#t2")
    t1.get_by_label("Share of the segment (%)").fill("30")
    t1.get_by_label("Treatment name").fill("Urgent")
    t1.get_by_label("Subject").fill("Last day of the sale")
    t1.get_by_label("HTML body").fill("<p>Hurry</p>")
    t2.get_by_label("Share of the segment (%)").fill("20")
    t2.get_by_label("Treatment description").fill("the welcome template, version 1")
    t2.get_by_label("Use a template").check()
    t2.get_by_label("Template", exact=True).select_option(label=f"{audience['template']} (active version 1)")
    t2.get_by_label("Template version").fill("1")
    editor.get_by_role("button", name="Update the review").click()
    expect(editor.locator("#review")).to_contain_text("Default treatment (40%)")
    campaign_id = _save(editor)

    c = _get(pinpoint, app_id, campaign_id)
    assert c["HoldoutPercent"] == 10
    assert c["TreatmentName"] == "Control"
    assert c["MessageConfiguration"] == {"EmailMessage": {"Title": "Spring sale", "HtmlBody": "<p>Sale</p>"}}
    assert c["Schedule"] == {"StartTime": f"{start}:00Z", "Frequency": "ONCE"}
    treatments = [{k: v for k, v in t.items() if k not in ("Id", "State")} for t in c["AdditionalTreatments"]]
    assert treatments == [
        {
            "SizePercent": 30,
            "TreatmentName": "Urgent",
            "MessageConfiguration": {"EmailMessage": {"Title": "Last day of the sale", "HtmlBody": "<p>Hurry</p>"}},
        },
        {
            "SizePercent": 20,
            "TreatmentDescription": "the welcome template, version 1",
            "TemplateConfiguration": {"EmailTemplate": {"Name": audience["template"], "Version": "1"}},
        },
    ]
    expect(editor.locator("#treatments-title")).to_be_visible()
    expect(editor.get_by_text("Treatment 1: Urgent (30%)")).to_be_visible()


def test_a_recurring_local_time_campaign_with_quiet_time_and_limits(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path
) -> None:
    app_id = audience["app_id"]
    _start(editor, console_url, app_id, "Weekly digest")
    editor.locator("#t0").get_by_label("Subject").fill("Your week")
    editor.locator("#t0").get_by_label("HTML body").fill("<p>Digest</p>")
    editor.locator("#t0").get_by_label("From address").fill("news@example.com")
    editor.get_by_label("Recurring").check()
    editor.get_by_label("How often").select_option("WEEKLY")
    # The Review section follows each change (htmx posts the draft; nothing is saved).
    expect(editor.locator("#review")).to_contain_text("Weekly, from")
    start, end = _at(2), _at(60)
    editor.get_by_label("Start (UTC)").fill(start)
    editor.get_by_label("End (UTC)").fill(end)
    editor.get_by_label("Send at the start time in each endpoint's local time").check()
    editor.get_by_label("Time zone").fill("UTC+05:30")
    editor.get_by_label("Quiet time starts").fill("22:00")
    editor.get_by_label("Quiet time ends").fill("07:30")
    for label, value in (
        ("Per endpoint per day", "1"),
        ("Per endpoint in all", "12"),
        ("Messages per second", "50"),
        ("Maximum duration (s)", "600"),
        ("Per session", "2"),
    ):
        editor.get_by_label(label).fill(value)
    campaign_id = _save(editor)

    c = _get(pinpoint, app_id, campaign_id)
    assert c["Schedule"] == {
        "StartTime": f"{start}:00Z",
        "EndTime": f"{end}:00Z",
        "Frequency": "WEEKLY",
        "IsLocalTime": True,
        "Timezone": "UTC+05:30",
        "QuietTime": {"Start": "22:00", "End": "07:30"},
    }
    assert c["Limits"] == {"Daily": 1, "Total": 12, "MessagesPerSecond": 50, "MaximumDuration": 600, "Session": 2}
    assert c["MessageConfiguration"]["EmailMessage"]["FromAddress"] == "news@example.com"


def test_an_event_triggered_campaign_with_a_filter(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path
) -> None:
    app_id = audience["app_id"]
    _start(editor, console_url, app_id, "After a purchase")
    editor.locator("#t0").get_by_label("Subject").fill("Thanks for your order")
    editor.locator("#t0").get_by_label("HTML body").fill("<p>Thanks</p>")
    editor.get_by_label("When an event arrives").check()
    editor.get_by_label("Event types").fill("purchase, upgrade")
    editor.get_by_label("Events from").select_option("ENDPOINT")
    editor.get_by_label("Attribute 1 name").fill("store")
    editor.get_by_label("Attribute 1 match").select_option("EXCLUSIVE")
    editor.get_by_label("Attribute 1 values, separated by commas").fill("outlet, test")
    editor.get_by_label("Metric 1 name").fill("price")
    editor.get_by_label("Metric 1 comparison").select_option("GREATER_THAN_OR_EQUAL")
    editor.get_by_label("Metric 1 value").fill("9.5")
    campaign_id = _save(editor)

    c = _get(pinpoint, app_id, campaign_id)
    assert c["Schedule"]["Frequency"] == "EVENT"
    assert c["Schedule"]["StartTime"] == "IMMEDIATE"
    assert c["Schedule"]["EventFilter"] == {
        "FilterType": "ENDPOINT",
        "Dimensions": {
            "EventType": {"DimensionType": "INCLUSIVE", "Values": ["purchase", "upgrade"]},
            "Attributes": {"store": {"AttributeType": "EXCLUSIVE", "Values": ["outlet", "test"]}},
            "Metrics": {"price": {"ComparisonOperator": "GREATER_THAN_OR_EQUAL", "Value": 9.5}},
        },
    }
    expect(editor.locator("#definition-title")).to_be_visible()
    expect(editor.get_by_text("On event purchase, upgrade")).to_be_visible()


def test_an_sms_campaign_on_a_pinned_segment_version(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any]
) -> None:
    app_id = audience["app_id"]
    _start(editor, console_url, app_id, "SMS offer")
    editor.get_by_label("Description", exact=True).fill("weekend offer")
    editor.get_by_label("Segment version").fill("1")
    editor.get_by_label("SMS", exact=True).check()
    expect(editor.locator("#t0").get_by_label("Subject")).to_be_hidden()
    editor.get_by_label("SMS body").fill("20% off this weekend")
    editor.get_by_label("Message type").select_option("PROMOTIONAL")
    editor.get_by_label("Sender ID").fill("SHOP")
    editor.get_by_label("Once, at a time").check()
    start = _at(6)
    editor.get_by_label("Start (UTC)").fill(start)
    campaign_id = _save(editor)

    c = _get(pinpoint, app_id, campaign_id)
    assert (c["Description"], c["SegmentVersion"]) == ("weekend offer", 1)
    assert c["MessageConfiguration"] == {
        "SMSMessage": {"Body": "20% off this weekend", "MessageType": "PROMOTIONAL", "SenderId": "SHOP"}
    }
    assert c["Schedule"] == {"StartTime": f"{start}:00Z", "Frequency": "ONCE"}


def test_a_bad_treatment_percentage_is_the_apis_error_by_that_treatment(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path
) -> None:
    app_id = audience["app_id"]
    _start(editor, console_url, app_id, "Too big a share")
    editor.locator("#t0").get_by_label("Subject").fill("A")
    editor.get_by_role("button", name="Add a treatment").click()
    editor.get_by_role("button", name="Add a treatment").click()
    editor.locator("#t1").get_by_label("Share of the segment (%)").fill("40")
    editor.locator("#t1").get_by_label("Subject").fill("B")
    editor.locator("#t2").get_by_label("Share of the segment (%)").fill("140")
    editor.locator("#t2").get_by_label("Subject").fill("C")
    editor.get_by_role("button", name="Create the campaign").click()
    error = editor.locator("#w-t2-size-error")
    expect(error).to_contain_text("AdditionalTreatments[1].SizePercent")
    expect(editor.locator("#w-t2-size")).to_have_attribute("aria-invalid", "true")
    expect(editor.locator("#w-t1-size")).not_to_have_attribute("aria-invalid", "true")
    expect(editor.locator("#w-t1-subject")).to_have_value("B")  # the draft is kept
    shot(editor, "campaign-wizard-error", artefacts)
    assert axe_violations(editor) == []
    assert "Too big a share" not in _names(pinpoint, app_id)

    # Within 0..100 each, but more than 100 with the holdout: the API names the list.
    editor.locator("#w-t2-size").fill("50")
    editor.get_by_label("Holdout (%)").fill("20")
    editor.get_by_role("button", name="Create the campaign").click()
    expect(editor.locator("#w-treatments-error")).to_contain_text("add up to more than 100")
    assert "Too big a share" not in _names(pinpoint, app_id)

    # Remove treatment 1: treatment 2 moves up, with what was typed in it.
    editor.get_by_role("button", name="Remove treatment 1").click()
    expect(editor.locator("fieldset.treatment")).to_have_count(2)
    expect(editor.locator("#w-t1-subject")).to_have_value("C")


def test_edit_a_scheduled_campaigns_name_and_schedule(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path
) -> None:
    app_id = audience["app_id"]
    first = (datetime.now(UTC) + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    campaign_id = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "Old name",
            "SegmentId": audience["segment_id"],
            "Schedule": {"StartTime": first, "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "News", "HtmlBody": "<p>News</p>"}},
            "tags": {"team": "growth"},
        },
    )["CampaignResponse"]["Id"]
    assert _wait(pinpoint, app_id, campaign_id, "SCHEDULED") == "SCHEDULED"
    editor.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}")
    editor.get_by_role("link", name="Edit").click()
    expect(editor.get_by_label("Campaign name")).to_have_value("Old name")
    expect(editor.get_by_label("Once, at a time")).to_be_checked()
    expect(editor.get_by_label("Start (UTC)")).to_have_value(first[:16])
    editor.get_by_label("Campaign name").fill("New name")
    editor.get_by_label("Recurring").check()
    editor.get_by_label("How often").select_option("DAILY")
    later = _at(5)
    editor.get_by_label("Start (UTC)").fill(later)
    editor.get_by_role("button", name="Save the campaign (version 2)").click()
    expect(editor.locator("#status")).to_be_visible()

    c = _get(pinpoint, app_id, campaign_id)
    assert c["Name"] == "New name"
    assert c["Version"] == 2
    assert c["Schedule"] == {"StartTime": f"{later}:00Z", "Frequency": "DAILY"}
    assert c["MessageConfiguration"] == {"EmailMessage": {"Title": "News", "HtmlBody": "<p>News</p>"}}
    assert c["tags"] == {"team": "growth"}

    # A refusal of the update is the API's error by its field; the campaign stays at version 2.
    editor.get_by_role("link", name="Edit").click()
    editor.get_by_label("Time zone").fill("Mars/Olympus")
    editor.get_by_role("button", name="Save the campaign (version 3)").click()
    expect(editor.locator("#w-timezone-error")).to_contain_text("Timezone")
    assert _get(pinpoint, app_id, campaign_id)["Version"] == 2


@pytest.mark.parametrize("width", [1280, 390])
def test_the_wizard_at_both_widths_passes_axe(
    editor: Any, console_url: str, audience: dict[str, Any], artefacts: Path, width: int
) -> None:
    editor.set_viewport_size(WIDE if width == 1280 else PHONE)
    try:
        editor.goto(f"{console_url}/projects/{audience['app_id']}/campaigns/new")
        for when in ("Recurring", "When an event arrives"):
            editor.get_by_label(when).check()
            assert axe_violations(editor) == []
        editor.get_by_role("button", name="Add a treatment").click()
        assert axe_violations(editor) == []
        if width == 390:
            editor.get_by_label("Campaign name").fill("On a phone")
            editor.get_by_label("Recurring").check()
            expect(editor.locator("#review")).to_contain_text("On a phone")
            expect(editor.locator("#review")).to_contain_text("Daily, from")
            shot(editor, "campaign-wizard-phone", artefacts)
            # Nothing wider than the screen: every field fits at 390 px.
            assert editor.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        editor.set_viewport_size(WIDE)


def test_a_viewer_is_refused_and_nothing_is_written(
    pinpoint: Any, browser: Any, stack: Stack, console_url: str, audience: dict[str, Any]
) -> None:
    app_id = audience["app_id"]
    viewer = _page(browser, stack, console_url, "viewer", app_id)
    try:
        assert viewer.goto(f"{console_url}/projects/{app_id}/campaigns/new").status == 403
        viewer.goto(f"{console_url}/projects/{app_id}/campaigns")
        expect(viewer.get_by_role("link", name="Create a campaign")).to_have_count(0)
        forged = viewer.request.post(
            f"{console_url}/projects/{app_id}/campaigns/new",
            form={
                "csrf_token": csrf_of(viewer),
                "name": "Forged",
                "segment": audience["segment_id"],
                "t0.subject": "x",
            },
            max_redirects=0,
        )
        assert forged.status == 403
        assert "Forged" not in _names(pinpoint, app_id)
        campaign_id = pinpoint.create_campaign(
            ApplicationId=app_id,
            WriteCampaignRequest={
                "Name": "Viewer's",
                "SegmentId": audience["segment_id"],
                "Schedule": {"StartTime": "2031-01-01T00:00:00Z", "Frequency": "ONCE"},
                "MessageConfiguration": {"EmailMessage": {"Title": "x"}},
            },
        )["CampaignResponse"]["Id"]
        viewer.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}")
        expect(viewer.locator("#status")).to_be_visible()
        expect(viewer.get_by_role("link", name="Edit")).to_have_count(0)
        assert viewer.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}/edit").status == 403
        forged = viewer.request.post(
            f"{console_url}/projects/{app_id}/campaigns/{campaign_id}/edit",
            form={"csrf_token": csrf_of(viewer), "name": "Forged", "segment": audience["segment_id"]},
            max_redirects=0,
        )
        assert forged.status == 403
        assert "Forged" not in _names(pinpoint, app_id)
    finally:
        viewer.context.close()


def test_another_projects_campaign_is_refused(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any]
) -> None:
    other: str = pinpoint.create_app(CreateApplicationRequest={"Name": f"Other {secrets.token_hex(3)}"})[
        "ApplicationResponse"
    ]["Id"]
    segment = pinpoint.create_segment(
        ApplicationId=other,
        WriteSegmentRequest={"Name": "all", "Dimensions": {"Demographic": {"Platform": {"Values": ["ios"]}}}},
    )["SegmentResponse"]["Id"]
    campaign_id = pinpoint.create_campaign(
        ApplicationId=other,
        WriteCampaignRequest={
            "Name": "Theirs",
            "SegmentId": segment,
            "Schedule": {"StartTime": "2031-01-01T00:00:00Z", "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "x"}},
        },
    )["CampaignResponse"]["Id"]
    # Their project (not given to this editor), and their campaign's id under our project.
    assert editor.goto(f"{console_url}/projects/{other}/campaigns/{campaign_id}/edit").status == 403
    assert editor.goto(f"{console_url}/projects/{audience['app_id']}/campaigns/{campaign_id}/edit").status == 404


def test_a_campaign_the_wizard_cannot_hold_is_not_offered_for_saving(
    pinpoint: Any, editor: Any, console_url: str, audience: dict[str, Any]
) -> None:
    app_id = audience["app_id"]
    campaign_id = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "With headers",
            "SegmentId": audience["segment_id"],
            "Schedule": {"StartTime": "2031-01-01T00:00:00Z", "Frequency": "ONCE"},
            "MessageConfiguration": {
                "EmailMessage": {"Title": "x", "HtmlBody": "<p>x</p>", "Headers": [{"Name": "X-Tag", "Value": "a"}]}
            },
        },
    )["CampaignResponse"]["Id"]
    editor.goto(f"{console_url}/projects/{app_id}/campaigns/{campaign_id}/edit")
    expect(editor.get_by_role("alert")).to_contain_text("change it through the API")
    expect(editor.locator("#wizard")).to_have_count(0)
    forged = editor.request.post(
        f"{console_url}/projects/{app_id}/campaigns/{campaign_id}/edit",
        form={"csrf_token": csrf_of(editor), "name": "Dropped headers", "segment": audience["segment_id"]},
        max_redirects=0,
    )
    assert forged.status == 403
    assert _get(pinpoint, app_id, campaign_id)["Version"] == 1
