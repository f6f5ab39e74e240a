"""The in-app template editor: CreateInAppTemplate's and UpdateInAppTemplate's own code
(api/templates.py) with the request decoded against botocore's model, so the console refuses
what the API refuses and shows the error by the field its member path names; every save is a new
version, and the versions are listed and made active as for the other types. The preview is the
message card drawn on the server (console/inapp_form.card): user text escaped, colours only when
they are hex (console/static/inapp.js applies them: the CSP allows no inline style)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.templates import FIELDS, create_tagged, set_active_version, template_content, template_request, update_template
from console import inapp_form as rules
from console.sessions import ConsoleUser, ctx_of
from console.views import Changer, NotAllowed, User, base_path, render
from openpoint.errors import NotFound, PinpointError
from rules.templates import MAX_IN_APP_ITEMS, check_name, parse_version
from store import templates as store

router = APIRouter()

TTYPE = "INAPP"
FIELD = FIELDS[TTYPE]


def _editor(user: ConsoleUser) -> None:
    if not user.may_edit:
        raise NotAllowed(f"Your role ({user.role}) may read templates but not change them; an editor can.")


async def _loaded(
    request: Request, name: str, version: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A version (by default the latest, which the next save follows) with the template's active
    and next version numbers, and its versions."""
    try:
        async with ctx_of(request).engine.connect() as conn:
            head = await store.head(conn, TTYPE, name)
            row = await store.get(conn, TTYPE, name, version or head["latest_existing"])
            versions = await store.version_page(conn, TTYPE, name, after=None, limit=100)
    except (NotFound, PinpointError):
        raise HTTPException(404) from None
    return {**row, "active_version": head["active_version"], "next_version": head["latest_version"] + 1}, versions


def _page(
    request: Request,
    user: ConsoleUser,
    values: dict[str, str],
    *,
    row: dict[str, Any] | None = None,
    versions: list[dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    draft, _ = rules.request_fields(values, with_tags=False)
    return render(
        request,
        "inapp_editor.html",
        status=status,
        user=user,
        active="/templates",
        values=values,
        items=rules.item_count(values),
        max_items=MAX_IN_APP_ITEMS,
        members=rules.ITEM_MEMBERS,
        layouts=rules.LAYOUT_LABELS,
        alignments=rules.ALIGNMENTS,
        actions=rules.ACTIONS,
        row=row,
        versions=versions or [],
        errors=errors or {},
        card=rules.card(draft),
    )


def _form_values(form: Any) -> dict[str, str]:
    return {k: str(v)[:20_000] for k, v in form.items() if k not in ("csrf_token", "op")}


@router.get("/templates/new/inapp")
async def new_template(request: Request, user: User) -> Response:
    _editor(user)
    return _page(request, user, {"Layout": "BOTTOM_BANNER", "c0.header.color": "#111111", "c0.body.color": "#333333"})


@router.post("/templates/new/inapp")
async def create(request: Request, user: Changer) -> Response:
    return await _save(request, user, None)


@router.post("/templates/inapp/preview")
async def preview(request: Request, user: Changer) -> Response:
    """The draft's message card (no saving; the checks run when it is saved)."""
    draft, _ = rules.request_fields(await request.form(), with_tags=False)
    return render(request, "_inapp_card.html", card=rules.card(draft))


@router.get("/templates/inapp/{name}")
async def template_page(request: Request, user: User, name: str, version: int | None = None) -> Response:
    row, versions = await _loaded(request, name[:128], version)
    values = {**rules.form_values(row["content"]), "name": row["name"]}
    return _page(request, user, values, row=row, versions=versions)


@router.post("/templates/inapp/{name}/active")
async def make_active(request: Request, user: Changer, name: str) -> Response:
    """UpdateTemplateActiveVersion's code: the version apps get from now on."""
    _editor(user)
    raw = str((await request.form()).get("version", ""))
    try:
        await set_active_version(ctx_of(request), TTYPE, name[:128], parse_version(raw, "Version"))
    except NotFound:
        raise HTTPException(404) from None
    return RedirectResponse(f"{base_path(request)}/templates/inapp/{quote(name[:128])}", status_code=303)


@router.post("/templates/inapp/{name}")
async def update(request: Request, user: Changer, name: str) -> Response:
    return await _save(request, user, name[:128])


async def _save(request: Request, user: ConsoleUser, name: str | None) -> Response:
    _editor(user)
    form = await request.form()
    values = _form_values(form)
    row, versions = await _loaded(request, name) if name else (None, [])
    op = str(form.get("op", ""))
    if op in ("add", "remove"):
        # Items are added and removed on the server, so the form works without JavaScript.
        count = rules.item_count(values) + (1 if op == "add" else -1)
        values["items"] = str(max(1, min(MAX_IN_APP_ITEMS, count)))
        return _page(request, user, values, row=row, versions=versions)
    target = name or values.get("name", "").strip()
    fields, errors = rules.request_fields(form, with_tags=name is None)
    if not errors:
        try:
            check_name(target)
            body = template_request(TTYPE, fields)
            if name is None:
                await create_tagged(ctx_of(request), TTYPE, target, body, FIELD)
            else:
                # Each save is a new version, as Pinpoint's console saves them; tags are
                # TagResource's (UpdateInAppTemplate ignores them).
                content = template_content(TTYPE, body, FIELD)
                await update_template(ctx_of(request), TTYPE, target, content, create_new_version=True, version=None)
        except PinpointError as err:
            if err.status >= 500:
                raise
            errors = {rules.field_of(err.message): err.message}
    if errors:
        return _page(request, user, {**values, "name": target}, row=row, versions=versions, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/templates/inapp/{quote(target)}?saved=1", status_code=303)
