"""Endpoint reads and the one write path every endpoint-changing operation goes through."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import APP_NOT_FOUND, BadRequest, NotFound
from rules.endpoints import MAX_ENDPOINTS_PER_USER, PUSH_CHANNELS, merge_endpoint
from store.driver import columns_of, driver, unnest_insert
from store.tables import Endpoint

endpoints = Endpoint.__table__  # type: ignore[attr-defined]
COLUMNS = [c.name for c in endpoints.columns]
_TYPES = {
    "cohort_id": "int4",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "last_active_at": "timestamptz",
    "attributes": "jsonb",
    "user_attributes": "jsonb",
    "metrics": "jsonb",
    "demographic": "jsonb",
    "location": "jsonb",
}
_TYPED = [(c, _TYPES.get(c, "text")) for c in COLUMNS]
_UPSERT = (
    unnest_insert("endpoints", _TYPED)
    + " ON CONFLICT (app_id, id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in ("app_id", "id", "created_at"))
)
_LOCK = "SELECT * FROM endpoints WHERE app_id = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE"
# PutEvents: the project's removed attributes and its endpoints' rows, locked in id order, in one
# round trip (one row of NULL endpoint columns when none exists yet; none when the project does not).
_APP_AND_LOCK = (
    "SELECT a.removed_attributes AS app_removed_attributes, e.* FROM apps a LEFT JOIN LATERAL"
    " (SELECT * FROM endpoints WHERE app_id = a.id AND id = ANY($2::text[]) ORDER BY id FOR UPDATE) e ON true"
    " WHERE a.id = $1"
)
# Array parameters rather than IN lists: one plan whatever the batch size, and a thousand-item
# IN list made the planner fall back to scanning the whole table.
_USER_LOCKS = "SELECT count(pg_advisory_xact_lock(hashtext($1 || '/' || u))) FROM unnest($2::text[]) AS u"
_USER_OTHERS = (
    "SELECT * FROM endpoints WHERE app_id = $1 AND user_id = ANY($2::text[]) AND NOT (id = ANY($3::text[]))"
    " ORDER BY updated_at DESC FOR UPDATE"
)
# The address rule and the upsert in one statement (one round trip, not two: under 16 concurrent
# PutEvents each round trip waits its turn for a core). The CTE's rows are other endpoints than
# the upsert's (`NOT id = ANY` the written ids), so no row is changed twice by the statement.
_N = len(_TYPED)
_UPSERT_DEDUPED = (
    "WITH deactivated AS (UPDATE endpoints SET endpoint_status = 'INACTIVE', updated_at = now()"
    f" WHERE app_id = ${_N + 1} AND address = ANY(${_N + 2}::text[]) AND NOT (id = ANY(${_N + 3}::text[]))"
    " AND endpoint_status = 'ACTIVE' RETURNING 1) " + _UPSERT
)


async def get(conn: AsyncConnection, app_id: str, endpoint_id: str) -> dict[str, Any] | None:
    stmt = select(endpoints).where(endpoints.c.app_id == app_id, endpoints.c.id == endpoint_id)
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def get_many(conn: AsyncConnection, app_id: str, endpoint_ids: Sequence[str]) -> list[dict[str, Any]]:
    stmt = select(endpoints).where(endpoints.c.app_id == app_id, endpoints.c.id.in_(list(endpoint_ids)))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def of_user(conn: AsyncConnection, app_id: str, user_id: str, *, lock: bool = False) -> list[dict[str, Any]]:
    stmt = (
        select(endpoints)
        .where(endpoints.c.app_id == app_id, endpoints.c.user_id == user_id)
        .order_by(endpoints.c.created_at, endpoints.c.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def delete_ids(conn: AsyncConnection, app_id: str, ids: Sequence[str]) -> None:
    await conn.execute(delete(endpoints).where(endpoints.c.app_id == app_id, endpoints.c.id.in_(ids)))


class EndpointWriteError(BadRequest):
    def __init__(self, endpoint_id: str, message: str) -> None:
        super().__init__(message)
        self.endpoint_id = endpoint_id


async def upsert(
    conn: AsyncConnection,
    app_id: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    *,
    now: datetime,
    removed: dict[str, list[str]],
    strict: bool = True,
) -> dict[str, str]:
    """Apply endpoint requests `(endpoint_id, EndpointRequest)` in order, in one transaction.

    Enforces the user rules (at most 15 endpoints per user; user attributes shared by all of a
    user's endpoints) and the address rule (another endpoint with the same address becomes
    INACTIVE). With `strict`, the first violation raises and the caller's transaction writes
    nothing; otherwise violating items are left out and returned as {endpoint_id: message}.
    """
    ids = sorted({eid for eid, _ in items})
    pg = await driver(conn)
    before = {r["id"]: dict(r) for r in await pg.fetch(_LOCK, app_id, ids)} if ids else {}
    return await _write(conn, app_id, items, before, now=now, removed=removed, strict=strict)


async def upsert_in_app(
    conn: AsyncConnection, app_id: str, items: Sequence[tuple[str, dict[str, Any]]], *, now: datetime, strict: bool
) -> dict[str, str]:
    """`upsert` with the project's removed attributes read in the round trip that locks the
    endpoints (PutEvents' path); NotFound when the project does not exist."""
    found = await (await driver(conn)).fetch(_APP_AND_LOCK, app_id, sorted({eid for eid, _ in items}))
    if not found:
        raise NotFound(APP_NOT_FOUND)
    removed = found[0]["app_removed_attributes"]
    before = {r["id"]: {c: r[c] for c in COLUMNS} for r in found if r["id"] is not None}
    return await _write(conn, app_id, items, before, now=now, removed=removed, strict=strict)


async def _write(
    conn: AsyncConnection,
    app_id: str,
    items: Sequence[tuple[str, dict[str, Any]]],
    before: dict[str, dict[str, Any]],
    *,
    now: datetime,
    removed: dict[str, list[str]],
    strict: bool,
) -> dict[str, str]:
    pg = await driver(conn)
    rows: dict[str, dict[str, Any]] = {}
    user_updates: dict[str, dict[str, Any]] = {}  # user -> UserAttributes named in this batch
    for eid, req in items:
        current = rows.get(eid) or before.get(eid)
        rows[eid] = merge_endpoint(current, req, app_id=app_id, endpoint_id=eid, now=now, removed=removed)
        user = rows[eid]["user_id"]
        if user is not None and "UserAttributes" in req.get("User", {}):
            names = req["User"]["UserAttributes"]
            user_updates.setdefault(user, {}).update(
                {k: v for k, v in rows[eid]["user_attributes"].items() if k in names}
            )

    errors: dict[str, str] = {}
    users = sorted({r["user_id"] for r in rows.values() if r["user_id"] is not None})
    if users:
        errors = await _apply_user_rules(conn, app_id, rows, before, users, user_updates, strict=strict)
        for eid in errors:
            rows.pop(eid)

    addresses = _deactivate_same_address(rows, list(items))
    if addresses:
        await pg.execute(_UPSERT_DEDUPED, *columns_of(list(rows.values()), _TYPED), app_id, addresses, list(rows))
    elif rows:
        await pg.execute(_UPSERT, *columns_of(list(rows.values()), _TYPED))
    return errors


async def _apply_user_rules(
    conn: AsyncConnection,
    app_id: str,
    rows: dict[str, dict[str, Any]],
    before: dict[str, dict[str, Any]],
    users: list[str],
    user_updates: dict[str, dict[str, Any]],
    *,
    strict: bool,
) -> dict[str, str]:
    # Serialise writers of the same user so two requests cannot both take the 15th place. One
    # round trip for all of them (an import writes a thousand users per batch); `users` is
    # sorted, so every writer takes the locks in the same order.
    pg = await driver(conn)
    await pg.execute(_USER_LOCKS, app_id, users)
    others: dict[str, list[dict[str, Any]]] = {}
    for found in await pg.fetch(_USER_OTHERS, app_id, users, list(rows)):
        others.setdefault(found["user_id"], []).append(dict(found))
    by_user: dict[str, list[dict[str, Any]]] = {}
    for r in rows.values():
        if r["user_id"] is not None:
            by_user.setdefault(r["user_id"], []).append(r)

    errors: dict[str, str] = {}
    deactivated: list[str] = []
    for user in users:
        members = others.get(user, [])
        mine = by_user.get(user, [])
        joining = [r["id"] for r in mine if (before.get(r["id"]) or {}).get("user_id") != user]
        staying = len(mine) - len(joining)
        count = len(members) + staying
        for eid in joining:
            if count < MAX_ENDPOINTS_PER_USER:
                count += 1
                continue
            # A push endpoint may displace the user's oldest push endpoint; nothing else may.
            victims = sorted(
                (m for m in members if m["channel_type"] in PUSH_CHANNELS and m["id"] not in deactivated),
                key=lambda m: m["effective_date"] or "",
            )
            if rows[eid]["channel_type"] in PUSH_CHANNELS and victims:
                deactivated.append(victims[0]["id"])
                members.remove(victims[0])
                continue
            message = f"User {user} already has {MAX_ENDPOINTS_PER_USER} endpoints; endpoint {eid} cannot be added."
            if strict:
                raise EndpointWriteError(eid, message)
            errors[eid] = message

        # User attributes are the user's: every endpoint of the user carries the same set. The
        # user's current set comes from an endpoint outside this batch or, when every endpoint
        # of the user is in it (a user with one endpoint), from one already the user's before
        # it; starting from nothing then wiped the set on any write that did not restate it.
        shared = dict(members[0]["user_attributes"]) if members else _current_user_attributes(mine, before, user)
        for r in mine:
            if (before.get(r["id"]) or {}).get("user_id") != user:
                shared = {**shared, **{k: v for k, v in r["user_attributes"].items() if k not in shared}}
        shared.update(user_updates.get(user, {}))
        for r in mine:
            r["user_attributes"] = shared
        if members and (user in user_updates or shared != members[0]["user_attributes"]):
            await conn.execute(
                update(endpoints)
                .where(endpoints.c.app_id == app_id, endpoints.c.id.in_([m["id"] for m in members]))
                .values(user_attributes=shared)
            )
    if deactivated:
        await conn.execute(
            update(endpoints)
            .where(endpoints.c.app_id == app_id, endpoints.c.id.in_(deactivated))
            .values(endpoint_status="INACTIVE", user_id=None, updated_at=func.now())
        )
    return errors


def _current_user_attributes(
    mine: list[dict[str, Any]], before: dict[str, dict[str, Any]], user: str
) -> dict[str, Any]:
    for r in mine:
        prior = before.get(r["id"])
        if prior is not None and prior["user_id"] == user:
            return dict(prior["user_attributes"] or {})
    return {}


def _deactivate_same_address(rows: dict[str, dict[str, Any]], items: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The endpoint written last with an address keeps it; others of the batch with that address
    go INACTIVE here, and the addresses returned are those whose endpoints outside the batch the
    upsert statement makes INACTIVE."""
    owner: dict[str, str] = {}
    for eid, req in items:
        if eid in rows and "Address" in req and rows[eid]["address"]:
            owner[rows[eid]["address"]] = eid
    for eid, r in rows.items():
        if r["address"] in owner and owner[r["address"]] != eid:
            r["endpoint_status"] = "INACTIVE"
    return list(owner)
