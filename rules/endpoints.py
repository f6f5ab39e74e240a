"""Endpoint write rules: validation of an endpoint request and Pinpoint's merge semantics.

Rows are plain dicts keyed by the `endpoints` column names, so the same function serves
UpdateEndpoint, UpdateEndpointsBatch and PutEvents.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from openpoint.errors import BadRequest

MAX_ATTRIBUTE_NAME = 50
MAX_ATTRIBUTE_VALUE = 100
MAX_VALUES_PER_ATTRIBUTE = 50
MAX_ATTRIBUTE_NAMES = 250  # across Attributes, Metrics and UserAttributes
MAX_ENDPOINT_BYTES = 15 * 1024
MAX_ENDPOINTS_PER_USER = 15

PUSH_CHANNELS = frozenset({"ADM", "GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "BAIDU"})
ENDPOINT_STATUSES = ("ACTIVE", "INACTIVE")
OPT_OUTS = ("ALL", "NONE")

REMOVABLE = {
    "attributes": "endpoint-custom-attributes",
    "metrics": "endpoint-metric-attributes",
    "user_attributes": "endpoint-user-attributes",
}


def cohort_of(endpoint_id: str) -> int:
    """A stable cohort 0-99: the same endpoint id always lands in the same cohort, so holdouts
    and treatments are reproducible across runs and servers."""
    return int.from_bytes(hashlib.sha256(endpoint_id.encode()).digest()[:8], "big") % 100


def _check_attribute_map(values: dict[str, list[str]], field: str) -> None:
    for name, items in values.items():
        if not 1 <= len(name) <= MAX_ATTRIBUTE_NAME:
            raise BadRequest(
                f"Invalid value for {field}: attribute names are 1 to {MAX_ATTRIBUTE_NAME} characters ('{name[:60]}')."
            )
        if len(items) > MAX_VALUES_PER_ATTRIBUTE:
            raise BadRequest(f"Invalid value for {field}.{name}: at most {MAX_VALUES_PER_ATTRIBUTE} values.")
        for v in items:
            if len(v) > MAX_ATTRIBUTE_VALUE:
                raise BadRequest(
                    f"Invalid value for {field}.{name}: values are at most {MAX_ATTRIBUTE_VALUE} characters."
                )


def check_endpoint_request(req: dict[str, Any], field: str) -> None:
    """Limits the model cannot express. `req` has already been type-checked against it."""
    if "EndpointStatus" in req and req["EndpointStatus"] not in ENDPOINT_STATUSES:
        raise BadRequest(f"Invalid value for {field}.EndpointStatus: must be ACTIVE or INACTIVE.")
    if "OptOut" in req and req["OptOut"] not in OPT_OUTS:
        raise BadRequest(f"Invalid value for {field}.OptOut: must be ALL or NONE.")
    _check_attribute_map(req.get("Attributes", {}), f"{field}.Attributes")
    user = req.get("User", {})
    _check_attribute_map(user.get("UserAttributes", {}), f"{field}.User.UserAttributes")
    for name in req.get("Metrics", {}):
        if not 1 <= len(name) <= MAX_ATTRIBUTE_NAME:
            raise BadRequest(
                f"Invalid value for {field}.Metrics: metric names are 1 to {MAX_ATTRIBUTE_NAME} characters."
            )
    names = len(req.get("Attributes", {})) + len(req.get("Metrics", {})) + len(user.get("UserAttributes", {}))
    if names > MAX_ATTRIBUTE_NAMES:
        raise BadRequest(f"Invalid value for {field}: at most {MAX_ATTRIBUTE_NAMES} attribute and metric names.")
    loc = req.get("Location", {})
    lat, lon = loc.get("Latitude"), loc.get("Longitude")
    if lat is not None and not -90 <= lat <= 90:
        raise BadRequest(f"Invalid value for {field}.Location.Latitude: must be between -90 and 90.")
    if lon is not None and not -180 <= lon <= 180:
        raise BadRequest(f"Invalid value for {field}.Location.Longitude: must be between -180 and 180.")
    if len(orjson.dumps(req)) > MAX_ENDPOINT_BYTES:
        raise BadRequest(f"Invalid value for {field}: an endpoint is at most 15 KB.")


def _kept(update: dict[str, Any], removed: list[str]) -> dict[str, Any]:
    return {k: v for k, v in update.items() if k not in removed} if removed else update


def merge_endpoint(
    existing: dict[str, Any] | None,
    req: dict[str, Any],
    *,
    app_id: str,
    endpoint_id: str,
    now: datetime,
    removed: dict[str, list[str]],
) -> dict[str, Any]:
    """The row after applying `req` to `existing` (None when the endpoint is new).

    A partial update changes only what it names: each attribute, metric or user-attribute name
    in the request replaces that name's value list; demographic and location members merge
    one by one. Any write makes the endpoint ACTIVE unless the request says otherwise.
    """
    row: dict[str, Any] = (
        dict(existing)
        if existing
        else {
            "app_id": app_id,
            "id": endpoint_id,
            "address": None,
            "channel_type": None,
            "opt_out": "NONE",
            "user_id": None,
            "cohort_id": cohort_of(endpoint_id),
            "request_id": None,
            "effective_date": None,
            "attributes": {},
            "user_attributes": {},
            "metrics": {},
            "demographic": {},
            "location": {},
            "created_at": now,
        }
    )
    for member, column in (
        ("Address", "address"),
        ("ChannelType", "channel_type"),
        ("OptOut", "opt_out"),
        ("RequestId", "request_id"),
    ):
        if member in req:
            row[column] = req[member]
    row["endpoint_status"] = req.get("EndpointStatus", "ACTIVE")
    row["effective_date"] = req.get("EffectiveDate") or now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for member, column in (("Attributes", "attributes"), ("Metrics", "metrics")):
        if member in req:
            row[column] = {**row[column], **_kept(req[member], removed.get(REMOVABLE[column], []))}
    user = req.get("User")
    if user is not None:
        if "UserId" in user:
            row["user_id"] = user["UserId"] or None
        if "UserAttributes" in user:
            update = _kept(user["UserAttributes"], removed.get(REMOVABLE["user_attributes"], []))
            row["user_attributes"] = {**row["user_attributes"], **update}
    if "Demographic" in req:
        row["demographic"] = {**row["demographic"], **req["Demographic"]}
    if "Location" in req:
        loc = dict(req["Location"])
        for coord in ("Latitude", "Longitude"):
            if coord in loc:
                loc[coord] = round(loc[coord], 1)  # Pinpoint keeps one decimal place
        row["location"] = {**row["location"], **loc}
    row["updated_at"] = now
    row["last_active_at"] = now
    return row


def stamped(request: dict[str, Any], request_id: str) -> dict[str, Any]:
    """The endpoint write with the RequestId that GetEndpoint shows: "the most recent request to
    update the endpoint" (the model's words), in Pinpoint's examples an id of the service's own.
    A client that names one keeps it (the Amplify libraries send a uuid of theirs: the member is
    in the request for that); otherwise it is the id the write was answered with (RequestID and
    x-amzn-RequestId), so an endpoint can be traced to the request that last changed it."""
    return request if request.get("RequestId") else {**request, "RequestId": request_id}


def endpoint_response(row: dict[str, Any], iso: Any) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if row["user_id"] is not None:
        user["UserId"] = row["user_id"]
    if row["user_attributes"]:
        user["UserAttributes"] = row["user_attributes"]
    return {
        "Address": row["address"],
        "ApplicationId": row["app_id"],
        "Attributes": row["attributes"] or None,
        "ChannelType": row["channel_type"],
        "CohortId": str(row["cohort_id"]),
        "CreationDate": iso(row["created_at"]),
        "Demographic": row["demographic"] or None,
        "EffectiveDate": row["effective_date"],
        "EndpointStatus": row["endpoint_status"],
        "Id": row["id"],
        "Location": row["location"] or None,
        "Metrics": row["metrics"] or None,
        "OptOut": row["opt_out"],
        "RequestId": row["request_id"],
        "User": user or None,
    }
