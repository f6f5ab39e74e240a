"""Fixtures the API tests share."""

from __future__ import annotations

import secrets
from typing import Any

import pytest


@pytest.fixture
def audience(pinpoint: Any, app_id: str) -> tuple[str, str, list[str]]:
    """An email project with 40 endpoints of which 30 are in segment "gold" (2 of those opted out)."""
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    items: list[dict[str, Any]] = []
    for i in range(40):
        items.append(
            {
                "Id": f"e{i:02d}",
                "Address": f"c{i:02d}-{tag}@example.com",
                "ChannelType": "EMAIL",
                "Attributes": {"Plan": ["gold" if i < 30 else "free"], "Name": [f"N{i}"]},
                "OptOut": "ALL" if i in (3, 4) else "NONE",
            }
        )
    pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    seg = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "gold",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    return app_id, seg, [it["Address"] for it in items]
