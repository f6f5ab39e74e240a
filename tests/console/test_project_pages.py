"""The Analytics and Endpoints pages of a project, in headless Chromium against the real stack:
events loaded through PutEvents and folded by the worker's rollup loop, an email sent to an
endpoint through the SMTP sink; the page's table against the API's JSON, its CSV link against
the API's CSV, a bad filter refused next to its field, and an endpoint found and its timeline.

One browser context for the module (a handful of page loads); screenshots go to
the artefacts folder."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from openpoint.errors import DatabaseUnavailable
from tests.api.test_analytics import CampaignSends, add_campaign, add_run
from tests.api.test_analytics_pages import call, page
from tests.console.conftest import ARTEFACTS, add_user, new_email, sign_in
from tests.console.test_accessibility import violations
from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from wire.codec import iso

SHOTS = ARTEFACTS  # the test-artefacts folder (OPENPOINT_TEST_ARTEFACTS)
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
# (endpoint, days ago, event types): sessions and a view -> cart -> buy funnel over 25 days.
ACTIVITY = [
    ("ep-a", 1, ["_session.start", "view", "cart", "buy"]),
    ("ep-a", 12, ["_session.start", "view"]),
    ("ep-b", 2, ["_session.start", "view", "cart"]),
    ("ep-b", 20, ["_session.start", "view"]),
    ("ep-c", 25, ["_session.start", "view"]),
    ("ep-d", 4, ["_session.start", "view"]),
]


@pytest.fixture(scope="module")
def project(stack: Stack, pinpoint: Any) -> dict[str, str]:
    tag = secrets.token_hex(3)
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": f"Shop {tag}"})["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    items: dict[str, Any] = {}
    for ep, days, types in ACTIVITY:
        at = NOW - timedelta(days=days)
        session = {"Id": f"s-{ep}-{days}", "StartTimestamp": iso(at)}
        events = items.setdefault(
            ep,
            {
                "Endpoint": {
                    "ChannelType": "EMAIL",
                    "Address": f"{ep}-{tag}@example.com",
                    "Demographic": {"Platform": "ios" if ep in ("ep-a", "ep-c") else "android"},
                    "Attributes": {"plan": ["gold" if ep == "ep-a" else "free"]},
                    "User": {"UserId": f"user-{ep}-{tag}"},
                },
                "Events": {},
            },
        )["Events"]
        for i, event_type in enumerate(types):
            events[f"{ep}-{days}-{i}"] = {
                "EventType": event_type,
                "Timestamp": iso(at + timedelta(minutes=i)),
                "Attributes": {"screen": "home"} if event_type == "view" else {},
                "Session": session,
            }
    resp = pinpoint.put_events(ApplicationId=app_id, EventsRequest={"BatchItem": items})
    for ep in items:
        statuses = resp["EventsResponse"]["Results"][ep]["EventsItemResponse"]
        assert {v["StatusCode"] for v in statuses.values()} == {202}, statuses
    # A campaign's run with deliveries, opens and a click (the delivery layer's events).
    campaign_id = add_campaign(stack, app_id)
    sends = CampaignSends(stack, app_id, campaign_id, add_run(stack, app_id, campaign_id, 1), NOW - timedelta(days=2))
    for ep in ("ep-a", "ep-b", "ep-c", "ep-d"):
        sends.send(ep)
    sends.engage("_email.open", "ep-a", 5)
    sends.engage("_email.open", "ep-b", 7)
    sends.engage("_email.click", "ep-a", 9)
    # ep-a entered a journey (the participant row a live entry writes) and a test run (not shown).
    journey_id = secrets.token_hex(16)
    stack.sql(
        "INSERT INTO journeys (app_id, id, state, definition) VALUES ($1, $2, 'ACTIVE', $3::jsonb)",
        app_id,
        journey_id,
        '{"Name": "Welcome series"}',
    )
    for entry_key, number, test_run in (("run-1", 1, None), ("test-1", 0, "t1")):
        stack.sql(
            "INSERT INTO journey_participants (app_id, journey_id, participant, entry_key, entry_number,"
            " workflow_id, current_activity, test_run_id) VALUES ($1, $2, 'ep-a', $3, $4, $5, 'wait1', $6)",
            app_id,
            journey_id,
            entry_key,
            number,
            f"wf-{entry_key}",
            test_run,
        )
    segment_id = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "Gold plan",
            "Dimensions": {"Attributes": {"plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    stack.drain_rollups()
    return {"id": app_id, "tag": tag, "campaign": campaign_id, "journey": journey_id, "segment": segment_id}


@pytest.fixture(scope="module")
def console(stack: Stack, browser: Any, project: dict[str, str]) -> Iterator[Any]:
    """One signed-in admin's page for the module."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(15_000)
    p = context.new_page()
    problems: list[str] = []
    p.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: problems.append(str(e)))
    email = new_email("analyst")
    sign_in(p, f"{stack.url}/console", email, add_user(stack, email, "admin"))
    p.problems = problems
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield p
    context.close()


