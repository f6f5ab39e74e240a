"""The segment builder in a real browser, as an editor: a platform dimension and an attribute,
the live count equal to the endpoints boto3 created (and changing with a value), saving through
CreateSegment's code (boto3's get_segment sees the same definition), editing (a new version),
the API's error next to the criterion with nothing saved, and the axe check of the pages.

One browser context for the module (signed in once); axe-core is injected as an init script, so
the console's CSP stays on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import ARTEFACTS, add_user, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.stack import Stack

SHOTS = ARTEFACTS  # the test-artefacts folder (OPENPOINT_TEST_ARTEFACTS)
# (id, platform, plan): 3 on ios (2 pro), 2 on android (1 pro)
ENDPOINTS = [
    ("ep-1", "ios", "pro"),
    ("ep-2", "ios", "pro"),
    ("ep-3", "ios", "free"),
    ("ep-4", "android", "pro"),
    ("ep-5", "android", "free"),
]


def axe_violations(page: Any) -> list[str]:
    result = page.evaluate(
        "async () => (await axe.run(document,"
        " {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))"
    )
    return [
        f"{v['id']} ({v['impact']}, {v['nodes']}x): {v['help']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> str:
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Segments {secrets.token_hex(3)}"})
    app_id: str = app["ApplicationResponse"]["Id"]
    for endpoint_id, platform, plan in ENDPOINTS:
        pinpoint.update_endpoint(
            ApplicationId=app_id,
            EndpointId=endpoint_id,
            EndpointRequest={
                "ChannelType": "EMAIL",
                "Address": f"{endpoint_id}@example.com",
                "Demographic": {"Platform": platform},
                "Attributes": {"plan": [plan]},
            },
        )
    return app_id


@pytest.fixture(scope="module")
def editor(browser: Any, stack: Stack, console_url: str, project: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email("segments")
    sign_in(page, console_url, email, add_user(stack, email, "editor", [project]))
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def counted(page: Any, n: int) -> None:
    expect(page.locator("#live-count [data-count]")).to_have_attribute("data-count", str(n))


def segment_rows(stack: Stack, app_id: str) -> int:
    return int(stack.sql("SELECT count(*) AS n FROM segments WHERE app_id = $1", app_id)[0]["n"])


class TestSegmentBuilder:
    def test_the_empty_list(self, editor: Any, console_url: str, project: str) -> None:
        editor.goto(f"{console_url}/projects/{project}/segments")
        expect(editor.get_by_text("No segments yet")).to_be_visible()
        assert axe_violations(editor) == []

    def test_build_count_and_save(self, editor: Any, pinpoint: Any, console_url: str, project: str) -> None:
        editor.get_by_role("link", name="Create a segment").click()
        editor.get_by_label("Name").fill("Pro iPhones")
        platform = editor.locator("#g0-c0-values")
        platform.fill("ios")
        platform.press("Tab")  # a change event: the live count follows
        counted(editor, 3)
        editor.get_by_label("Criterion to add to group 1").select_option("attribute")
        editor.get_by_role("button", name="Add criterion").click()
        name = editor.locator("#g0-c1-name")
        name.fill("plan")
        values = editor.locator("#g0-c1-values")
        values.fill("pro")
        values.press("Tab")
        counted(editor, 2)
        platform.fill("android")  # another value, another count
        platform.press("Tab")
        counted(editor, 1)
        platform.fill("ios")
        platform.press("Tab")
        counted(editor, 2)
        editor.screenshot(path=str(SHOTS / "segment-builder.png"), full_page=True)
        assert axe_violations(editor) == []
        editor.set_viewport_size({"width": 390, "height": 844})
        editor.screenshot(path=str(SHOTS / "segment-builder-phone.png"), full_page=True)
        assert axe_violations(editor) == []
        editor.set_viewport_size({"width": 1280, "height": 800})
        editor.get_by_role("button", name="Save segment").click()
        status = editor.get_by_role("status")
        expect(status).to_contain_text("Saved segment Pro iPhones")
        link = editor.get_by_role("link", name="Pro iPhones")
        segment_id = link.get_attribute("href").rsplit("/", 1)[1]
        saved = pinpoint.get_segment(ApplicationId=project, SegmentId=segment_id)["SegmentResponse"]
        assert saved["SegmentType"] == "DIMENSIONAL" and saved["Name"] == "Pro iPhones"
        assert saved["SegmentGroups"] == {
            "Include": "ALL",
            "Groups": [
                {
                    "Type": "ALL",
                    "SourceType": "ANY",
                    "Dimensions": [
                        {"Demographic": {"Platform": {"DimensionType": "INCLUSIVE", "Values": ["ios"]}}},
                        {"Attributes": {"plan": {"AttributeType": "INCLUSIVE", "Values": ["pro"]}}},
                    ],
                }
            ],
        }
        editor.screenshot(path=str(SHOTS / "segments-list.png"), full_page=True)
        assert axe_violations(editor) == []

        # Editing: the builder shows the saved criteria; saving makes version 2.
        link.click()
        expect(editor.locator("#g0-c1-values")).to_have_value("pro")
        counted(editor, 2)
        editor.locator("#g0-c1-values").fill("pro, free")
        editor.get_by_role("button", name="Save segment").click()
        expect(editor.get_by_role("status")).to_contain_text("(version 2)")
        again = pinpoint.get_segment(ApplicationId=project, SegmentId=segment_id)["SegmentResponse"]
        assert again["Version"] == 2
        assert again["SegmentGroups"]["Groups"][0]["Dimensions"][1]["Attributes"]["plan"]["Values"] == ["pro", "free"]

    def test_the_apis_error_is_shown_by_the_criterion(
        self, editor: Any, stack: Stack, console_url: str, project: str
    ) -> None:
        before = segment_rows(stack, project)
        editor.goto(f"{console_url}/projects/{project}/segments/new")
        editor.get_by_label("Name").fill("Broken")
        editor.locator("#g0-c0-values").fill("ios")
        editor.get_by_label("Criterion to add to group 1").select_option("attribute")
        editor.get_by_role("button", name="Add criterion").click()
        editor.locator("#g0-c1-name").fill("plan")  # and no values
        editor.get_by_role("button", name="Save segment").click()
        error = editor.locator("#g0-c1-error")
        # CreateSegment's own words, by the criterion they are about.
        expect(error).to_have_text(
            "Invalid value for WriteSegmentRequest.SegmentGroups.Groups[0].Dimensions[1].Attributes.plan.Values:"
            " at least one value is required."
        )
        assert editor.locator("#g0-c1-name").get_attribute("aria-invalid") == "true"
        expect(editor.locator("#g0-c0-values")).to_have_value("ios")  # the draft is kept
        assert segment_rows(stack, project) == before
        # The live count says why it cannot count the draft.
        expect(editor.locator("#live-count")).to_contain_text("at least one value is required")
        editor.screenshot(path=str(SHOTS / "segment-builder-error.png"), full_page=True)
        assert axe_violations(editor) == []
