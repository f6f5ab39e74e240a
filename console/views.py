"""What every page shares: the template environment, the navigation, and the dependencies that
require a signed-in user and a CSRF token on every change."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from console.sessions import ConsoleUser, csrf_given, csrf_matches, current_user

TEMPLATES = Path(__file__).parent / "templates"

# Autoescaped everywhere (nothing a user typed is rendered as markup) and strict, so that a
# misspelt variable is an error in the tests rather than an empty space on a page.
env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str  # under /console; a project's page: under /console/projects/{id}
    per_project: bool = False  # listed only on a project's pages (which know the project)


# Only pages that exist are listed; each new page adds its entry here (in Pinpoint's order:
# Projects, Endpoints, Segments, Templates, Campaigns, Journeys, Analytics).
NAV: list[NavItem] = [
    NavItem("Projects", "/projects"),
    NavItem("Endpoints", "/endpoints", per_project=True),
    NavItem("Segments", "/segments", per_project=True),
    NavItem("Campaigns", "/campaigns", per_project=True),
    NavItem("Journeys", "/journeys", per_project=True),
    NavItem("Templates", "/templates"),
    NavItem("Analytics", "/analytics", per_project=True),
    NavItem("Settings", "/settings", per_project=True),  # last, as in Pinpoint's console
]


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in form."""


class CsrfRefused(Exception):
    """A change without the session's CSRF token: refused, nothing written."""


class NotAllowed(Exception):
    """The user's role or projects do not allow this; the message says what."""


def base_path(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    user: ConsoleUser | None = None,
    active: str = "",
    **values: Any,
) -> HTMLResponse:
    html = env.get_template(template).render(
        base=base_path(request),
        user=user,
        nav=NAV if user is not None else [],
        active=active,
        project=values.pop("project", None),  # the project a per-project page is about
        csrf=user.csrf_token if user is not None else "",
        **values,
    )
    return HTMLResponse(html, status_code=status)


async def signed_in(request: Request) -> ConsoleUser:
    user = await current_user(request)
    if user is None:
        raise SignInRequired()
    return user


async def change_allowed(request: Request) -> ConsoleUser:
    """A signed-in user whose request carries the session's CSRF token (every POST, PUT, DELETE)."""
    user = await signed_in(request)
    if not csrf_matches(user.csrf_token, await csrf_given(request)):
        raise CsrfRefused()
    return user


User = Annotated[ConsoleUser, Depends(signed_in)]
Changer = Annotated[ConsoleUser, Depends(change_allowed)]