def shot(page_: Any, name: str, artefacts: Path) -> None:
    # caret="initial": Playwright's default hides the caret with a style attribute on each input,
    # which htmx's next swap would then copy and the CSP refuse.
    page_.screenshot(path=str(artefacts / f"{name}.png"), full_page=True, caret="initial")


def page_rows(page_: Any) -> list[list[str]]:
    """The figures table as the API writes its values (each cell's data-value)."""
    rows: list[list[str]] = page_.eval_on_selector_all(
        "#figures tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.dataset.value))"
    )
    return rows


def api_rows(answer: dict[str, Any], header: list[str]) -> list[list[str]]:
    out = []
    for row in answer["KpiResult"]["Rows"]:
        cells = {g["Key"]: g["Value"] for g in row.get("GroupedBys", [])} | {
            v["Key"]: v["Value"] for v in row["Values"]
        }
        out.append([cells.get(h, "") for h in header])
    return out


def header(page_: Any) -> list[str]:
    keys: list[str] = page_.eval_on_selector_all("#figures thead th", "hs => hs.map(h => h.dataset.key)")
    return keys


def chart_drawn(page_: Any) -> None:
    page_.locator(".chart canvas").first.wait_for()
    box = page_.locator(".chart canvas").first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200


async def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseUnavailable()


