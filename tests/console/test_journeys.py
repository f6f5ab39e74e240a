"""The Journeys pages in a real browser: a journey made with boto3 (a segment of endpoints with
email addresses, the stack's SMTP sink) is in the list and drawn on its canvas, each activity in
the table below, and its counts appear on the page as its participants go through (polled while
ACTIVE); a broken draft's review errors are on its node and publishing it is refused with the
API's words; an editor pauses, resumes and stops a journey (boto3 sees each state); a viewer sees
no button and its forged POSTs are refused; a test run's trace; the participants' Temporal links;
a refresh that fails while PostgreSQL is unavailable is said on the page. Screenshots at 1280 and
390 px wide, axe on each page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from openpoint.errors import DatabaseUnavailable
from tests.console.conftest import ARTEFACTS, add_user, csrf_of, new_email, sign_in
from tests.console.journey_audience import Audience, eventually
from tests.console.test_accessibility import AXE
from tests.console.test_segments import axe_violations
from tests.smtp_sink import SmtpServer
from tests.stack import Stack

SHOTS = ARTEFACTS  # the artefacts folder (OPENPOINT_TEST_ARTEFACTS), as the conftest's fixture
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def audience(pinpoint: Any) -> Audience:
    return Audience(pinpoint)


def _context(browser: Any, stack: Stack, console_url: str, role: str, app_id: str) -> Any:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email(f"journeys-{role}")
    sign_in(page, console_url, email, add_user(stack, email, role, [app_id]))
    return page


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, audience: Audience) -> Iterator[Any]:
    page = _context(browser, stack, console_url, "editor", audience.app_id)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    page.context.close()


def _count(page: Any, activity: str) -> Any:
    return page.locator(f'#activities tr[data-activity="{activity}"] td[data-label="Count"]')


def _drawn(page: Any) -> dict[str, Any]:
    """What ECharts holds for the canvas: the nodes' ids, borders and labels, and whether the
    canvas has any non-blank pixel."""
    result: dict[str, Any] = page.locator("[data-graph]").evaluate(
        """el => {
            const chart = echarts.getInstanceByDom(el);
            if (!chart) return {instance: false};
            const canvas = el.querySelector('canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 0; i < pixels.length; i += 4) if (pixels[i + 3] && pixels[i] < 200) inked++;
            const nodes = chart.getOption().series[0].data.filter(n => !n.anchor);
            return {instance: true, inked: inked,
                    nodes: Object.fromEntries(nodes.map(n => [n.id, {border: n.itemStyle.borderWidth,
                                                                     label: n.label.formatter}]))};
        }"""
    )
    return result


def _shots(page: Any, name: str, *, docs: bool = False) -> None:
    """The page at 1280 and at 390 px wide (axe at both), saved to the artefacts folder."""
    for suffix, viewport in (("", DESKTOP), ("-phone", PHONE)):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)  # the canvas is resized on the window's resize event
        page.screenshot(path=str(SHOTS / f"{name}{suffix}.png"), full_page=True)
        assert axe_violations(page) == [], suffix or "desktop"
    page.set_viewport_size(DESKTOP)


def test_a_live_journey_on_the_list_and_its_canvas_with_counts(
    pinpoint: Any, smtp: SmtpServer, editor: Any, console_url: str, audience: Audience
) -> None:
    journey_id = audience.split_journey("Welcome-trip")
    # Opened at once: the counts arrive on the open page (polled while ACTIVE).
    editor.goto(f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}")
    expect(editor.locator("#status")).to_have_attribute("data-state", "ACTIVE")
    expect(editor.locator("#journey-live")).to_have_attribute("hx-trigger", "every 3s")
    expect(_count(editor, "hello")).to_have_attribute("data-value", "3", timeout=60_000)
    expect(_count(editor, "gold")).to_have_attribute("data-value", "2", timeout=30_000)
    expect(_count(editor, "bye")).to_have_attribute("data-value", "1", timeout=30_000)
    expect(editor.locator('#totals [data-key="ENDPOINT_ENTERED"]')).to_have_text("3")
    eventually(lambda: audience.metrics(journey_id)["ENDPOINT_LEFT"] == "3", "the participants to leave")
    eventually(lambda: len(smtp.sink.to(audience.addresses["e2"])) == 2, "e2's mails")

    # The canvas: an ECharts graph with every activity, counts in its labels; the table lists each.
    editor.reload()
    expect(_count(editor, "bye")).to_have_attribute("data-value", "1")
    expect(editor.locator("[data-graph][data-drawn='true'] canvas")).to_be_visible()
    drawn = _drawn(editor)
    assert drawn["instance"] and drawn["inked"] > 1000
    assert set(drawn["nodes"]) == {"__entry__", "hello", "check", "gold", "bye"}
    assert "Say hello" in drawn["nodes"]["hello"]["label"] and "{count|3}" in drawn["nodes"]["hello"]["label"]
    rows = editor.locator("#activities tbody tr")
    expect(rows).to_have_count(5)
    check = editor.locator('#activities tr[data-activity="check"]')
    expect(check).to_contain_text("Yes/no split")
    expect(check.locator('td[data-label="Next"]')).to_have_text("Yes: Send email gold; No: Send email bye")
    expect(check.locator('td[data-label="Outcomes"]')).to_contain_text("True 2, False 1")
    expect(editor.locator("#participants tbody tr")).to_have_count(3)
    expect(editor.locator('nav a[aria-current="page"]', has_text="Journeys")).to_have_count(1)
    _shots(editor, "journey")

    editor.goto(f"{console_url}/projects/{audience.app_id}/journeys")
    row = editor.locator(f'#journeys tr[data-id="{journey_id}"]')
    expect(row).to_contain_text("Welcome-trip")
    # Everyone has left and the segment is not refreshed: the journey completes.
    expect(row.locator("[data-state]")).to_have_attribute("data-state", re.compile("ACTIVE|COMPLETED"))
    expect(row.locator('td[data-label="Entry"]')).to_have_text("Segment everyone")


def test_review_errors_on_the_node_of_a_broken_draft_and_publishing_refused(
    editor: Any, console_url: str, audience: Audience
) -> None:
    journey_id = audience.journey(
        "Half-built",
        {
            "hello": {"EMAIL": {"TemplateName": audience.hello, "NextActivity": "later"}},
            "later": {"Description": "Follow up", "EMAIL": {}},  # no template yet: a review error
        },
        "hello",
        State="DRAFT",
    )
    editor.goto(f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}")
    expect(editor.locator("#status")).to_have_attribute("data-state", "DRAFT")
    expect(editor.locator('#findings li.error[data-activity="later"]')).to_have_count(1)
    expect(editor.locator('#activities tr[data-activity="later"] td[data-label="Review"]')).to_contain_text("error")
    expect(editor.locator('#activities tr[data-activity="hello"] td[data-label="Review"]')).to_have_text("OK")
    expect(editor.locator("#journey-live")).not_to_have_attribute("hx-trigger", "every 3s")  # not ACTIVE
    expect(editor.locator("[data-graph][data-drawn='true']")).to_have_count(1)
    nodes = _drawn(editor)["nodes"]
    assert nodes["later"]["border"] == 3 and "{error|1 error}" in nodes["later"]["label"]
    assert nodes["hello"]["border"] != 3

    editor.get_by_role("button", name="Publish").click()
    expect(editor.locator("#state-error")).to_contain_text("Journey validation failed")
    expect(editor.locator("#state-error")).to_contain_text("later")
    assert audience.state(journey_id) == "DRAFT"
    editor.screenshot(path=str(SHOTS / "journey-review-error.png"), full_page=True)
    assert axe_violations(editor) == []


def test_pause_resume_and_stop_by_an_editor(stack: Stack, editor: Any, console_url: str, audience: Audience) -> None:
    journey_id = audience.journey(
        "Slow-drip",
        {
            "hello": {"EMAIL": {"TemplateName": audience.hello, "NextActivity": "rest"}},
            "rest": {"Wait": {"WaitTime": {"WaitFor": "P7D"}, "NextActivity": "bye"}},
            "bye": {"EMAIL": {"TemplateName": audience.bye}},
        },
        "hello",
        RefreshFrequency="P1D",
    )
    page = f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}"
    editor.goto(page)
    editor.get_by_role("button", name="Pause").click()
    expect(editor.locator("#status")).to_have_attribute("data-state", "PAUSED")
    assert audience.state(journey_id) == "PAUSED"

    # Too soon: UpdateJourneyState's refusal, on the page; nothing changed.
    editor.get_by_role("button", name="Resume").click()
    expect(editor.locator("#state-error")).to_contain_text("can be resumed 5 minutes after it was paused")
    assert audience.state(journey_id) == "PAUSED"
    stack.sql(
        "UPDATE journeys SET paused_at = now() - interval '6 minutes' WHERE app_id = $1 AND id = $2",
        audience.app_id,
        journey_id,
    )
    editor.goto(page)
    editor.get_by_role("button", name="Resume").click()
    expect(editor.locator("#status")).to_have_attribute("data-state", "ACTIVE")
    assert audience.state(journey_id) == "ACTIVE"

    editor.get_by_role("button", name="Stop").click()
    expect(editor.locator("#status")).to_have_attribute("data-state", "CANCELLED")
    assert audience.state(journey_id) == "CANCELLED"
    expect(editor.get_by_role("button", name="Stop")).to_have_count(0)


async def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseUnavailable()


def test_a_failed_refresh_is_said_and_the_next_one_clears_it(
    stack: Stack, editor: Any, console_url: str, audience: Audience, monkeypatch: pytest.MonkeyPatch
) -> None:
    journey_id = audience.journey(
        "Held",
        {
            "hello": {"EMAIL": {"TemplateName": audience.hello, "NextActivity": "rest"}},
            "rest": {"Wait": {"WaitTime": {"WaitFor": "P7D"}}},
        },
        "hello",
    )
    page = f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}"
    editor.goto(page)
    expect(editor.locator("#journey-live")).to_have_attribute("hx-trigger", "every 3s")
    # The gateway runs in this process (tests/stack.py): its metrics read fails as with PostgreSQL down.
    monkeypatch.setattr("store.journey_metrics.journey", _unavailable)
    expect(editor.locator("#live-failed")).to_be_visible(timeout=15_000)
    response = editor.request.get(page)
    assert response.status == 503 and "Try again shortly" in response.text()
    monkeypatch.undo()
    expect(editor.locator("#live-failed")).to_be_hidden(timeout=15_000)
    expect(_count(editor, "rest")).to_have_attribute("data-value", "3", timeout=30_000)


def test_a_viewer_sees_no_buttons_and_its_forged_posts_are_refused(
    browser: Any, stack: Stack, console_url: str, audience: Audience
) -> None:
    journey_id = audience.split_journey("Viewers", State="DRAFT")
    viewer = _context(browser, stack, console_url, "viewer", audience.app_id)
    try:
        page = f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}"
        viewer.goto(page)
        expect(viewer.locator("#status")).to_have_attribute("data-state", "DRAFT")
        expect(viewer.locator("[data-graph][data-drawn='true']")).to_have_count(1)
        for name in ("Publish", "Stop", "Pause", "Start a test run"):
            expect(viewer.get_by_role("button", name=name)).to_have_count(0)
        expect(viewer.get_by_role("link", name="Edit")).to_have_count(0)
        csrf = csrf_of(viewer)
        forged = viewer.request.post(f"{page}/state", form={"csrf_token": csrf, "state": "ACTIVE"}, max_redirects=0)
        assert forged.status == 403
        tested = viewer.request.post(
            f"{page}/test-runs", form={"csrf_token": csrf, "endpoints": "e0"}, max_redirects=0
        )  # fmt: skip
        assert tested.status == 403
        assert audience.state(journey_id) == "DRAFT"
        viewer.goto(f"{console_url}/projects/{audience.app_id}/journeys")
        expect(viewer.get_by_role("link", name="New journey")).to_have_count(0)
    finally:
        viewer.context.close()


def test_a_test_run_and_its_trace_with_temporal_links(
    stack: Stack, editor: Any, console_url: str, audience: Audience
) -> None:
    journey_id = audience.split_journey("Tested", State="DRAFT")
    page = f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}"
    editor.goto(page)
    # The API's refusal by the form: an endpoint the project does not have.
    editor.get_by_label("Endpoint ids").fill("e0, nobody")
    editor.get_by_role("button", name="Start a test run").click()
    expect(editor.locator("#test-error")).to_contain_text("nobody")
    expect(editor.get_by_label("Endpoint ids")).to_have_value("e0, nobody")

    stack.settings.temporal_ui_url = "http://temporal-ui.example:8233/"
    try:
        editor.get_by_label("Endpoint ids").fill("e0 e2")
        editor.get_by_role("button", name="Start a test run").click()
        expect(editor.locator("#trace-state")).to_have_attribute("data-done", "true", timeout=60_000)
        e0 = editor.locator('.participant[data-endpoint="e0"]')
        steps = e0.locator("tbody tr")
        expect(steps).to_have_count(3)
        assert [steps.nth(i).get_attribute("data-activity") for i in range(3)] == ["hello", "check", "gold"]
        expect(e0.locator('tr[data-activity="check"]')).to_have_attribute("data-outcome", "True")
        e2 = editor.locator('.participant[data-endpoint="e2"]')
        expect(e2.locator('tr[data-activity="check"]')).to_have_attribute("data-outcome", "False")
        expect(e2.locator('tr[data-activity="bye"]')).to_have_count(1)
        link = e0.get_by_role("link", name="Open the workflow in Temporal")
        href = link.get_attribute("href") or ""
        namespace = stack.settings.temporal_namespace
        assert href.startswith(f"http://temporal-ui.example:8233/namespaces/{namespace}/workflows/")
        assert "//namespaces" not in href and href.rsplit("/", 1)[1]
        _shots(editor, "journey-test-run")

        editor.goto(page)
        expect(editor.locator("#test-runs li")).to_have_count(1)
    finally:
        stack.settings.temporal_ui_url = ""
    editor.reload()
    expect(editor.locator("#test-runs li")).to_have_count(1)


def test_live_participants_link_to_temporal_and_text_without_the_setting(
    stack: Stack, editor: Any, console_url: str, audience: Audience
) -> None:
    journey_id = audience.split_journey("Linked")
    eventually(lambda: audience.metrics(journey_id)["ENDPOINT_LEFT"] == "3", "the participants to leave")
    [row] = stack.sql(
        "SELECT workflow_id FROM journey_participants WHERE app_id = $1 AND journey_id = $2 AND participant = 'e1'",
        audience.app_id,
        journey_id,
    )
    page = f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}"
    editor.goto(page)
    cell = editor.locator('#participants tr[data-participant="e1"] td[data-label="Workflow"]')
    expect(cell).to_have_text(row["workflow_id"])
    expect(cell.get_by_role("link")).to_have_count(0)
    stack.settings.temporal_ui_url = "http://127.0.0.1:8233"
    try:
        editor.goto(page)
        expected = (
            f"http://127.0.0.1:8233/namespaces/{stack.settings.temporal_namespace}/workflows/{row['workflow_id']}"
        )
        expect(cell.get_by_role("link", name="Open in Temporal")).to_have_attribute("href", expected)
    finally:
        stack.settings.temporal_ui_url = ""


def test_another_projects_journey_is_refused(
    pinpoint: Any, browser: Any, stack: Stack, console_url: str, audience: Audience
) -> None:
    other = Audience(pinpoint)
    journey_id = other.split_journey("Elsewhere", State="DRAFT")
    page = _context(browser, stack, console_url, "editor", audience.app_id)
    try:
        page.goto(f"{console_url}/projects/{audience.app_id}/journeys")
        csrf = csrf_of(page)
        # Another project's journey under this project's id: not found; the other project: refused.
        here = page.goto(f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}")
        assert here is not None and here.status == 404
        there = page.goto(f"{console_url}/projects/{other.app_id}/journeys/{journey_id}")
        assert there is not None and there.status == 403
        forged = page.request.post(
            f"{console_url}/projects/{audience.app_id}/journeys/{journey_id}/state",
            form={"csrf_token": csrf, "state": "CANCELLED"},
            max_redirects=0,
        )
        assert forged.status == 404
        assert other.state(journey_id) == "DRAFT"
    finally:
        page.context.close()


def test_the_list_newest_first_and_the_empty_state(
    pinpoint: Any, browser: Any, stack: Stack, editor: Any, console_url: str, audience: Audience
) -> None:
    newest = audience.split_journey("Newest", State="DRAFT")
    editor.goto(f"{console_url}/projects/{audience.app_id}/journeys")
    rows = editor.locator("#journeys tbody tr")
    assert rows.count() >= 2
    expect(rows.first).to_have_attribute("data-id", newest)
    expect(rows.first.locator("[data-state]")).to_have_attribute("data-state", "DRAFT")
    expect(editor.get_by_role("link", name="New journey")).to_have_attribute(
        "href", f"/console/projects/{audience.app_id}/journeys/new"
    )
    _shots(editor, "journeys-list")

    bare: str = pinpoint.create_app(CreateApplicationRequest={"Name": f"Empty {secrets.token_hex(3)}"})[
        "ApplicationResponse"
    ]["Id"]
    page = _context(browser, stack, console_url, "viewer", bare)
    try:
        page.goto(f"{console_url}/projects/{bare}/journeys")
        expect(page.locator(".empty-title")).to_have_text("No journeys yet")
        expect(page.get_by_role("link", name="New journey")).to_have_count(0)
        assert axe_violations(page) == []
    finally:
        page.context.close()
