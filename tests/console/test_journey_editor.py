"""The journey editor in a real browser, as an editor: a journey built card by card (a segment
entry, an email with a template made by boto3, a wait, a yes/no split on the email's opening with
two further emails) and saved through CreateJourney's code — boto3's get_journey returns exactly
those activities; a random split whose branch is 150 % is refused by the API with its error by
that branch and nothing saved; an edit seen by boto3; an ACTIVE journey's locked change refused;
a viewer refused. Screenshots at 1280 and 390 px, axe on the editor with and without an error.

One browser context per role for the module; axe-core is injected as an init script, so the
console's CSP stays on."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.stack import Stack

TAG = secrets.token_hex(3)
TEMPLATES = [f"welcome-{TAG}", f"tips-{TAG}", f"nudge-{TAG}"]


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> tuple[str, str]:
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Journeys {TAG}"})
    app_id: str = app["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    segment_id: str = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "new members",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["new"]}}},
        },
    )["SegmentResponse"]["Id"]
    for name in TEMPLATES:
        pinpoint.create_email_template(
            TemplateName=name, EmailTemplateRequest={"Subject": f"{name}", "HtmlPart": "<p>Hello</p>"}
        )
    return app_id, segment_id


def _context(browser: Any, stack: Stack, console_url: str, role: str, app_id: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email(f"journeys-{role}")
    sign_in(page, console_url, email, add_user(stack, email, role, [app_id]))
    return page


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, project: tuple[str, str]) -> Iterator[Any]:
    page = _context(browser, stack, console_url, "editor", project[0])
    yield page
    page.context.close()


def _journeys(pinpoint: Any, app_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = pinpoint.list_journeys(ApplicationId=app_id)["JourneysResponse"]["Item"]
    return items


def _add(page: Any, kind: str, card: str) -> None:
    """Add an activity card as a person would: choose its kind, press Add, wait for the card."""
    page.get_by_label("Activity to add").select_option(label=kind)
    page.get_by_role("button", name="Add activity").click()
    expect(page.locator(f"#{card}")).to_be_visible()


def _saved_id(page: Any, console_url: str, app_id: str) -> str:
    page.wait_for_url(re.compile(rf"/projects/{app_id}/journeys/[0-9a-f]{{32}}$"))
    return str(page.url.rstrip("/").split("/")[-1])


def test_build_a_journey_and_save_it(
    pinpoint: Any, editor: Any, console_url: str, project: tuple[str, str], artefacts: Path
) -> None:
    app_id, segment_id = project
    editor.goto(f"{console_url}/projects/{app_id}/journeys/new")
    expect(editor.get_by_text("No activities yet. Choose a kind")).to_be_visible()
    editor.get_by_label("Name", exact=True).fill("Onboarding")
    editor.get_by_label("Segment", exact=True).select_option(label="new members")
    _add(editor, "Send an email", "a0")
    _add(editor, "Wait", "a1")
    _add(editor, "Yes/no split", "a2")
    _add(editor, "Send an email", "a3")
    _add(editor, "Send an email", "a4")
    editor.locator("#a0-template").select_option(TEMPLATES[0])
    editor.locator("#a0-next").select_option("wait1")
    editor.locator("#a1-wait_for").fill("P1D")
    editor.locator("#a1-next").select_option("yesno1")
    editor.locator("#a2-c-message").select_option("email1")
    editor.locator("#a2-c-events").fill("_email.open")
    editor.locator("#a2-next").select_option("email2")
    editor.locator("#a2-other").select_option("email3")
    editor.locator("#a3-template").select_option(TEMPLATES[1])
    editor.locator("#a4-template").select_option(TEMPLATES[2])
    editor.locator("#a4-template").press("Tab")
    # The preview follows the form: the split's two paths, in the order a participant meets them.
    steps = editor.locator(".journey-steps")
    expect(steps).to_contain_text("yes → email2")
    expect(steps).to_contain_text("no → email3")
    expect(editor.locator("#journey-preview .preview-error")).to_have_count(0)
    if editor.locator("#journey-preview [data-graph]").count():  # the journeys pages' canvas, when built
        expect(editor.locator("#journey-preview [data-graph]")).to_have_attribute("data-nodes", "6")  # entry + 5
    editor.evaluate("window.scrollTo(0, 0)")  # the preview beside the top of the form
    editor.screenshot(path=str(artefacts / "journey-editor.png"), full_page=True)
    assert axe_violations(editor) == []
    editor.set_viewport_size({"width": 390, "height": 844})
    editor.screenshot(path=str(artefacts / "journey-editor-phone.png"), full_page=True)
    assert axe_violations(editor) == []
    editor.set_viewport_size({"width": 1280, "height": 800})

    editor.get_by_role("button", name="Save journey").click()
    journey_id = _saved_id(editor, console_url, app_id)
    expect(editor.get_by_role("heading", name="Onboarding", exact=True)).to_be_visible()  # the journey's page
    journey = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    opened = {"EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}}
    assert journey["Name"] == "Onboarding"
    assert journey["State"] == "DRAFT"
    assert journey["StartActivity"] == "email1"
    assert journey["StartCondition"] == {"SegmentStartCondition": {"SegmentId": segment_id}}
    assert journey["Activities"] == {
        "email1": {"EMAIL": {"TemplateName": TEMPLATES[0], "NextActivity": "wait1"}},
        "wait1": {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "yesno1"}},
        "yesno1": {
            "ConditionalSplit": {
                "Condition": {"Conditions": [{"EventCondition": {"MessageActivity": "email1", "Dimensions": opened}}]},
                "TrueActivity": "email2",
                "FalseActivity": "email3",
            }
        },
        "email2": {"EMAIL": {"TemplateName": TEMPLATES[1]}},
        "email3": {"EMAIL": {"TemplateName": TEMPLATES[2]}},
    }


def test_the_apis_error_by_the_branch_and_nothing_saved(
    pinpoint: Any, editor: Any, console_url: str, project: tuple[str, str], artefacts: Path
) -> None:
    app_id, _segment_id = project
    before = _journeys(pinpoint, app_id)
    editor.goto(f"{console_url}/projects/{app_id}/journeys/new")
    editor.get_by_label("Name", exact=True).fill("SplitTest")
    editor.get_by_label("Segment", exact=True).select_option(label="new members")
    _add(editor, "Random split", "a0")
    _add(editor, "Send an email", "a1")
    editor.get_by_label("Branch 1 percentage").fill("150")
    editor.get_by_label("Branch 1 goes to").select_option("email1")
    editor.get_by_role("button", name="Save journey").click()
    error = editor.locator("#a0-b0-percentage-error")
    expect(error).to_contain_text("WriteJourneyRequest.Activities.random1.RandomSplit.Branches[0].Percentage")
    expect(editor.get_by_role("alert").first).to_contain_text("Nothing was saved")
    editor.get_by_role("link", name="see the field it names").click()  # a long form: the alert leads to it
    expect(editor.get_by_label("Branch 1 percentage")).to_be_in_viewport()
    expect(editor.get_by_label("Branch 1 percentage")).to_have_value("150")  # the form keeps what was typed
    editor.evaluate("window.scrollTo(0, 0)")
    editor.screenshot(path=str(artefacts / "journey-editor-error.png"), full_page=True)
    assert axe_violations(editor) == []
    editor.set_viewport_size({"width": 390, "height": 844})
    editor.screenshot(path=str(artefacts / "journey-editor-error-phone.png"), full_page=True)
    assert axe_violations(editor) == []
    editor.set_viewport_size({"width": 1280, "height": 800})
    assert _journeys(pinpoint, app_id) == before

    # Removing the card removes the paths to it, and the rest saves.
    editor.get_by_role("button", name="Remove activity random1").click()
    expect(editor.locator("#a1")).to_have_count(0)
    expect(editor.locator("#start_activity")).to_have_value("")
    editor.locator("#start_activity").select_option("email1")
    editor.get_by_role("button", name="Save journey").click()
    journey_id = _saved_id(editor, console_url, app_id)
    saved = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    assert saved["Activities"] == {"email1": {"EMAIL": {}}}


def test_an_event_entry_with_a_filter(pinpoint: Any, editor: Any, console_url: str, project: tuple[str, str]) -> None:
    app_id, _segment_id = project
    editor.goto(f"{console_url}/projects/{app_id}/journeys/new")
    expect(editor.get_by_label("Event type", exact=True)).to_be_hidden()  # a segment entry is the default
    editor.get_by_label("Endpoints that report an event").check()
    editor.get_by_label("Name", exact=True).fill("OnSignUp")
    editor.get_by_label("Event type", exact=True).fill("signed_up")
    editor.get_by_label("Attribute filter: name").fill("plan")
    editor.get_by_label("Attribute values").fill("gold")
    _add(editor, "Holdout", "a0")
    editor.get_by_label("Percentage held out").fill("20")
    editor.get_by_role("button", name="Save journey").click()
    journey_id = _saved_id(editor, console_url, app_id)
    journey = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    assert journey["StartCondition"] == {
        "EventStartCondition": {
            "EventFilter": {
                "FilterType": "ENDPOINT",
                "Dimensions": {
                    "EventType": {"DimensionType": "INCLUSIVE", "Values": ["signed_up"]},
                    "Attributes": {"plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}},
                },
            }
        }
    }
    assert journey["Activities"] == {"holdout1": {"Holdout": {"Percentage": 20}}}


def test_edit_a_journey(pinpoint: Any, editor: Any, console_url: str, project: tuple[str, str]) -> None:
    app_id, segment_id = project
    journey_id = pinpoint.create_journey(
        ApplicationId=app_id,
        WriteJourneyRequest={
            "Name": "Winback",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
            "StartActivity": "hold",
            "Limits": {"DailyCap": 2},
            "Activities": {
                "hold": {"Holdout": {"Percentage": 10, "NextActivity": "pause"}},
                "pause": {"Wait": {"WaitTime": {"WaitFor": "PT6H"}, "NextActivity": "mail"}},
                "mail": {"EMAIL": {"TemplateName": TEMPLATES[0], "TemplateVersion": "1"}},
            },
        },
    )["JourneyResponse"]["Id"]
    editor.goto(f"{console_url}/projects/{app_id}/journeys/{journey_id}/edit")
    expect(editor.get_by_label("Name", exact=True)).to_have_value("Winback")
    expect(editor.locator("#a1-wait_for")).to_have_value("PT6H")
    editor.get_by_label("Name", exact=True).fill("WinbackV2")
    editor.locator("#a1-wait_for").fill("P2D")
    editor.get_by_label("Messages per endpoint a day").fill("3")
    editor.get_by_role("button", name="Save journey").click()
    assert _saved_id(editor, console_url, app_id) == journey_id
    journey = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    assert journey["Name"] == "WinbackV2"
    assert journey["Limits"] == {"DailyCap": 3}
    assert journey["Activities"] == {
        "hold": {"Holdout": {"Percentage": 10, "NextActivity": "pause"}},
        "pause": {"Wait": {"WaitTime": {"WaitFor": "P2D"}, "NextActivity": "mail"}},
        "mail": {"EMAIL": {"TemplateName": TEMPLATES[0], "TemplateVersion": "1"}},
    }


def test_an_active_journeys_locked_change_is_refused(
    pinpoint: Any, editor: Any, console_url: str, project: tuple[str, str]
) -> None:
    app_id, segment_id = project
    journey_id = pinpoint.create_journey(
        ApplicationId=app_id,
        WriteJourneyRequest={
            "Name": "Live",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
            # Starts in two days (so it stays ACTIVE, waiting), at a time with seconds the form
            # shows to the minute: saving must not read as a changed StartTime.
            "Schedule": {"StartTime": datetime.now(UTC) + timedelta(days=2, seconds=7), "Timezone": "UTC"},
            "StartActivity": "mail",
            "Activities": {"mail": {"EMAIL": {"TemplateName": TEMPLATES[0]}}},
        },
    )["JourneyResponse"]["Id"]
    pinpoint.update_journey_state(ApplicationId=app_id, JourneyId=journey_id, JourneyStateRequest={"State": "ACTIVE"})
    editor.goto(f"{console_url}/projects/{app_id}/journeys/{journey_id}/edit")
    expect(editor.get_by_text("This journey is ACTIVE")).to_be_visible()
    editor.locator("#a0-template").select_option(TEMPLATES[1])
    editor.get_by_role("button", name="Save journey").click()
    expect(editor.locator("#activities-error")).to_contain_text("cannot change once the journey is ACTIVE")
    journey = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    assert journey["Activities"]["mail"]["EMAIL"]["TemplateName"] == TEMPLATES[0]
    # What Pinpoint allows while it runs (the name) is saved.
    editor.locator("#a0-template").select_option(TEMPLATES[0])
    editor.get_by_label("Name", exact=True).fill("LiveRenamed")
    editor.get_by_role("button", name="Save journey").click()
    assert _saved_id(editor, console_url, app_id) == journey_id
    renamed = pinpoint.get_journey(ApplicationId=app_id, JourneyId=journey_id)["JourneyResponse"]
    assert (renamed["Name"], renamed["State"]) == ("LiveRenamed", "ACTIVE")


def test_a_viewer_is_refused(
    pinpoint: Any, browser: Any, stack: Stack, console_url: str, project: tuple[str, str]
) -> None:
    app_id, segment_id = project
    before = _journeys(pinpoint, app_id)
    viewer = _context(browser, stack, console_url, "viewer", app_id)
    try:
        answer = viewer.goto(f"{console_url}/projects/{app_id}/journeys/new")
        assert answer.status == 403
        expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
        form = {"csrf_token": csrf_of(viewer), "name": "Forged", "entry": "segment", "segment": segment_id}
        forged = viewer.request.post(f"{console_url}/projects/{app_id}/journeys/new", form=form, max_redirects=0)
        assert forged.status == 403
        if before:
            edit = f"{console_url}/projects/{app_id}/journeys/{before[0]['Id']}/edit"
            assert viewer.goto(edit).status == 403
            assert viewer.request.post(edit, form=form, max_redirects=0).status == 403
        assert _journeys(pinpoint, app_id) == before
    finally:
        viewer.context.close()
