"""`openpoint users create | reset | list`: the console's users, and the development admin that
`make run` creates once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from console import passwords
from openpoint.errors import PinpointError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# The roles as store.console_users.ROLES has them; spelt out so that building the `openpoint`
# command's parser imports no database code.
ROLES = ("admin", "editor", "viewer")

DEV_ADMIN_EMAIL = "admin@openpoint.localhost"


class UsersError(Exception):
    """Printed without a traceback; the command exits 1."""


def add_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="manage the console's users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a console user and print a generated password")
    create.add_argument("email")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--project", action="append", default=[], help="a project an editor or viewer may see (repeatable)"
    )
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset = users_sub.add_parser("reset", help="give a user a new password (printed) and end their sessions")
    reset.add_argument("email")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users_sub.add_parser("list", help="list the console's users")


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated (and so is printed)."""
    if not from_stdin:
        return passwords.generate(), True
    password = sys.stdin.readline().rstrip("\r\n")
    problem = passwords.check_new(password)
    if problem:
        raise UsersError(problem)
    return password, False


def _email(raw: str) -> str:
    email = passwords.normal_email(raw)
    if email is None:
        raise UsersError(f"{raw!r} is not an email address")
    return email


async def _with_engine(url: str, work: Any) -> Any:
    from sqlalchemy.exc import ProgrammingError

    from store.db import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        return await work(engine)
    except ProgrammingError as e:
        if "console_" in str(e) and "does not exist" in str(e):
            problem = "this database has no console tables yet: run `openpoint migrate` (or `make run`)"
            raise UsersError(problem) from None
        raise
    finally:
        await engine.dispose()


def run(args: argparse.Namespace, url: str) -> int:
    try:
        if args.users_command == "create":
            return _create(args, url)
        if args.users_command == "reset":
            return _reset(args, url)
        return _list(url)
    except UsersError as e:
        print(f"openpoint users {args.users_command}: {e}", file=sys.stderr)
        return 1


def _create(args: argparse.Namespace, url: str) -> int:
    from store import console_users

    email = _email(args.email)
    if args.role == "admin" and args.project:
        raise UsersError("an admin sees every project: --project is for editors and viewers")
    password, generated = _password(args.password_stdin)
    hashed = passwords.hash_password(password)

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await console_users.create(
                conn, email=email, password_hash=hashed, role=args.role, project_ids=list(args.project)
            )

    try:
        asyncio.run(_with_engine(url, work))
    except PinpointError as e:  # the email is taken, a project does not exist
        raise UsersError(e.message) from None
    print(f"created {args.role} {email}")
    if generated:
        print(f"password: {password}")
    return 0


def _reset(args: argparse.Namespace, url: str) -> int:
    from store import console_users

    email = _email(args.email)
    password, generated = _password(args.password_stdin)
    hashed = passwords.hash_password(password)

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as conn:
            return await console_users.set_password(conn, email=email, password_hash=hashed)

    if not asyncio.run(_with_engine(url, work)):
        raise UsersError(f"there is no console user {email}")
    print(f"new password for {email}; their sessions have ended")
    if generated:
        print(f"password: {password}")
    return 0


def _list(url: str) -> int:
    from store import console_users

    async def work(engine: AsyncEngine) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            return await console_users.all_users(conn)

    rows = asyncio.run(_with_engine(url, work))
    if not rows:
        print("no console users yet: `openpoint users create EMAIL --role admin`")
        return 0
    width = max(len(r["email"]) for r in rows)
    print(f"{'EMAIL':<{width}}  {'ROLE':<6}  {'CREATED':<16}  PROJECTS")
    for r in rows:
        projects = "(all)" if r["project_ids"] is None else ", ".join(r["project_ids"]) or "(none)"
        print(f"{r['email']:<{width}}  {r['role']:<6}  {r['created_at']:%Y-%m-%d %H:%M}  {projects}")
    return 0


async def ensure_dev_admin(database_url: str) -> tuple[str, str] | None:
    """`make run`: when the console has no user at all, an admin with a generated password,
    returned once to be printed; None when users exist (their passwords are not known)."""
    from store import console_users

    password = passwords.generate()

    async def work(engine: AsyncEngine) -> bool:
        async with engine.begin() as conn:
            if await console_users.count(conn):
                return False
            await console_users.create(
                conn,
                email=DEV_ADMIN_EMAIL,
                password_hash=passwords.hash_password(password),
                role="admin",
                project_ids=[],
            )
            return True

    created: bool = await _with_engine(database_url, work)
    return (DEV_ADMIN_EMAIL, password) if created else None
