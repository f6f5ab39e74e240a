"""MessagesPerSecond under the pipelined page sends: a slow rate gets pages small enough to pace
within the send activity's timeouts, and every member still gets its message once."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from sending import campaigns as campaign_sending
from tests.smtp_sink import SmtpServer
from tests.stack import Stack


def test_a_paced_campaign_walks_small_pages_and_sends_each_member_once(
    pinpoint: Any, stack: Stack, smtp: SmtpServer, audience: tuple[str, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 messages a second, pages of half a second's worth: 10 members a page, several pages in
    # one send activity, each handed over once the ones before it had their time.
    monkeypatch.setattr(campaign_sending, "PACED_PAGE_SECONDS", 0.5)
    app_id, segment_id, addresses = audience
    campaign = pinpoint.create_campaign(
        ApplicationId=app_id,
        WriteCampaignRequest={
            "Name": "paced",
            "SegmentId": segment_id,
            "Limits": {"MessagesPerSecond": 20},
            "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "ONCE"},
            "MessageConfiguration": {"EmailMessage": {"Title": "Hi", "HtmlBody": "<p>Hello</p>"}},
        },
    )["CampaignResponse"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = pinpoint.get_campaign(ApplicationId=app_id, CampaignId=campaign["Id"])["CampaignResponse"]["State"]
        if state["CampaignStatus"] == "COMPLETED":
            break
        time.sleep(0.2)
    assert state["CampaignStatus"] == "COMPLETED"

    received = Counter(a for a in addresses for _ in smtp.sink.to(a))
    expected = {a for i, a in enumerate(addresses) if i < 30 and i not in (3, 4)}
    assert set(received) == expected and set(received.values()) == {1}
    [activity] = pinpoint.get_campaign_activities(ApplicationId=app_id, CampaignId=campaign["Id"])[
        "ActivitiesResponse"
    ]["Item"]
    assert activity["TotalEndpointCount"] == 28 and activity["SuccessfulEndpointCount"] == 28
    assert activity["ExecutionMetrics"]["ENDPOINT_OPT_OUT"] == "2"
