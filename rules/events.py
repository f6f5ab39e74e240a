"""PutEvents item rules: what makes one event invalid (it gets StatusCode 400, the rest go in)."""

from __future__ import annotations

from typing import Any

from rules.instants import read_bounded

MAX_EVENTS_PER_REQUEST = 100
MAX_KEYS_PER_EVENT = 40
MAX_KEY_LENGTH = 50
MAX_ATTRIBUTE_VALUE = 200
MAX_EVENT_TYPE = 50


def event_problem(event: dict[str, Any]) -> str | None:
    """Why Pinpoint would refuse this event, or None when it is accepted."""
    event_type = event.get("EventType", "")
    if not event_type or len(event_type) > MAX_EVENT_TYPE:
        return f"EventType must be 1 to {MAX_EVENT_TYPE} characters."
    # Out of rules/bounds' range is refused item by item: day arithmetic on year 1 or 9999 overflows.
    if read_bounded(event.get("Timestamp", "")) is None:
        return "Timestamp must be an ISO-8601 date-time from 1970 up to 3000."
    attributes = event.get("Attributes", {})
    metrics = event.get("Metrics", {})
    if len(attributes) + len(metrics) > MAX_KEYS_PER_EVENT:
        return f"An event has at most {MAX_KEYS_PER_EVENT} attribute and metric keys."
    for key in (*attributes, *metrics):
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            return f"Attribute and metric keys are 1 to {MAX_KEY_LENGTH} characters."
    for key, value in attributes.items():
        if len(value) > MAX_ATTRIBUTE_VALUE:
            return f"Attribute {key} is longer than {MAX_ATTRIBUTE_VALUE} characters."
    session = event.get("Session")
    if session is not None:
        if read_bounded(session["StartTimestamp"]) is None:
            return "Session.StartTimestamp must be an ISO-8601 date-time from 1970 up to 3000."
        stop = session.get("StopTimestamp")
        if stop is not None and read_bounded(stop) is None:
            return "Session.StopTimestamp must be an ISO-8601 date-time from 1970 up to 3000."
    return None


_CLIENT_MEMBERS = ("AppPackageName", "AppTitle", "AppVersionCode", "ClientSdkVersion", "SdkName")


def event_row(app_id: str, endpoint_id: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    session = event.get("Session")
    return {
        "app_id": app_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event["EventType"],
        "event_time": read_bounded(event["Timestamp"]),
        "session_id": session["Id"] if session else None,
        "attributes": event.get("Attributes", {}),
        "metrics": event.get("Metrics", {}),
        "client": {k: event[k] for k in _CLIENT_MEMBERS if k in event},
    }


def session_row(app_id: str, endpoint_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
    session = event.get("Session")
    if session is None:
        return None
    return {
        "app_id": app_id,
        "id": session["Id"],
        "endpoint_id": endpoint_id,
        "start_time": read_bounded(session["StartTimestamp"]),
        "stop_time": read_bounded(session["StopTimestamp"]) if session.get("StopTimestamp") else None,
        "duration_ms": session.get("Duration"),
    }
