"""Sending a template to test it, from its page: SendMessages' own code (api/messages.py) with a
MessageRequest decoded against botocore's model — the template's configuration (its name and
the version shown) and an address typed by the user or an endpoint of the project chosen to send
from. The result per recipient is what SendMessages answers. Each render of the form carries an
idempotency key that names the direct send's workflow, so a form submitted twice sends once.

Also the endpoint field of the preview and the test send: a select of the project's endpoints
when it has few, else a text field (the preview and SendMessages check the id)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from api.messages import message_request, send_messages
from api.operations import new_request_id
from console.project_pages import project_for
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, render
from openpoint.errors import PinpointError
from rules.templates import parse_version
from store import apps as apps_store
from store import console_templates

router = APIRouter()

FEW_ENDPOINTS = 50  # up to this many, the endpoint is picked from a list
PROJECTS_LIMIT = 500  # as the Projects page lists
FIELD_LIMIT = 256  # longer than any address, token or endpoint id a form sends
KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class SendType:
    member: str  # the TemplateConfiguration member that names the template
    address_label: str
    channels: tuple[str, ...]  # the ChannelType of a typed address (push: the platform chosen)


# The types SendMessages sends (in-app messages are fetched by the app, not sent).
SEND_TYPES = {
    "EMAIL": SendType("EmailTemplate", "Email address", ("EMAIL",)),
    "SMS": SendType("SMSTemplate", "Phone number", ("SMS",)),
    "VOICE": SendType("VoiceTemplate", "Phone number", ("VOICE",)),
    "PUSH": SendType("PushTemplate", "Device token", ("GCM", "APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX")),
}
RESULT_MEMBERS = ("DeliveryStatus", "StatusCode", "StatusMessage", "MessageId")


def new_key() -> str:
    return secrets.token_hex(16)


def message_fields(ttype: str, name: str, version: int, *, address: str, channel: str, endpoint: str) -> dict[str, Any]:
    """The MessageRequest a test send stands for: the template at `version`, to the typed address
    on `channel` and / or to the endpoint; the template's DefaultSubstitutions fill in for an
    address, as for any raw address SendMessages sends to."""
    fields: dict[str, Any] = {
        "MessageConfiguration": {},
        "TemplateConfiguration": {SEND_TYPES[ttype].member: {"Name": name, "Version": str(version)}},
    }
    if address:
        fields["Addresses"] = {address: {"ChannelType": channel}}
    if endpoint:
        fields["Endpoints"] = {endpoint: {}}
    return fields


def result_rows(response: dict[str, Any]) -> list[dict[str, Any]]:
    """SendMessages' per-recipient results as rows: addresses, then endpoints (with the address
    the endpoint had)."""
    rows = [{"recipient": a, "endpoint": False, **r} for a, r in (response.get("Result") or {}).items()]
    rows += [{"recipient": e, "endpoint": True, **r} for e, r in (response.get("EndpointResult") or {}).items()]
    return [{k: row.get(k) for k in ("recipient", "endpoint", "Address", *RESULT_MEMBERS)} for row in rows]


def field_of(message: str) -> str:
    """The test-send field an API error is about, by the member path it names."""
    if ".Addresses" in message:
        return "address"
    if ".Endpoints" in message:
        return "endpoint"
    return "form"


async def projects_of(request: Request, user: ConsoleUser) -> list[dict[str, Any]]:
    """The projects the user may see (id, name), by name: the ones to send from or preview with."""
    async with ctx_of(request).engine.connect() as conn:
        rows = await apps_store.page(conn, after=None, limit=PROJECTS_LIMIT, only=user.project_ids, newest_first=True)
    return sorted(({"id": r["id"], "name": r["name"]} for r in rows), key=lambda p: (p["name"].lower(), p["id"]))


async def endpoint_choices(request: Request, app_id: str) -> list[dict[str, Any]] | None:
    """The project's endpoints (id, channel) to pick from, or None when it has too many to list
    (the field is then typed)."""
    if not app_id:
        return None
    async with ctx_of(request).engine.connect() as conn:
        rows = await console_templates.first_endpoints(conn, app_id, FEW_ENDPOINTS + 1)
    return rows if len(rows) <= FEW_ENDPOINTS else None


async def send_form(request: Request, user: ConsoleUser, ttype: str, version: int) -> dict[str, Any] | None:
    """The test-send form of a template page: for editors and the types SendMessages sends; the
    project preselected when the user has one."""
    if not user.may_edit or ttype not in SEND_TYPES:
        return None
    projects = await projects_of(request, user)
    project = projects[0]["id"] if len(projects) == 1 else ""
    return {
        "type": SEND_TYPES[ttype],
        "key": new_key(),
        "version": version,
        "projects": projects,
        "values": {"project": project},
        "choices": await endpoint_choices(request, project),
        "errors": {},
        "result": None,
    }


@router.get("/templates/endpoint-field")
async def endpoint_field(request: Request, user: User, project: str = "", form: str = "preview") -> Response:
    """The endpoint field for the project just chosen (the preview's or the test send's)."""
    prefix = "send" if form == "send" else "preview"
    choices = None
    if project:
        await project_for(request, user, project)
        choices = await endpoint_choices(request, project[:64])
    return render(request, "endpoint_field.html", prefix=prefix, choices=choices, value="", error="")


@router.post("/templates/{ttype}/{name}/test-send")
async def test_send(request: Request, user: Changer, ttype: str, name: str) -> Response:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read templates but not send them; an editor can.")
    kind = ttype.upper()
    if kind not in SEND_TYPES:
        raise HTTPException(404)
    form = await request.form()
    values = {k: str(form.get(k, ""))[:FIELD_LIMIT].strip() for k in ("project", "address", "channel", "endpoint")}
    key, raw_version = str(form.get("key", "")), str(form.get("version", ""))[:16]
    errors: dict[str, str] = {}
    result: list[dict[str, Any]] | None = None
    if not KEY.fullmatch(key):
        errors["form"] = "This form is out of date: reload the page to send a test."
        key = new_key()
    try:
        version = parse_version(raw_version, "version")
    except PinpointError as err:
        errors["form"], version = err.message, 1
    channels = SEND_TYPES[kind].channels
    channel = values["channel"] if len(channels) > 1 else channels[0]
    if values["project"]:
        await project_for(request, user, values["project"])  # 403 for a project the user was not given
    else:
        errors["project"] = "Choose the project to send from."
    if channel not in channels:
        errors["channel"] = "Choose the platform of the device token."
    if not values["address"] and not values["endpoint"]:
        errors["address"] = f"Type {SEND_TYPES[kind].address_label.lower()}, or choose an endpoint."
    if not errors:
        try:
            fields = message_fields(
                kind, name[:128], version, address=values["address"], channel=channel, endpoint=values["endpoint"]
            )
            response = await send_messages(
                ctx_of(request),
                values["project"],
                message_request(fields),
                request_id=new_request_id(),
                scope=f"test-{key}",
            )
            result = result_rows(response)
        except PinpointError as err:
            if err.status >= 500:
                raise
            errors[field_of(err.message)] = err.message
    send = {
        "type": SEND_TYPES[kind],
        "key": key,
        "version": version,
        "projects": await projects_of(request, user),
        "values": values,
        "choices": await endpoint_choices(request, values["project"]),
        "errors": errors,
        "result": result,
    }
    page = "_template_send.html" if request.headers.get("HX-Request") else "template_send.html"
    status = 422 if errors else 200
    return render(request, page, status=status, user=user, active="/templates", ttype=kind, name=name[:128], send=send)
