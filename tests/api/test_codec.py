"""Validation against botocore's model shapes."""

from __future__ import annotations

from typing import Any

import pytest

from openpoint.errors import BadRequest
from wire.codec import iso, validate
from wire.model import operation, operations, shape


def test_every_operation_has_a_route_and_status() -> None:
    ops = operations()
    assert len(ops) >= 120
    assert operation("CreateApp").status == 201 and operation("TagResource").status == 204
    assert operation("UntagResource").query["tagKeys"][0] == "TagKeys"
    assert operation("RemoveAttributes").fastapi_path == "/v1/apps/{application_id}/attributes/{attribute_type}"
    assert operation("TagResource").fastapi_path == "/v1/tags/{resource_arn:path}"


def test_valid_payload_passes_and_nulls_drop() -> None:
    value = {"Address": "a", "Attributes": {"k": ["v"]}, "Metrics": {"m": 1}, "Location": None, "Unknown": 1}
    assert validate(value, shape("EndpointRequest"), "EndpointRequest") == {
        "Address": "a",
        "Attributes": {"k": ["v"]},
        "Metrics": {"m": 1.0},
    }


@pytest.mark.parametrize(
    "value, where",
    [
        ({"ChannelType": "PIGEON"}, "EndpointRequest.ChannelType"),
        ({"Attributes": {"k": "v"}}, "EndpointRequest.Attributes.k"),
        ({"Attributes": {"k": [1]}}, "EndpointRequest.Attributes.k[0]"),
        ({"Metrics": {"m": True}}, "EndpointRequest.Metrics.m"),
        ({"Location": {"Latitude": "north"}}, "EndpointRequest.Location.Latitude"),
        ({"User": []}, "EndpointRequest.User"),
    ],
)
def test_errors_name_the_member(value: dict[str, Any], where: str) -> None:
    with pytest.raises(BadRequest) as exc:
        validate(value, shape("EndpointRequest"), "EndpointRequest")
    assert where in exc.value.message


def test_required_members() -> None:
    with pytest.raises(BadRequest, match=r"EventsRequest.BatchItem.e1.Events.x.Timestamp"):
        validate(
            {"BatchItem": {"e1": {"Endpoint": {}, "Events": {"x": {"EventType": "a"}}}}},
            shape("EventsRequest"),
            "EventsRequest",
        )


def test_iso_is_millisecond_utc() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    dt = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(dt) == "2026-05-01T10:00:00.123Z"
    assert iso(datetime(2026, 5, 1, tzinfo=UTC)) == "2026-05-01T00:00:00.000Z"
