"""TagResource, UntagResource, ListTagsForResource: one mechanism for every taggable kind.

Each resource kind registers how to tell whether an ARN names something that exists; the tags
themselves live in one table keyed by ARN.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.operations import Call, pinpoint
from openpoint.errors import Forbidden, NotFound
from rules.tags import check_tags
from store import apps as apps_store
from store import tags as store
from wire import arns

router = APIRouter(tags=["tags"])

Exists = Callable[[AsyncConnection, arns.Arn], Awaitable[bool]]


async def _app_exists(conn: AsyncConnection, arn: arns.Arn) -> bool:
    return arn.app_id is not None and await apps_store.exists(conn, arn.app_id)


TAGGABLE: dict[str, Exists] = {"apps": _app_exists}


async def _resolve(call: Call, conn: AsyncConnection) -> tuple[str, arns.Arn]:
    raw = call.labels["ResourceArn"]
    arn = arns.parse(raw)
    if arn.app_id is not None and not call.principal.may_touch(arn.app_id):
        raise Forbidden(f"The access key {call.principal.access_key_id} may not access project {arn.app_id}.")
    exists = TAGGABLE.get(arn.kind)
    if exists is None or not await exists(conn, arn):
        raise NotFound(f"Resource {raw} was not found.")
    # Store under the canonical form so that any region/account spelling finds the same tags.
    return arn.render(call.ctx.settings), arn


@pinpoint(router, "TagResource")
async def tag_resource(call: Call) -> None:
    added = call.body["tags"]
    check_tags(added, "TagsModel.tags")
    async with call.ctx.engine.begin() as conn:
        key, arn = await _resolve(call, conn)
        merged = store.merged(await store.get(conn, key), added)
        check_tags(merged, "TagsModel.tags")
        await store.put(conn, key, arn.app_id, merged)


@pinpoint(router, "UntagResource")
async def untag_resource(call: Call) -> None:
    keys = set(call.query.get("TagKeys", []))
    async with call.ctx.engine.begin() as conn:
        key, arn = await _resolve(call, conn)
        current = await store.get(conn, key)
        await store.put(conn, key, arn.app_id, {k: v for k, v in current.items() if k not in keys})


@pinpoint(router, "ListTagsForResource")
async def list_tags(call: Call) -> dict[str, Any]:
    async with call.ctx.engine.connect() as conn:
        key, _ = await _resolve(call, conn)
        return {"tags": await store.get(conn, key)}
