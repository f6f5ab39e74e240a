"""A project's Channels (Settings → Channels): each channel kind with its state, what is set and
its last change; enabling, disabling and editing one through UpdateXChannel's own code
(api/channels.py), the form decoded against botocore's model; and the project's own delivery
credentials (SMTP relay, Twilio account, Lambda keys) through the code `openpoint channels
credentials` uses (api/delivery_credentials.py).

Credentials never reach the browser: they are decrypted only on the server, to say which are
set and to resend a required one the form left empty; the forms' credential inputs are
write-only (empty keeps the stored value)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.channels import BY_TYPE, KINDS, ChannelKind, channel_request, channel_response, update_channel
from api.delivery_credentials import clear_credentials, credentials_set, store_credentials
from console.project_pages import project_for, project_of
from console.project_settings import FIELD_LIMIT, admin_only
from console.sessions import ConsoleUser, ctx_of
from console.settings_form import channel_fields, channel_fields_request, field_of
from console.views import Changer, User, base_path, render
from openpoint.errors import PinpointError
from rules.delivery_credentials import EXTRA_CREDENTIALS, SHOWN, CredentialsRefused
from store import channels as channels_store

router = APIRouter()

LABELS = {
    "EMAIL": "Email",
    "SMS": "SMS",
    "VOICE": "Voice",
    "GCM": "Firebase Cloud Messaging (GCM/FCM)",
    "APNS": "Apple push (APNs)",
    "APNS_SANDBOX": "Apple push, sandbox",
    "APNS_VOIP": "Apple VoIP push",
    "APNS_VOIP_SANDBOX": "Apple VoIP push, sandbox",
    "ADM": "Amazon Device Messaging (ADM)",
    "BAIDU": "Baidu Cloud Push",
    "CUSTOM": "Lambda functions",
}


def _kind(channel_type: str) -> ChannelKind:
    kind = BY_TYPE.get(channel_type.upper()[:32])
    if kind is None:
        raise HTTPException(404)
    return kind


async def _stored(request: Request, app_id: str, kind: ChannelKind) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The channel's row and its decrypted credentials (server side only)."""
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        row = await channels_store.get(conn, app_id, kind.channel_type)
        config = await channels_store.config(conn, ctx.vault, app_id, kind.channel_type)
    return row, (config.secrets if config else {})


def summary(kind: ChannelKind, row: dict[str, Any], secrets: dict[str, Any]) -> list[tuple[str, str]]:
    """What is set on a channel, for the list: settings by value, credentials as set / not set."""
    response = channel_response(kind, row)
    shown: list[tuple[str, str]] = []
    for f in channel_fields(kind.suffix, kind.secrets, kind.channel_type):
        if f.masked:
            shown.append((f.name, "set" if secrets.get(f.name) or response.get(f.name) else "not set"))
        elif response.get(f.name) not in (None, ""):
            shown.append((f.name, str(response[f.name])))
    return shown


@router.get("/projects/{app_id}/settings/channels")
async def channels_page(request: Request, user: User, app_id: str) -> Response:
    return await _channels_page(request, user, app_id)


async def _channels_page(
    request: Request, user: ConsoleUser, app_id: str, *, cred_error: tuple[str, str] = ("", ""), status: int = 200
) -> Response:
    project, projects = await project_of(request, user, app_id)
    ctx = ctx_of(request)
    async with ctx.engine.connect() as conn:
        rows = {r["channel_type"]: r for r in await channels_store.all_of(conn, app_id)}
        creds = await credentials_set(conn, ctx.vault, app_id)
        secrets = {
            k.channel_type: (c.secrets if c else {})
            for k in KINDS
            if k.channel_type in rows
            for c in [await channels_store.config(conn, ctx.vault, app_id, k.channel_type)]
        }
    listed = [
        {
            "kind": k,
            "label": LABELS[k.channel_type],
            "row": channel_response(k, rows[k.channel_type]) if k.channel_type in rows else None,
            "set": summary(k, rows[k.channel_type], secrets[k.channel_type]) if k.channel_type in rows else [],
        }
        for k in KINDS
    ]
    return render(
        request,
        "settings_channels.html",
        status=status,
        user=user,
        active="/settings",
        project=project,
        projects=projects,
        section="settings/channels",
        tab="channels",
        channels=listed,
        extra=EXTRA_CREDENTIALS,
        shown_names=SHOWN,
        creds=creds,
        has_row={t: t in rows for t in EXTRA_CREDENTIALS},
        labels=LABELS,
        cred_error=cred_error,
    )


