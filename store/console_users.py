"""Console users, their sessions and failed sign-ins (migration 0012). Every statement the
console's sign-in needs; passwords arrive here already hashed (console/passwords.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from openpoint.errors import Conflict, NotFound

ROLES = ("admin", "editor", "viewer")

# A user with the projects they may see: NULL for an admin (every project).
_USER = """
    SELECT u.id, u.email, u.role, u.password_hash, u.created_at,
           CASE WHEN u.role = 'admin' THEN NULL
                ELSE coalesce((SELECT array_agg(p.app_id ORDER BY p.app_id) FROM console_user_projects p
                               WHERE p.user_id = u.id), '{}') END AS project_ids
    FROM console_users u
"""


async def count(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT count(*) FROM console_users"))).scalar_one())


async def create(
    conn: AsyncConnection, *, email: str, password_hash: str, role: str, project_ids: list[str]
) -> dict[str, Any]:
    """A new user; Conflict when the email is taken, NotFound for a project that does not exist.
    An admin's projects are not recorded: the role already covers every project."""
    missing = await _missing_projects(conn, project_ids)
    if missing:
        raise NotFound(f"there is no project {', '.join(missing)}")
    row = (
        await conn.execute(
            text(
                "INSERT INTO console_users (email, password_hash, role) VALUES (:e, :h, :r)"
                " ON CONFLICT (email) DO NOTHING RETURNING id"
            ),
            {"e": email, "h": password_hash, "r": role},
        )
    ).first()
    if row is None:
        raise Conflict(f"a console user {email} exists already")
    if role != "admin" and project_ids:
        await conn.execute(
            text(
                "INSERT INTO console_user_projects (user_id, app_id)"
                " SELECT :u, unnest(CAST(:a AS varchar[])) ON CONFLICT DO NOTHING"
            ),
            {"u": row.id, "a": sorted(set(project_ids))},
        )
    found = await by_email(conn, email)
    assert found is not None
    return found


async def _missing_projects(conn: AsyncConnection, project_ids: list[str]) -> list[str]:
    if not project_ids:
        return []
    rows = await conn.execute(
        text("SELECT a FROM unnest(CAST(:a AS varchar[])) a WHERE NOT EXISTS (SELECT 1 FROM apps WHERE id = a)"),
        {"a": sorted(set(project_ids))},
    )
    return [r[0] for r in rows]


async def by_email(conn: AsyncConnection, email: str) -> dict[str, Any] | None:
    row = (await conn.execute(text(_USER + " WHERE u.email = :e"), {"e": email})).mappings().first()
    return dict(row) if row is not None else None


async def all_users(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(text(_USER + " ORDER BY u.email"))).mappings()]


async def set_password(conn: AsyncConnection, *, email: str, password_hash: str) -> bool:
    """False when there is no such user. The user's sessions end: whoever knew the old password
    is signed out everywhere."""
    row = (
        await conn.execute(
            text(
                "UPDATE console_users SET password_hash = :h, password_changed_at = now() WHERE email = :e RETURNING id"
            ),
            {"e": email, "h": password_hash},
        )
    ).first()
    if row is None:
        return False
    await conn.execute(text("DELETE FROM console_sessions WHERE user_id = :u"), {"u": row.id})
    return True


async def rehash(conn: AsyncConnection, *, user_id: int, password_hash: str) -> None:
    """The same password under newer hashing parameters (no sessions end)."""
    await conn.execute(
        text("UPDATE console_users SET password_hash = :h WHERE id = :u"), {"u": user_id, "h": password_hash}
    )


# -- sessions -----------------------------------------------------------------------------------


async def open_session(
    conn: AsyncConnection, *, user_id: int, token_sha256: bytes, csrf_token: str, ttl_seconds: int
) -> None:
    # Expired sessions are dropped here, on sign-in, rather than by a job of their own.
    await conn.execute(text("DELETE FROM console_sessions WHERE expires_at < now()"))
    await conn.execute(
        text(
            "INSERT INTO console_sessions (token_sha256, user_id, csrf_token, expires_at)"
            " VALUES (:t, :u, :c, now() + make_interval(secs => :ttl))"
        ),
        {"t": token_sha256, "u": user_id, "c": csrf_token, "ttl": ttl_seconds},
    )


async def session_user(conn: AsyncConnection, token_sha256: bytes) -> dict[str, Any] | None:
    """The signed-in user of a live session, with the session's CSRF token; None when the session
    is unknown or expired."""
    row = (
        (
            await conn.execute(
                text(
                    "SELECT s.csrf_token, x.* FROM console_sessions s"
                    f" JOIN ({_USER}) x ON x.id = s.user_id"
                    " WHERE s.token_sha256 = :t AND s.expires_at > now()"
                ),
                {"t": token_sha256},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def close_session(conn: AsyncConnection, token_sha256: bytes) -> None:
    await conn.execute(text("DELETE FROM console_sessions WHERE token_sha256 = :t"), {"t": token_sha256})


# -- failed sign-ins ---------------------------------------------------------------------------


async def recent_failures(conn: AsyncConnection, *, email: str, client: str, window_seconds: int) -> int:
    return int(
        (
            await conn.execute(
                text(
                    "SELECT count(*) FROM console_signin_failures WHERE email = :e AND client = :c"
                    " AND at > now() - make_interval(secs => :w)"
                ),
                {"e": email, "c": client, "w": window_seconds},
            )
        ).scalar_one()
    )


async def record_failure(conn: AsyncConnection, *, email: str, client: str, window_seconds: int) -> None:
    # Rows older than the window count for nothing: dropped as new failures arrive.
    await conn.execute(
        text("DELETE FROM console_signin_failures WHERE at < now() - make_interval(secs => :w)"),
        {"w": window_seconds},
    )
    await conn.execute(
        text("INSERT INTO console_signin_failures (email, client) VALUES (:e, :c)"), {"e": email, "c": client}
    )


async def clear_failures(conn: AsyncConnection, *, email: str, client: str) -> None:
    await conn.execute(
        text("DELETE FROM console_signin_failures WHERE email = :e AND client = :c"), {"e": email, "c": client}
    )
