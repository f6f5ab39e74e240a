"""Sign-in, sign-out, and the limit on failed sign-ins.

Failed attempts are counted per email and client address in PostgreSQL, so that the limit holds
across gateway processes and restarts: after FAILURE_LIMIT failures within the window, further
attempts are answered 429 without checking the password (a right password included) until the
oldest failure leaves the window.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from console import passwords
from console.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    SESSION_SECONDS,
    clear_cookie,
    client_address,
    csrf_matches,
    ctx_of,
    current_user,
    new_token,
    set_cookie,
    token_hash,
)
from console.views import Changer, base_path, render
from store import console_users

router = APIRouter()

FAILURE_LIMIT = 5
FAILURE_WINDOW_SECONDS = 15 * 60
LOGIN_COOKIE_SECONDS = 3600


def _form(request: Request, *, status: int = 200, email: str = "", error: str = "") -> Response:
    """The sign-in form with a fresh double-submit token (cookie and hidden field)."""
    token = new_token()
    response = render(request, "signin.html", status=status, email=email, error=error, login_token=token)
    set_cookie(request, response, LOGIN_COOKIE, token, LOGIN_COOKIE_SECONDS)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse(f"{base_path(request)}/projects", status_code=303)


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(f"{base_path(request)}/projects", status_code=303)
    return _form(request)


@router.post("/signin")
async def signin(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not csrf_matches(request.cookies.get(LOGIN_COOKIE, ""), login_token):
        return _form(request, status=403, email=email, error="The sign-in form expired. Please try again.")
    address = passwords.normal_email(email) or email.strip().lower()[:320]
    client = client_address(request)
    engine = ctx_of(request).engine
    async with engine.begin() as conn:
        failures = await console_users.recent_failures(
            conn, email=address, client=client, window_seconds=FAILURE_WINDOW_SECONDS
        )
        if failures >= FAILURE_LIMIT:
            return _form(
                request,
                status=429,
                email=email,
                error=f"Too many failed sign-ins for this email. Wait {FAILURE_WINDOW_SECONDS // 60} minutes"
                " and try again, or ask an administrator to reset your password.",
            )
        user = await console_users.by_email(conn, address)
    # Verified outside the transaction: argon2 takes a noticeable moment on purpose.
    ok = passwords.verify(user["password_hash"] if user else None, password)
    if not ok or user is None:
        async with engine.begin() as conn:
            await console_users.record_failure(
                conn, email=address, client=client, window_seconds=FAILURE_WINDOW_SECONDS
            )
        return _form(request, status=401, email=email, error="The email or password is not right.")
    token, csrf = new_token(), new_token()
    async with engine.begin() as conn:
        await console_users.clear_failures(conn, email=address, client=client)
        if passwords.needs_rehash(user["password_hash"]):
            await console_users.rehash(conn, user_id=user["id"], password_hash=passwords.hash_password(password))
        await console_users.open_session(
            conn, user_id=user["id"], token_sha256=token_hash(token), csrf_token=csrf, ttl_seconds=SESSION_SECONDS
        )
    response = RedirectResponse(f"{base_path(request)}/projects", status_code=303)
    set_cookie(request, response, COOKIE, token, SESSION_SECONDS)
    clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/signout")
async def signout(request: Request, user: Changer) -> Response:
    token = request.cookies.get(COOKIE, "")
    async with ctx_of(request).engine.begin() as conn:
        await console_users.close_session(conn, token_hash(token))
    target = f"{base_path(request)}/signin"
    response: Response = RedirectResponse(target, status_code=303)
    if request.headers.get("HX-Request"):
        response = Response(status_code=204, headers={"HX-Redirect": target})
    clear_cookie(response, COOKIE)
    return response
