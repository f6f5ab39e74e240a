"""The Templates pages (account-wide, as Pinpoint's and OpenPoint's templates are): the list, an
editor per type whose saves go through CreateXTemplate's and UpdateXTemplate's own code
(api/templates.py) so the console refuses what the API refuses, the versions, and a preview
rendered by the same sandboxed renderer the sends use (templating.render) for an endpoint of a
project the user may see, or with the template's DefaultSubstitutions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.templates import (
    FIELDS,
    create_tagged,
    set_active_version,
    template_content,
    template_request,
    update_template,
)
from console.project_pages import project_for
from console.sessions import ConsoleUser, ctx_of
from console.template_send import endpoint_choices, projects_of, send_form
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from rules.endpoints import endpoint_response
from rules.templates import check_name, parse_substitutions, parse_version
from store import endpoints as endpoints_store
from store import templates as store
from templating.render import render as render_text
from templating.render import variables
from wire.codec import iso

router = APIRouter()

LIST_LIMIT = 500  # templates listed; an account holds few (Pinpoint's quota is 10,000)


@dataclass(frozen=True)
class Field:
    name: str  # the request member; dotted for push's Default.Title
    label: str
    multiline: bool = False
    html: bool = False  # rendered with escaping and previewed in the sandboxed frame


# The members each editor offers (Pinpoint's console offers the same for each type).
EDITORS: dict[str, list[Field]] = {
    "EMAIL": [
        Field("Subject", "Subject"),
        Field("HtmlPart", "HTML part", True, True),
        Field("TextPart", "Text part", True),
    ],
    "SMS": [Field("Body", "Body", True)],
    "PUSH": [Field("Default.Title", "Title"), Field("Default.Body", "Body", True), Field("Default.Url", "Action URL")],
    "VOICE": [Field("Body", "Body", True), Field("VoiceId", "Voice id"), Field("LanguageCode", "Language code")],
}
COMMON = [
    Field("TemplateDescription", "Description"),
    Field("DefaultSubstitutions", "Default substitutions (JSON)", True),
]


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read templates but not change them; an editor can.")


def _type(raw: str) -> str:
    ttype = raw.upper()
    if ttype not in EDITORS:
        raise HTTPException(404)
    return ttype


def _get(content: dict[str, Any], name: str) -> str:
    node: Any = content
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""


def _body(ttype: str, form: Any) -> dict[str, Any]:
    """The request body the form stands for; empty fields are left out, as boto3 leaves them."""
    body: dict[str, Any] = {}
    for f in EDITORS[ttype] + COMMON:
        value = str(form.get(f.name, "")).replace("\r\n", "\n")
        if not value:
            continue
        node = body
        *parents, leaf = f.name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return body


def _field_of(message: str, ttype: str) -> str:
    """The form field an API error is about (its member path), else the name field."""
    for f in EDITORS[ttype] + COMMON:
        if re.search(rf"\.{re.escape(f.name)}\b", message):
            return f.name
    return "name" if "template-name" in message or "templates" in message else "form"


async def _loaded(
    request: Request, ttype: str, name: str, version: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A version (by default the latest, which the next save follows, not the active one) with
    the template's active and next version numbers, and its versions."""
    try:
        async with ctx_of(request).engine.connect() as conn:
            head = await store.head(conn, ttype, name)
            row = await store.get(conn, ttype, name, version or head["latest_existing"])
            versions = await store.version_page(conn, ttype, name, after=None, limit=100)
    except (NotFound, PinpointError):
        raise HTTPException(404) from None
    return {**row, "active_version": head["active_version"], "next_version": head["latest_version"] + 1}, versions


@router.get("/templates")
async def template_list(request: Request, user: User, saved: str = "") -> Response:
    async with ctx_of(request).engine.connect() as conn:
        rows = await store.page(conn, prefix=None, template_type=None, after=None, limit=LIST_LIMIT)
        counts = {
            (r["template_type"], r["name"]): (await store.head(conn, r["template_type"], r["name"]))["version_count"]
            for r in rows
        }
    rows.sort(key=lambda r: r["updated_at"], reverse=True)
    return render(
        request,
        "templates.html",
        user=user,
        active="/templates",
        templates=rows,
        counts=counts,
        saved=saved[:128],
        types=[*EDITORS, "INAPP"],  # in-app templates have their own editor (console/inapp_templates.py)
    )