@router.post("/projects/{app_id}/settings/channels/{channel_type}/enabled")
async def set_enabled(request: Request, user: Changer, app_id: str, channel_type: str) -> Response:
    """Enable or disable: the channel's current settings sent back with Enabled changed."""
    await project_for(request, user, app_id)
    admin_only(user, "change a project's channels")
    kind = _kind(channel_type)
    enabled = str((await request.form()).get("enabled", "")) == "true"
    row, secrets = await _stored(request, app_id, kind)
    stored = (row or {}).get("settings") or {}
    fields = channel_fields(kind.suffix, kind.secrets, kind.channel_type)
    try:
        body = channel_request(kind, channel_fields_request(fields, {}, stored, secrets, enabled=enabled))
        await update_channel(ctx_of(request), app_id, kind, body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        # Not set up enough to be enabled (Email without its address): its form says what is missing.
        return await _edit_page(request, user, app_id, kind, errors={"": err.message}, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/settings/channels", status_code=303)


async def _edit_page(
    request: Request,
    user: ConsoleUser,
    app_id: str,
    kind: ChannelKind,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    project = await project_for(request, user, app_id)
    row, secrets = await _stored(request, app_id, kind)
    response = channel_response(kind, row) if row else None
    fields = channel_fields(kind.suffix, kind.secrets, kind.channel_type)
    if form is None:
        # Settings as stored; credentials never (their inputs are write-only).
        form = {f.name: "" if f.masked else str((response or {}).get(f.name) or "") for f in fields}
        form["Enabled"] = "on" if response is None or response["Enabled"] else ""
    is_set = {f.name: bool(secrets.get(f.name) or (response or {}).get(f.name)) for f in fields if f.masked}
    return render(
        request,
        "settings_channel.html",
        status=status,
        user=user,
        active="/settings",
        project=project,
        projects=[],
        tab="channels",
        kind=kind,
        label=LABELS[kind.channel_type],
        channel=response,
        fields=fields,
        form=form,
        is_set=is_set,
        errors=errors or {},
    )


@router.get("/projects/{app_id}/settings/channels/{channel_type}")
async def edit_page(request: Request, user: User, app_id: str, channel_type: str) -> Response:
    return await _edit_page(request, user, app_id, _kind(channel_type))


@router.post("/projects/{app_id}/settings/channels/{channel_type}")
async def save_channel(request: Request, user: Changer, app_id: str, channel_type: str) -> Response:
    await project_for(request, user, app_id)
    admin_only(user, "change a project's channels")
    kind = _kind(channel_type)
    fields = channel_fields(kind.suffix, kind.secrets, kind.channel_type)
    raw = await request.form()
    form = {f.name: str(raw.get(f.name, ""))[: FIELD_LIMIT * 10] for f in fields}
    enabled = raw.get("Enabled") == "on"
    row, secrets = await _stored(request, app_id, kind)
    stored = (row or {}).get("settings") or {}
    try:
        body = channel_request(kind, channel_fields_request(fields, form, stored, secrets, enabled=enabled))
        await update_channel(ctx_of(request), app_id, kind, body)
    except PinpointError as err:
        if err.status >= 500:
            raise
        # The form comes back without what was typed into credential inputs.
        kept = {f.name: "" if f.masked else form[f.name] for f in fields} | {"Enabled": "on" if enabled else ""}
        errors = {field_of(err.message, [f.name for f in fields]): err.message}
        return await _edit_page(request, user, app_id, kind, form=kept, errors=errors, status=422)
    return RedirectResponse(f"{base_path(request)}/projects/{app_id}/settings/channels", status_code=303)


@router.post("/projects/{app_id}/settings/credentials/{channel_type}")
async def save_credentials(request: Request, user: Changer, app_id: str, channel_type: str) -> Response:
    """Set or replace (non-empty inputs) or clear (the Clear button) a channel's own delivery
    credentials: the code `openpoint channels credentials` runs."""
    await project_for(request, user, app_id)
    admin_only(user, "change a project's channels")
    channel = channel_type.upper()[:32]
    if channel not in EXTRA_CREDENTIALS:
        raise HTTPException(404)
    raw = await request.form()
    given = {n: str(raw.get(n, "")).strip()[:FIELD_LIMIT] for n in EXTRA_CREDENTIALS[channel]}
    given = {n: v for n, v in given.items() if v}
    ctx = ctx_of(request)
    try:
        async with ctx.engine.begin() as conn:
            if raw.get("action") == "clear":
                await clear_credentials(conn, ctx.vault, app_id, channel)
            elif given:
                await store_credentials(conn, ctx.vault, app_id, channel, given)
            else:
                raise CredentialsRefused("Fill in at least one field, or Clear to remove the stored ones.")
    except CredentialsRefused as err:
        return await _channels_page(request, user, app_id, cred_error=(channel, str(err)), status=422)
    return RedirectResponse(
        f"{base_path(request)}/projects/{app_id}/settings/channels#credentials-{channel.lower()}", status_code=303
    )
