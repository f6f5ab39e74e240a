"""Every page of the console at phone width (390×844): a project with a little of everything
made through boto3, then each page opened by an administrator. Each must fit the screen (no
sideways scrolling of the page itself: wide tables and the journey canvas scroll inside their
own frames), answer 200, and pass axe with no serious or critical violation. Each page's
screenshot goes to the artefacts folder as `phone-<page>.png`."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import add_user, new_email, sign_in
from tests.console.test_accessibility import violations
from tests.stack import Stack

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def project(pinpoint: Any) -> dict[str, str]:
    tag = secrets.token_hex(3)
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": f"Everything {tag}"})["ApplicationResponse"]["Id"]
    # Another project, with a long name: the project switcher offers it on every project page.
    pinpoint.create_app(CreateApplicationRequest={"Name": f"A project called far too long for a phone's screen {tag}"})
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    pinpoint.update_endpoint(
        ApplicationId=app_id,
        EndpointId="phone-ep",
        EndpointRequest={
            "ChannelType": "EMAIL",
            "Address": f"someone-with-a-rather-long-address-{tag}@example.com",
            "Attributes": {"plan": ["gold"]},
            "User": {"UserId": f"user-{tag}"},
        },
    )
    now = datetime.now(UTC)
    pinpoint.put_events(
        ApplicationId=app_id,
        EventsRequest={
            "BatchItem": {
                "phone-ep": {
                    "Endpoint": {},
                    "Events": {
                        f"e{i}": {"EventType": kind, "Timestamp": (now - timedelta(minutes=10 - i)).isoformat()}
                        for i, kind in enumerate(("_session.start", "view", "buy"))
                    },
                }
            }
        },
    )
    segment_id = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "Gold plan",
            "Dimensions": {"Attributes": {"plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    template = f"phone-welcome-{tag}"
    pinpoint.create_email_template(
        TemplateName=template,
        EmailTemplateRequest={"Subject": "Hello {{User.UserId}}", "HtmlPart": "<p>Welcome, {{Attributes.plan}}</p>"},
    )
    start = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    campaign_id = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "Next week's newsletter",
            "SegmentId": segment_id,
            "Schedule": {"StartTime": start, "Frequency": "ONCE"},
            "TemplateConfiguration": {"EmailTemplate": {"Name": template}},
        },
    )["CampaignResponse"]["Id"]
    journey_id = pinpoint.create_journey(
        ApplicationId=app_id,
        WriteJourneyRequest={
            "Name": "Welcome-series",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
            "StartActivity": "hello",
            "Activities": {
                "hello": {"EMAIL": {"TemplateName": template, "NextActivity": "wait"}},
                "wait": {"Wait": {"WaitTime": {"WaitFor": "P1D"}, "NextActivity": "split"}},
                "split": {
                    "ConditionalSplit": {
                        "Condition": {
                            "Conditions": [
                                {
                                    "EventCondition": {
                                        "MessageActivity": "hello",
                                        "Dimensions": {
                                            "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.open"]}
                                        },
                                    }
                                }
                            ]
                        },
                        "EvaluationWaitTime": {"WaitFor": "PT1H"},
                        "TrueActivity": "thanks",
                        "FalseActivity": "nudge",
                    }
                },
                "thanks": {"EMAIL": {"TemplateName": template}},
                "nudge": {"EMAIL": {"TemplateName": template}},
            },
        },
    )["JourneyResponse"]["Id"]
    return {
        "id": app_id,
        "segment": segment_id,
        "template": template,
        "campaign": campaign_id,
        "journey": journey_id,
    }


@pytest.fixture(scope="module")
def admin(stack: Stack, browser: Any) -> Any:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)  # axe is injected; the CSP would refuse it
    context.set_default_timeout(15_000)
    page = context.new_page()
    email = new_email("phone")
    sign_in(page, f"{stack.url}/console", email, add_user(stack, email, "admin"))
    yield page
    context.close()


PAGES = [
    ("projects", "/projects"),
    ("templates", "/templates"),
    ("template-email", "/templates/EMAIL/{template}"),
    ("template-new-sms", "/templates/new/SMS"),
    ("template-new-inapp", "/templates/new/inapp"),
    ("endpoints-search", "/projects/{id}/endpoints?q=phone"),
    ("endpoint", "/projects/{id}/endpoints/phone-ep"),
    ("segments", "/projects/{id}/segments"),
    ("segment-builder", "/projects/{id}/segments/new"),
    ("segment", "/projects/{id}/segments/{segment}"),
    ("campaigns", "/projects/{id}/campaigns"),
    ("campaign", "/projects/{id}/campaigns/{campaign}"),
    ("campaign-wizard", "/projects/{id}/campaigns/new"),
    ("journeys", "/projects/{id}/journeys"),
    ("journey", "/projects/{id}/journeys/{journey}"),
    ("journey-editor", "/projects/{id}/journeys/{journey}/edit"),
    ("analytics-usage", "/projects/{id}/analytics/usage"),
    ("analytics-campaigns", "/projects/{id}/analytics/campaigns"),
    ("analytics-funnel", "/projects/{id}/analytics/funnel?step=view&step=buy"),
    ("settings", "/projects/{id}/settings"),
    ("settings-channels", "/projects/{id}/settings/channels"),
    ("settings-keys", "/projects/{id}/settings/keys"),
]


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[name for name, _ in PAGES])
def test_the_page_fits_a_phone_and_passes_axe(
    stack: Stack, admin: Any, project: dict[str, str], artefacts: Path, name: str, path: str
) -> None:
    response = admin.goto(f"{stack.url}/console{path.format(**project)}")
    admin.wait_for_load_state("networkidle")
    admin.screenshot(path=str(artefacts / f"phone-{name}.png"), full_page=True, caret="initial")
    assert response is not None and response.status == 200, (name, response and response.status)
    # Nothing pushes the page wider than the screen (which would make a person scroll sideways
    # to read every line).
    overflow = admin.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1"
        " && getComputedStyle(e).position !== 'fixed' && !e.closest('.table-wrap, .canvas-wrap, .journey-frame,"
        " .preview-canvas, .projectbar, .tabs, pre, .skip'))"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert admin.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"], overflow
    assert overflow == [], overflow
    assert violations(admin) == []
