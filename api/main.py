"""The gateway application: lifespan, error mapping, and the routers of each Pinpoint area."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from analytics.clickhouse_feed import Feeder, FeedSettings
from api.context import Context
from api.operations import new_request_id, not_implemented_router
from api.outages import outage_of
from api.routes import ROUTERS
from console.app import mount_console
from openpoint.errors import InternalServerError, MethodNotAllowed, NotFound, PinpointError
from openpoint.settings import Settings, get_settings
from openpoint.vault import vault_from
from store import clickhouse
from store.access_keys import KeyStore
from store.db import DbTimeouts, make_engine

log = logging.getLogger("openpoint.api")


def error_response(request: Request, err: PinpointError) -> Response:
    request_id = getattr(request.state, "request_id", None) or new_request_id()
    return Response(
        content=orjson.dumps({"Message": err.message, "RequestID": request_id}),
        status_code=err.status,
        media_type="application/json",
        headers={"X-Amzn-ErrorType": err.code, "x-amzn-RequestId": request_id},
    )


async def start_clickhouse(ctx: Context) -> asyncio.Task[None]:
    """The ClickHouse analytics backend: its tables, and the feeder copying the event feed into
    them, in this process (chDB's directory is this process's; analytics/clickhouse_feed.py)."""
    settings = ctx.settings
    ctx.clickhouse = clickhouse.connect(settings.analytics_url, settings.analytics_retention_days)
    await ctx.clickhouse.setup()
    feeder = Feeder(
        ctx.engine,
        ctx.clickhouse,
        FeedSettings(keep_days=settings.analytics_retention_days, poll_seconds=settings.analytics_rollup_poll_seconds),
    )
    return asyncio.create_task(feeder.run())


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url, pool_size=settings.db_pool_size, timeouts=DbTimeouts.for_gateway(settings)
        )
        vault = vault_from(settings)
        ctx = Context(settings=settings, engine=engine, vault=vault, keys=KeyStore(engine, vault))
        feeder = await start_clickhouse(ctx) if settings.analytics_url else None
        app.state.ctx = ctx
        try:
            yield
        finally:
            if feeder is not None:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
            if ctx.clickhouse is not None:
                await ctx.clickhouse.close()
            await engine.dispose()

    app = FastAPI(
        title="OpenPoint",
        summary="Amazon Pinpoint's REST API (2016-12-01), self-hosted.",
        description=(
            "Every operation is signed with AWS Signature Version 4 (service `mobiletargeting`,"
            " any region) using an OpenPoint key pair. Bodies are the bare payload structures of"
            " botocore's `pinpoint` model."
        ),
        version="2016-12-01",
        lifespan=lifespan,
    )

    @app.exception_handler(PinpointError)
    async def pinpoint_error(request: Request, exc: PinpointError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return error_response(request, MethodNotAllowed("The method is not allowed for this resource."))
        return error_response(request, NotFound(f"No Pinpoint operation matches {request.url.path}."))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # PostgreSQL or Temporal unavailable: a retryable 503 (see openpoint.errors.Unavailable),
        # whatever handler met it. Everything else is a bug, answered as one.
        outage = outage_of(exc)
        if outage is not None:
            log.warning("%s %s: %s (%r)", request.method, request.url.path, outage.message, exc)
            return error_response(request, outage)
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return error_response(request, InternalServerError("Internal server error."))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(not_implemented_router())
    mount_console(app)  # the web console: same process and settings, HTML pages under /console
    return app
