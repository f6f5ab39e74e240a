"""The console as a sub-application of the gateway, mounted at /console: same process, same
settings and database engine (the gateway's Context), its own HTML error pages and headers, and
no routes in the Pinpoint API's OpenAPI document."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.outages import outage_of
from console import (
    access_keys,
    analytics,
    campaign_wizard,
    campaigns,
    endpoints,
    inapp_templates,
    journey_editor,
    journey_tests,
    journeys,
    project_pages,
    project_settings,
    projects,
    segments,
    signin,
    template_pages,
    template_send,
)
from console import channels as settings_channels
from console.views import CsrfRefused, NotAllowed, SignInRequired, render

log = logging.getLogger("openpoint.console")

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"

# Pages are never cached (they carry the CSRF token and the user's data); scripts and styles come
# only from the console itself, and no other site may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def mount_console(gateway: FastAPI) -> None:
    gateway.mount(PREFIX, build_console(gateway), name="console")


def build_console(gateway: FastAPI) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway  # where the lifespan's Context lives (console.sessions.ctx_of)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        try:
            response: Response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - every failure is answered with a page
            # Caught here rather than by an `Exception` handler, which Starlette re-raises after
            # answering (the server would then log the error again and drop the connection).
            response = _failure_page(request, exc)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        target = f"{request.scope.get('root_path', '')}/signin"
        if request.headers.get("HX-Request"):
            # An expired session under an HTMX request: the whole page goes to the sign-in form.
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            status=403,
            title="Request refused",
            message="This request did not carry the console's security token, so nothing was changed."
            " Reload the page and try again.",
        )

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return render(request, "error.html", status=403, title="Not allowed", message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> Response:
        # A form field beyond its bounds (a 10 kB email): no browser using the forms sends one.
        return render(request, "error.html", status=400, title="Request refused", message="The form could not be read.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return render(request, "error.html", status=405, title="Not allowed", message="Method not allowed.")
        return render(request, "error.html", status=404, title="Not found", message="There is no such page.")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(signin.router)
    app.include_router(projects.router)
    app.include_router(segments.router)
    app.include_router(campaign_wizard.router)  # before campaigns': /campaigns/new is not a campaign's id
    app.include_router(campaigns.router)
    app.include_router(journey_editor.router)  # before console.journeys': /journeys/new is not a journey's id
    app.include_router(journeys.router)
    app.include_router(journey_tests.router)
    app.include_router(project_pages.router)
    app.include_router(analytics.router)
    app.include_router(endpoints.router)
    app.include_router(inapp_templates.router)  # before template_pages': /templates/inapp/... is its own editor
    app.include_router(template_pages.router)
    app.include_router(template_send.router)
    app.include_router(project_settings.router)
    app.include_router(settings_channels.router)
    app.include_router(access_keys.router)
    return app


def _failure_page(request: Request, exc: Exception) -> Response:
    """PostgreSQL or Temporal unavailable: a page saying to try again (503); anything else is a
    bug, logged, and answered without its details."""
    outage = outage_of(exc)
    if outage is not None:
        log.warning("%s %s: %s (%r)", request.method, request.url.path, outage.message, exc)
        message = f"{outage.what} is unavailable right now. Try again in a moment."
        return render(request, "error.html", status=503, title="Try again shortly", message=message)
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return render(
        request, "error.html", status=500, title="Something went wrong", message="An unexpected error occurred."
    )