class TestAnalytics:
    def test_usage_chart_table_range_and_csv(
        self, stack: Stack, console: Any, project: dict[str, str], artefacts: Path
    ) -> None:
        app_id = project["id"]
        base = f"{stack.url}/console/projects/{app_id}/analytics"
        console.goto(f"{base}/usage?view=daily")
        chart_drawn(console)
        cols = header(console)
        assert cols[:2] == ["Date", "DailyActiveEndpoints"]
        thirty = page(stack, app_id, "usage", ("view", "daily"))
        assert page_rows(console) == api_rows(thirty, cols)
        assert len(page_rows(console)) == 6  # the six active days of the last 30
        shot(console, "analytics-usage", artefacts)

        # Last 7 days: the URL says so (a shareable view) and the older days are gone.
        console.get_by_label("Date range").select_option("7")
        console.get_by_role("button", name="Apply").click()
        console.wait_for_url("**range=7**")
        console.locator("#figures").wait_for()
        start = (NOW - timedelta(days=6)).date().isoformat() + "T00:00:00Z"
        seven = page(stack, app_id, "usage", ("view", "daily"), ("start-time", start))
        assert page_rows(console) == api_rows(seven, cols)
        assert len(page_rows(console)) == 3
        chart_drawn(console)

        # The CSV link downloads what the API's CSV answers, line for line.
        with console.expect_download() as info:
            console.get_by_role("link", name="Download CSV").click()
        downloaded = Path(info.value.path()).read_text()
        api_csv = call(
            stack,
            "GET",
            f"/v1/apps/{app_id}/analytics/usage",
            [("view", "daily"), ("start-time", start), ("format", "csv")],
        )
        assert api_csv.status_code == 200
        assert downloaded == api_csv.text
        assert list(csv.reader(io.StringIO(downloaded)))[0][:2] == ["Date", "DailyActiveEndpoints"]
        assert info.value.suggested_filename == "usage.csv"

    def test_a_bad_filter_is_refused_next_to_its_field(
        self, stack: Stack, console: Any, project: dict[str, str]
    ) -> None:
        console.goto(f"{stack.url}/console/projects/{project['id']}/analytics/usage")
        console.get_by_text("Filters", exact=True).click()
        # A segment first: the URL names it and the figures are the API's for it (ep-a alone).
        console.get_by_label("Segment").select_option(label="Gold plan")
        console.get_by_role("button", name="Apply").click()
        console.wait_for_url(f"**segment-id={project['segment']}**")
        console.locator("#figures").wait_for()
        answer = page(stack, project["id"], "usage", ("segment-id", project["segment"]))
        assert page_rows(console) == api_rows(answer, header(console))
        assert {r[1] for r in page_rows(console)} == {"0", "1"}  # one endpoint at most on any day
        console.get_by_label("Channel").fill("PIGEON")
        console.get_by_role("button", name="Apply").click()
        error = console.locator("#f-channel-error")
        error.wait_for()
        # The API's own message for the same input.
        api = call(stack, "GET", f"/v1/apps/{project['id']}/analytics/usage", [("channel", "PIGEON")])
        assert api.status_code == 400
        assert error.inner_text() == api.json()["Message"]
        assert console.get_by_label("Channel").get_attribute("aria-invalid") == "true"
        assert "channel=PIGEON" in console.url

    def test_the_database_unavailable(
        self, stack: Stack, console: Any, project: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        url = f"{stack.url}/console/projects/{project['id']}/analytics/events"
        console.goto(url)
        # The gateway runs in this process (tests/stack.py): its reads fail as with PostgreSQL down.
        monkeypatch.setattr("store.segments.page", _unavailable)
        console.get_by_role("button", name="Apply").click()  # an HTMX request: the form says so
        console.locator("#analytics-failed").wait_for()
        response = console.goto(url)  # a whole page: 503 with the error state
        assert response is not None and response.status == 503
        assert "The figures could not be loaded." in console.get_by_role("alert").first.inner_text()
        monkeypatch.undo()
        console.get_by_role("link", name="Try again").click()
        console.locator("#figures").wait_for()
        # htmx logs the 503 it was answered: expected here, not a problem for the module's check.
        console.problems[:] = [p for p in console.problems if "Response Status Error Code 503" not in p]

    def test_retention_campaigns_and_funnel(
        self, stack: Stack, console: Any, project: dict[str, str], artefacts: Path
    ) -> None:
        base = f"{stack.url}/console/projects/{project['id']}/analytics"
        console.goto(f"{base}/retention")
        chart_drawn(console)
        shot(console, "analytics-retention", artefacts)

        console.goto(f"{base}/revenue")  # no purchase events: the empty state
        assert console.get_by_text("No events in this range yet").count() == 1
        assert console.locator(".chart").count() == 0

        console.goto(f"{base}/campaigns")
        chart_drawn(console)
        answer = page(stack, project["id"], "campaigns")
        assert page_rows(console) == api_rows(answer, header(console))
        shot(console, "analytics-campaigns", artefacts)

        console.goto(f"{base}/funnel")
        console.get_by_text("Name the funnel's steps").wait_for()
        for i, step in enumerate(("view", "cart", "buy")):
            console.get_by_label(f"Step {i + 1}", exact=True).fill(step)
        console.get_by_role("button", name="Apply").click()
        console.locator("#figures").wait_for()
        chart_drawn(console)
        rows = page_rows(console)
        assert [r[:3] for r in rows] == [["1", "view", "4"], ["2", "cart", "2"], ["3", "buy", "1"]]
        shot(console, "analytics-funnel", artefacts)
        # No script error, nothing refused by the CSP (a 422 answer and the favicon's 404 are
        # logged as failed loads: they are expected).
        problems = [p for p in console.problems if not p.startswith("Failed to load resource")]
        assert problems == [], problems

    def test_the_usage_page_is_accessible(self, stack: Stack, browser: Any, project: dict[str, str]) -> None:
        # The console's CSP refuses injected scripts, as it should; the checker's page bypasses it.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        p = context.new_page()
        email = new_email("a11y")
        sign_in(p, f"{stack.url}/console", email, add_user(stack, email, "viewer", [project["id"]]))
        p.goto(f"{stack.url}/console/projects/{project['id']}/analytics/usage?channel=PIGEON")
        found = violations(p)
        p.goto(f"{stack.url}/console/projects/{project['id']}/analytics/usage")
        p.locator(".chart canvas").first.wait_for()
        found += violations(p)
        context.close()
        assert found == []


class TestEndpoints:
    def test_search_and_an_endpoints_timeline(
        self, stack: Stack, pinpoint: Any, smtp: SmtpServer, console: Any, project: dict[str, str], artefacts: Path
    ) -> None:
        app_id, tag = project["id"], project["tag"]
        address = f"ep-a-{tag}@example.com"
        result = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Endpoints": {"ep-a": {}},
                "MessageConfiguration": {
                    "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Hi"}, "HtmlPart": {"Data": "<p>Hi</p>"}}}
                },
            },
        )["MessageResponse"]["EndpointResult"]["ep-a"]
        assert result["DeliveryStatus"] == "SUCCESSFUL"
        assert len(smtp.sink.to(address)) == 1

        base = f"{stack.url}/console/projects/{app_id}/endpoints"
        console.goto(base)
        box = console.get_by_label("Endpoint ID, address or user ID")
        box.fill(address)
        console.get_by_role("button", name="Search").click()
        console.wait_for_url("**q=**")
        assert console.get_by_role("link", name="ep-a", exact=True).count() == 1
        box = console.get_by_label("Endpoint ID, address or user ID")
        box.fill(f"user-ep-b-{tag}")
        console.get_by_role("button", name="Search").click()
        console.get_by_role("link", name="ep-b", exact=True).wait_for()
        assert console.get_by_role("link", name="ep-a", exact=True).count() == 0

        console.goto(f"{base}/ep-a")
        messages = console.locator("#messages tbody tr")
        assert messages.count() == 1
        assert "EMAIL" in messages.first.inner_text() and "SUCCESSFUL" in messages.first.inner_text()
        events = console.locator("#events tbody").inner_text()
        for event_type in ("buy", "cart", "view", "_session.start"):
            assert event_type in events
        assert "screen=home" in events
        assert address in console.locator("#profile-title").locator("..").inner_text()
        assert "gold" in console.locator("#attributes-title").locator("..").inner_text()
        journeys = console.locator("#journeys tbody tr")
        assert journeys.count() == 1  # the live entry, not the test run's
        assert "Welcome series" in journeys.first.inner_text() and "wait1" in journeys.first.inner_text()
        shot(console, "endpoint", artefacts)

    def test_search_by_the_start_of_an_id_address_or_user_id(
        self, stack: Stack, console: Any, project: dict[str, str], artefacts: Path
    ) -> None:
        app_id, tag = project["id"], project["tag"]
        base = f"{stack.url}/console/projects/{app_id}/endpoints"

        def found(q: str) -> list[str]:
            console.goto(f"{base}?{urlencode({'q': q})}")
            links = console.locator("#found-title ~ .table-wrap tbody tr td:first-child a")
            return [a.inner_text() for a in links.all()]

        assert sorted(found("ep-")) == ["ep-a", "ep-b", "ep-c", "ep-d"]
        shot(console, "endpoints-search", artefacts)
        assert found("user-ep-c") == ["ep-c"]  # a user id's start
        assert found(f"ep-d-{tag}@ex") == ["ep-d"]  # an address's start
        # % and _ are letters, not wildcards: "ep_" is not "ep-".
        assert found("ep_") == [] and found("%") == []
        assert "starts with this" in console.get_by_role("main").inner_text()

    def test_the_endpoint_page_is_accessible(
        self, stack: Stack, pinpoint: Any, browser: Any, project: dict[str, str]
    ) -> None:
        context = browser.new_context(viewport={"width": 390, "height": 800}, bypass_csp=True)
        p = context.new_page()
        email = new_email("a11y")
        sign_in(p, f"{stack.url}/console", email, add_user(stack, email, "viewer", [project["id"]]))
        p.goto(f"{stack.url}/console/projects/{project['id']}/endpoints/ep-a")
        found = violations(p)
        p.screenshot(path=str(SHOTS / "endpoint-phone.png"), full_page=True)
        p.goto(f"{stack.url}/console/projects/{project['id']}/endpoints?q=nobody")
        found += violations(p)
        # Another project's pages are refused to a viewer of this one, with a page saying why.
        other = pinpoint.create_app(CreateApplicationRequest={"Name": "elsewhere"})["ApplicationResponse"]["Id"]
        for path in ("analytics/usage", "endpoints?q=ep-a", "endpoints/ep-a"):
            response = p.goto(f"{stack.url}/console/projects/{other}/{path}")
            assert response is not None and response.status == 403
            assert "not been given access to this project" in p.get_by_role("main").inner_text()
        context.close()
        assert found == []
