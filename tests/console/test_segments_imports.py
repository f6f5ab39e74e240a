"""The Segments pages as a viewer: read-only (no builder, forged changes refused with nothing
written), and an import job started through boto3's create_import_job whose progress the list
polls until COMPLETED, after which the imported segment is listed with its size."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import add_user, csrf_of, new_email, sign_in
from tests.console.test_accessibility import AXE
from tests.console.test_segments import SHOTS, axe_violations
from tests.stack import Stack

ROLE = "arn:aws:iam::123456789012:role/pinpoint-import"
ROWS = 300


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> str:
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Imports {secrets.token_hex(3)}"})
    app_id: str = app["ApplicationResponse"]["Id"]
    pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "Everyone on Android",
            "SegmentGroups": {
                "Include": "ALL",
                "Groups": [{"Type": "ALL", "Dimensions": [{"Demographic": {"Platform": {"Values": ["android"]}}}]}],
            },
        },
    )
    return app_id


@pytest.fixture(scope="module")
def viewer(browser: Any, stack: Stack, console_url: str, project: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    email = new_email("seg-viewer")
    sign_in(page, console_url, email, add_user(stack, email, "viewer", [project]))
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def definitions(stack: Stack, app_id: str) -> list[Any]:
    return [tuple(r) for r in stack.sql("SELECT segment_id, version FROM segment_versions WHERE app_id = $1", app_id)]


class TestSegmentsAsAViewer:
    def test_no_builder_and_forged_changes_are_refused(
        self, viewer: Any, stack: Stack, console_url: str, project: str
    ) -> None:
        base = f"{console_url}/projects/{project}/segments"
        viewer.goto(base)
        assert viewer.get_by_role("link", name="Create a segment").count() == 0
        viewer.get_by_role("link", name="Everyone on Android").click()
        expect(viewer.get_by_role("heading", name="Everyone on Android")).to_be_visible()
        assert viewer.locator("#builder").count() == 0
        assert viewer.get_by_role("button", name="Save segment").count() == 0
        expect(viewer.locator("pre.definition")).to_contain_text('"android"')
        segment_id = viewer.url.rsplit("/", 1)[1]
        assert viewer.request.get(f"{base}/new").status == 403
        before = definitions(stack, project)
        form = {"name": "forged", "include": "ALL", "g0.type": "ALL", "g0.c0.kind": "platform", "g0.c0.values": "ios"}
        for target in ("new", "count", "draft", segment_id):
            response = viewer.request.post(f"{base}/{target}", form=form, headers={"X-CSRF-Token": csrf_of(viewer)})
            assert response.status == 403, target
            assert "viewer" in response.text()
        assert definitions(stack, project) == before

    def test_an_import_jobs_progress_until_completed(
        self, viewer: Any, stack: Stack, pinpoint: Any, console_url: str, project: str, file_root: Path
    ) -> None:
        source = file_root / f"console-{secrets.token_hex(4)}.csv"
        source.write_text(
            "Id,ChannelType,Address,Location.Country\n"
            + "".join(f"imp-{i:04d},EMAIL,imp{i}@example.com,FR\n" for i in range(ROWS))
        )
        # The worker is held back so the page first shows the job waiting, then follows it.
        stack.stop_worker()
        try:
            job = pinpoint.create_import_job(
                ApplicationId=project,
                ImportJobRequest={
                    "Format": "CSV",
                    "S3Url": source.as_uri(),
                    "RoleArn": ROLE,
                    "RegisterEndpoints": True,
                    "DefineSegment": True,
                    "SegmentName": "Imported customers",
                },
            )["ImportJobResponse"]
            viewer.goto(f"{console_url}/projects/{project}/segments")
            panel = viewer.locator(f"#job-{job['Id']}")
            expect(panel.locator("[data-status]")).to_have_text("CREATED")
            assert panel.get_attribute("hx-trigger") == "every 2s"
            viewer.screenshot(path=str(SHOTS / "segments-import-waiting.png"), full_page=True)
        finally:
            stack.start_worker()
        expect(panel.locator("[data-status]")).to_have_text("COMPLETED", timeout=30_000)
        expect(panel).to_contain_text(f"{ROWS:,} endpoints processed")
        assert panel.get_attribute("hx-trigger") is None  # polling stops once done
        viewer.screenshot(path=str(SHOTS / "segments-import-completed.png"), full_page=True)
        assert axe_violations(viewer) == []
        done = pinpoint.get_import_job(ApplicationId=project, JobId=job["Id"])["ImportJobResponse"]
        assert done["JobStatus"] == "COMPLETED" and done["TotalProcessed"] == ROWS
        panel.get_by_role("link", name="Open the segment").click()
        expect(viewer.locator("[data-count]")).to_have_attribute("data-count", str(ROWS))
        assert viewer.get_by_role("link", name="Open the segment").count() == 0  # already there
        viewer.screenshot(path=str(SHOTS / "segment-imported.png"), full_page=True)
        assert axe_violations(viewer) == []
        viewer.goto(f"{console_url}/projects/{project}/segments")
        row = viewer.get_by_role("row").filter(has_text="Imported customers")
        expect(row).to_contain_text("Imported")
        expect(row).to_contain_text(f"{ROWS:,} endpoints")
        viewer.screenshot(path=str(SHOTS / "segments-list-imported.png"), full_page=True)
