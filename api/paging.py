"""`page-size` and `token` / `next-token`: keyset paging with opaque tokens."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openpoint.errors import BadRequest
from store import apps as apps_store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(raw: Any, wire: str = "page-size") -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid value for {wire}: '{raw}' is not a whole number.") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"Invalid value for {wire}: must be between 1 and {MAX_PAGE_SIZE}.")
    return size


def encode_token(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_token(raw: str | None, wire: str = "token") -> list[Any] | None:
    if not raw:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadRequest(f"Invalid value for {wire}: the token is not one this server issued.") from None
    if not isinstance(key, list):
        raise BadRequest(f"Invalid value for {wire}: the token is not one this server issued.")
    return key


def created_after(raw: str | None, wire: str = "token") -> tuple[datetime, str] | None:
    """The keyset position a list token stands for: (creation time, id) of the last item seen."""
    key = decode_token(raw, wire)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), str(key[1])
    except (IndexError, ValueError):
        raise BadRequest(f"Invalid value for {wire}: the token is not one this server issued.") from None


def next_created_token(rows: list[dict[str, Any]], limit: int) -> str | None:
    """A token for the page after `rows` (fetched with limit + 1), or None on the last page."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_token([last["created_at"].isoformat(), last["id"]])


def version_from(raw: str | None) -> int | None:
    """The version a `...Versions` page token points at (None: the first page)."""
    token = decode_token(raw)
    try:
        return int(token[0]) if token else None
    except (IndexError, TypeError, ValueError):
        raise BadRequest("Invalid value for token: the token is not one this server issued.") from None


def next_version_token(rows: list[dict[str, Any]], limit: int) -> str | None:
    """The token of the page after `rows` (fetched with limit + 1), keyed on the last version."""
    return encode_token([rows[limit - 1]["version"]]) if len(rows) > limit else None


PageOf = Callable[[AsyncConnection, tuple[datetime, str] | None, int], Awaitable[list[dict[str, Any]]]]
Respond = Callable[[AsyncConnection, dict[str, Any]], Awaitable[dict[str, Any]]]


async def project_list(
    engine: AsyncEngine, app_id: str, query: dict[str, Any], fetch: PageOf, respond: Respond
) -> dict[str, Any]:
    """A project's resources oldest first, one token-paged page ({"Item", "NextToken"}): the
    shape of GetSegments, GetCampaigns, ListJourneys. `fetch(conn, after, limit)` reads rows in
    (created_at, id) order; `respond` turns one into its response."""
    limit = page_size(query.get("PageSize"))
    after = created_after(query.get("Token"))
    async with engine.connect() as conn:
        await apps_store.get(conn, app_id)  # NotFound for an unknown project, even with no items
        rows = await fetch(conn, after, limit + 1)
        items = [await respond(conn, r) for r in rows[:limit]]
    return {"Item": items, "NextToken": next_created_token(rows, limit)}
