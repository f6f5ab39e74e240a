"""A project for the Journeys pages' browser tests (tests/console/test_journeys.py): an email
channel, endpoints with addresses, segments and templates made with boto3, and journeys on them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any


class Audience:
    """A project with an email channel, endpoints e0..e2 (e0, e1 gold), a gold segment and templates."""

    def __init__(self, pinpoint: Any) -> None:
        self.pinpoint = pinpoint
        app = pinpoint.create_app(CreateApplicationRequest={"Name": f"Journeys {secrets.token_hex(3)}"})
        self.app_id: str = app["ApplicationResponse"]["Id"]
        pinpoint.update_email_channel(
            ApplicationId=self.app_id,
            EmailChannelRequest={"FromAddress": "trips@example.com", "Identity": "example.com"},
        )
        tag = secrets.token_hex(3)
        self.addresses = {f"e{i}": f"e{i}-{tag}@example.com" for i in range(3)}
        items = [
            {"Id": e, "Address": a, "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold" if e != "e2" else "free"]}}
            for e, a in self.addresses.items()
        ]
        pinpoint.update_endpoints_batch(ApplicationId=self.app_id, EndpointBatchRequest={"Item": items})
        self.everyone = self.segment("everyone", ["gold", "free"])
        self.gold = self.segment("gold", ["gold"])
        self.hello, self.gold_news, self.bye = (self.template(s) for s in ("Hello", "Gold news", "Goodbye"))

    def segment(self, name: str, plans: list[str]) -> str:
        return str(
            self.pinpoint.create_segment(
                ApplicationId=self.app_id,
                WriteSegmentRequest={
                    "Name": name,
                    "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": plans}}},
                },
            )["SegmentResponse"]["Id"]
        )

    def template(self, subject: str) -> str:
        name = f"t{secrets.token_hex(5)}"
        self.pinpoint.create_email_template(
            TemplateName=name, EmailTemplateRequest={"Subject": subject, "HtmlPart": f"<p>{subject}</p>"}
        )
        return name

    def journey(self, name: str, activities: dict[str, Any], start: str, **members: Any) -> str:
        request = {
            "Name": name,
            "StartActivity": start,
            "StartCondition": {"SegmentStartCondition": {"SegmentId": self.everyone}},
            "Activities": activities,
            "State": "ACTIVE",
            **members,
        }
        created = self.pinpoint.create_journey(ApplicationId=self.app_id, WriteJourneyRequest=request)
        return str(created["JourneyResponse"]["Id"])

    def split_journey(self, name: str, **members: Any) -> str:
        """hello → a yes/no split on the gold segment → gold news (yes) or goodbye (no)."""
        return self.journey(
            name,
            {
                "hello": {"Description": "Say hello", "EMAIL": {"TemplateName": self.hello, "NextActivity": "check"}},
                "check": {
                    "Description": "Gold member?",
                    "ConditionalSplit": {
                        "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": self.gold}}]},
                        "TrueActivity": "gold",
                        "FalseActivity": "bye",
                    },
                },
                "gold": {"EMAIL": {"TemplateName": self.gold_news}},
                "bye": {"EMAIL": {"TemplateName": self.bye}},
            },
            "hello",
            **members,
        )

    def state(self, journey_id: str) -> str:
        found = self.pinpoint.get_journey(ApplicationId=self.app_id, JourneyId=journey_id)["JourneyResponse"]
        return str(found["State"])

    def metrics(self, journey_id: str) -> dict[str, str]:
        found = self.pinpoint.get_journey_execution_metrics(ApplicationId=self.app_id, JourneyId=journey_id)
        return dict(found["JourneyExecutionMetricsResponse"]["Metrics"])


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g}s"
        time.sleep(0.3)
    return found
