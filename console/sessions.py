"""Who is signed in: the session cookie, the CSRF token, and what a role may do.

The cookie holds a random 256-bit token; PostgreSQL holds its SHA-256 with the user and the
session's CSRF token (store/console_users.py). A server-side row rather than a signed cookie
(itsdangerous) because it can be revoked: logout and a password reset end the session on every
gateway at once, a role or project change applies on the next request, and there is no signing
key to manage or rotate. It costs one indexed read per page, which a console can afford.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from api.context import Context
from store import console_users

COOKIE = "openpoint_console"
# Before sign-in there is no session to hold a CSRF token: the sign-in form's token is also set
# in this short-lived cookie, and the two must match (a double-submit token against login CSRF).
LOGIN_COOKIE = "openpoint_console_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600  # a working day; then sign in again
PATH = "/console"


@dataclass(frozen=True)
class ConsoleUser:
    id: int
    email: str
    role: str
    project_ids: frozenset[str] | None  # None: every project (admin)
    csrf_token: str

    def may_see(self, project_id: str) -> bool:
        return self.project_ids is None or project_id in self.project_ids

    @property
    def may_create_projects(self) -> bool:
        # As in Pinpoint's console, creating a project is an administrator's act.
        return self.role == "admin"

    @property
    def may_administer(self) -> bool:
        """A project's settings, channels, access keys and deletion: the administrator's
        (editors and viewers read settings and channels; only admins see access keys)."""
        return self.role == "admin"

    @property
    def may_edit(self) -> bool:
        """Segments, templates, campaigns, journeys of the projects the user may see."""
        return self.role in ("admin", "editor")


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def ctx_of(request: Request) -> Context:
    # The console is mounted as a sub-application: the gateway's state is on the parent app.
    ctx: Context = request.app.state.gateway.state.ctx
    return ctx


async def current_user(request: Request) -> ConsoleUser | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    async with ctx_of(request).engine.connect() as conn:
        row = await console_users.session_user(conn, token_hash(token))
    if row is None:
        return None
    ids = row["project_ids"]
    return ConsoleUser(
        id=row["id"],
        email=row["email"],
        role=row["role"],
        project_ids=None if ids is None else frozenset(ids),
        csrf_token=row["csrf_token"],
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def csrf_given(request: Request) -> str | None:
    """The token a change request carries: HTMX sends it as a header (from the page's meta tag),
    a plain form as a hidden field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="lax",
        # Secure whenever the browser came over HTTPS (directly or through a proxy uvicorn trusts).
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=PATH, httponly=True, samesite="lax")


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]