async def _page(
    request: Request,
    user: ConsoleUser,
    ttype: str,
    values: dict[str, str],
    *,
    row: dict[str, Any] | None = None,
    versions: list[dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    sources = [values.get(f.name, "") for f in EDITORS[ttype]]
    projects = await projects_of(request, user) if user.may_edit else []
    # The preview starts on the user's project when there is one; else the default substitutions.
    preview_project = projects[0]["id"] if len(projects) == 1 else ""
    # A saved template's page offers the test send (of the version shown).
    send = await send_form(request, user, ttype, row["version"]) if row else None
    return render(
        request,
        "template_editor.html",
        status=status,
        user=user,
        active="/templates",
        ttype=ttype,
        fields=EDITORS[ttype],
        common=COMMON,
        values=values,
        row=row,
        versions=versions or [],
        errors=errors or {},
        names=sorted({n for s in sources for n in _names(s)}),
        projects=projects,
        preview_project=preview_project,
        preview_choices=await endpoint_choices(request, preview_project),
        send=send,
    )


# A variable in a Handlebars tag: {{User.UserAttributes.FirstName}}, {{{x}}}, {{#if x}}; helpers'
# names and keywords are not variables.
VARIABLE = re.compile(r"\{\{\{?[#^/]?\s*(?:[a-z]+\s+)?([A-Z][\w]*(?:\.[\w]+)*)")


def _names(source: str) -> list[str]:
    return VARIABLE.findall(source)


@router.get("/templates/new/{ttype}")
async def new_template(request: Request, user: User, ttype: str) -> Response:
    _editor(user)
    return await _page(request, user, _type(ttype), {})


@router.post("/templates/new/{ttype}")
async def create(request: Request, user: Changer, ttype: str) -> Response:
    return await _save(request, user, _type(ttype), None)


@router.post("/templates/{ttype}/preview")
async def preview(request: Request, user: Changer, ttype: str) -> Response:
    """The draft rendered for an endpoint (of a project the user may see) or with its
    DefaultSubstitutions alone; an HTML part goes into a sandboxed frame by the template."""
    kind = _type(ttype)
    form = await request.form()
    endpoint: dict[str, Any] = {}
    note = ""
    app_id, endpoint_id = str(form.get("project", ""))[:64], str(form.get("endpoint", ""))[:64]
    try:
        defaults = parse_substitutions(str(form.get("DefaultSubstitutions", "")) or None, "DefaultSubstitutions")
    except PinpointError as err:
        defaults, note = {}, err.message
    if app_id and endpoint_id:
        await project_for(request, user, app_id)
        async with ctx_of(request).engine.connect() as conn:
            row = await endpoints_store.get(conn, app_id, endpoint_id)
        if row is None:
            note = f"No endpoint {endpoint_id} in that project: shown with the default substitutions."
        else:
            endpoint = endpoint_response(row, iso)
    ctx = variables(endpoint, defaults=defaults)
    parts = [
        (f, render_text(str(form.get(f.name, "")).replace("\r\n", "\n"), ctx, html=f.html) or "") for f in EDITORS[kind]
    ]
    return render(request, "template_preview.html", parts=parts, note=note, endpoint=endpoint_id if endpoint else "")


@router.get("/templates/{ttype}/{name}")
async def template_page(request: Request, user: User, ttype: str, name: str, version: int | None = None) -> Response:
    kind = _type(ttype)
    row, versions = await _loaded(request, kind, name[:128], version)
    values = {f.name: _get(row["content"], f.name) for f in EDITORS[kind] + COMMON}
    return await _page(request, user, kind, {**values, "name": row["name"]}, row=row, versions=versions)


@router.post("/templates/{ttype}/{name}/active")
async def make_active(request: Request, user: Changer, ttype: str, name: str) -> Response:
    """UpdateTemplateActiveVersion's code: the version sends use from now on."""
    _editor(user)
    kind = _type(ttype)
    raw = str((await request.form()).get("version", ""))
    try:
        await set_active_version(ctx_of(request), kind, name[:128], parse_version(raw, "Version"))
    except NotFound:
        raise HTTPException(404) from None
    return RedirectResponse(f"{base_path(request)}/templates/{kind.lower()}/{quote(name[:128])}", status_code=303)


@router.post("/templates/{ttype}/{name}")
async def update(request: Request, user: Changer, ttype: str, name: str) -> Response:
    return await _save(request, user, _type(ttype), name[:128])


async def _save(request: Request, user: ConsoleUser, ttype: str, name: str | None) -> Response:
    _editor(user)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    target = name or values.get("name", "").strip()
    try:
        check_name(target)
        # Decoded against botocore's model first, as the route's body is.
        body = template_request(ttype, _body(ttype, form))
        if name is None:
            await create_tagged(ctx_of(request), ttype, target, body, FIELDS[ttype])
        else:
            content = template_content(ttype, body, FIELDS[ttype])
            # Each save is a new version, as Pinpoint's console saves them.
            await update_template(ctx_of(request), ttype, target, content, create_new_version=True, version=None)
    except PinpointError as err:
        if err.status >= 500:
            raise
        row, versions = await _loaded(request, ttype, name) if name else (None, [])
        errors = {_field_of(err.message, ttype): err.message}
        values = {**values, "name": target}
        return await _page(request, user, ttype, values, row=row, versions=versions, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/templates/{ttype.lower()}/{quote(target)}?saved=1", status_code=303)
