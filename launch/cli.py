"""`openpoint api | worker | migrate | dev | keys create | list | revoke | channels credentials | streams credentials |
webhook-secret`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpoint.settings import Settings, get_settings
from rules.delivery_credentials import EXTRA_CREDENTIALS


class CliError(Exception):
    """Printed without a traceback; the command exits 2."""


def _postmaster_port(data_dir: Path) -> int | None:
    """The port of the PostgreSQL server running on `data_dir`, from its postmaster.pid (line
    1 the pid, line 4 the port), or None when none runs there (no file, a stale one, no answer)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive, as another user (the embedded server runs as its own user under root)
    except OSError:
        return None
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return None
    return port


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The database a command works on: DATABASE_URL when set; otherwise the development database
    `make run` keeps in `{data_dir}/postgres` (database `postgres`, as `make run` uses it) —
    the running server if `make run` is up, else that server started for the command alone and
    stopped after it."""
    if settings.database_url:
        yield settings.database_url
        return
    data = Path(settings.data_dir).absolute() / "postgres"
    if not (data / "PG_VERSION").exists():
        raise CliError(
            f"DATABASE_URL is not set and {data} holds no development database:"
            " run `make run` once (from the project folder), or set DATABASE_URL"
        )
    port = _postmaster_port(data)
    if port is not None:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        return
    from launch.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(data)  # a free port: 5433 may belong to something else now
    print(f"starting the development PostgreSQL in {data} for this command ...", file=sys.stderr, flush=True)
    try:
        yield server.start()
    finally:
        server.stop()


def _api() -> int:
    import uvicorn

    from api.main import create_app

    settings = get_settings()
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
    }
    if settings.api_workers > 1:
        # Worker processes import the app themselves (the settings come from the environment).
        uvicorn.run("api.main:create_app", factory=True, workers=settings.api_workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _worker() -> int:
    from worker.main import main

    main()
    return 0


def _migrate() -> int:
    from store.migrate import upgrade

    with database_url(get_settings()) as url:
        upgrade(url)
    return 0


def _dev() -> int:
    from launch.dev import main

    return main()


def _users(args: argparse.Namespace) -> int:
    from launch.users import run

    with database_url(get_settings()) as url:
        return run(args, url)


def _keys(args: argparse.Namespace) -> int:
    """`openpoint keys create | list | revoke`: the same functions as the console's Access keys
    page (store/access_keys.py)."""
    from openpoint.vault import vault_from
    from store import access_keys
    from store.db import make_engine

    settings = get_settings()

    async def work(url: str) -> int:
        engine = make_engine(url, pool_size=1)
        try:
            if args.keys_command == "create":
                key_id, secret = await access_keys.create_key(
                    engine, vault_from(settings), description=args.description, project_ids=args.project
                )
                print(f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}")
            elif args.keys_command == "list":
                for k in await access_keys.list_keys(engine, project_id=args.project):
                    scope = ",".join(k["project_ids"]) if k["project_ids"] is not None else "every project"
                    state = "active" if k["active"] else "revoked"
                    created = k["created_at"].strftime("%Y-%m-%d %H:%M") if k["created_at"] else "-"
                    print(f"{k['access_key_id']}\t{state}\t{created}\t{scope}\t{k['description']}")
            elif not await access_keys.revoke(engine, args.key_id):
                print(f"there is no active key {args.key_id}", file=sys.stderr)
                return 1
            else:
                # Gateways already running keep a key they looked up for up to 30 s (KeyStore).
                print(f"revoked {args.key_id}: gateways refuse it within 30 seconds")
            return 0
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        return asyncio.run(work(url))


def _channel_credentials(project: str, channel: str, pairs: list[str], clear: bool) -> int:
    """Store (or with `clear` forget) a project's own provider credentials: the same code as
    the console's Channels page (api/delivery_credentials.py)."""
    from api.delivery_credentials import clear_credentials, store_credentials
    from openpoint.vault import vault_from
    from rules.delivery_credentials import CredentialsRefused, check_credentials
    from store.db import make_engine

    if not pairs and not clear:
        raise CliError("give NAME=VALUE credentials, or --clear to go back to the environment's")
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            name = ""  # refused below: the channel takes no such name
        given[name] = value
    try:
        check_credentials(channel, given)  # before any database is started
    except CredentialsRefused as e:
        print(str(e), file=sys.stderr)
        return 2
    settings = get_settings()

    async def save(url: str) -> str | None:
        """None when stored, else why not."""
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                vault = vault_from(settings)
                if clear:
                    await clear_credentials(conn, vault, project, channel)
                if given:
                    await store_credentials(conn, vault, project, channel, given)
            return None
        except CredentialsRefused as e:
            return str(e)
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        refused = asyncio.run(save(url))
    if refused:
        print(refused, file=sys.stderr)
        return 1
    done = (["cleared the stored credentials"] if clear else []) + ([f"stored {', '.join(given)}"] if given else [])
    print(f"{'; '.join(done)} for the {channel} channel of {project}")
    return 0


def _stream_credentials(project: str, pairs: list[str], clear: bool) -> int:
    """Store AWS credentials on a project's event stream (encrypted; ExternalId in the clear, as
    GetEventStream shows it). Everything is checked before anything is written."""
    from openpoint.vault import vault_from
    from rules.event_records import stream_credentials
    from store import event_streams as streams_store
    from store.db import make_engine

    if not pairs and not clear:
        raise CliError("give NAME=VALUE credentials, or --clear to go back to the environment's")
    try:
        given = stream_credentials(pairs)
    except ValueError as e:
        raise CliError(str(e)) from None
    external_id = given.pop("ExternalId", "" if clear else None)
    settings = get_settings()

    async def save(url: str) -> bool:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await streams_store.set_credentials(
                    conn, vault_from(settings), project, given, external_id=external_id, clear=clear
                )
        finally:
            await engine.dispose()

    with database_url(settings) as url:
        stored = asyncio.run(save(url))
    if not stored:
        print(f"project {project} has no event stream: create it with PutEventStream first", file=sys.stderr)
        return 1
    values = {**given, **({"ExternalId": external_id} if external_id is not None else {})}
    done = ["cleared the stored credentials"] if clear else []
    done += [f"stored {n}" for n, v in values.items() if v] + [f"removed {n}" for n, v in values.items() if not v]
    print(f"event stream of {project}: {', '.join(done)}")
    return 0


def _webhook_secret() -> int:
    from openpoint.vault import vault_from
    from rules.webhooks import signing_secret

    settings = get_settings()
    print(signing_secret(settings, vault_from(settings)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openpoint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("api", help="run the gateway (uvicorn)")
    sub.add_parser("worker", help="run the Temporal worker")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("dev", help="run the whole platform locally (what `make run` does)")
    from launch.users import add_parser as add_users_parser

    add_users_parser(sub)  # `openpoint users create | reset | list`: the console's users
    keys = sub.add_parser("keys", help="manage API key pairs")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key pair and print it once")
    create.add_argument("--project", action="append", help="limit the key to this project id (repeatable)")
    create.add_argument("--description", default="")
    listed = keys_sub.add_parser("list", help="list key ids, state, creation, projects, description (no secrets)")
    listed.add_argument("--project", help="only the keys that may use this project")
    revoke = keys_sub.add_parser("revoke", help="revoke a key: the API refuses it (running gateways within 30 s)")
    revoke.add_argument("key_id", metavar="KEY_ID")
    channels = sub.add_parser("channels", help="provider credentials beyond Pinpoint's channel settings")
    channels_sub = channels.add_subparsers(dest="channels_command", required=True)
    creds = channels_sub.add_parser(
        "credentials", help="store a project's own SMTP relay, Twilio account or AWS keys for its Lambda functions"
    )
    creds.add_argument("--project", required=True)
    creds.add_argument("--channel", required=True, choices=sorted(EXTRA_CREDENTIALS))
    creds.add_argument("--clear", action="store_true", help="forget the stored ones first (back to the environment's)")
    creds.add_argument("values", nargs="*", metavar="NAME=VALUE")
    streams = sub.add_parser("streams", help="event streams (PutEventStream) beyond Pinpoint's settings")
    streams_sub = streams.add_subparsers(dest="streams_command", required=True)
    stream_creds = streams_sub.add_parser(
        "credentials", help="store AWS credentials a project's event stream writes (and assumes its RoleArn) with"
    )
    stream_creds.add_argument("--project", required=True)
    stream_creds.add_argument("--clear", action="store_true", help="remove the stored ones first")
    stream_creds.add_argument(
        "values", nargs="*", metavar="NAME=VALUE", help="AccessKeyId, SecretAccessKey, SessionToken, Region, ExternalId"
    )
    sub.add_parser("webhook-secret", help="print the secret custom-channel webhooks are signed with")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "users":
            return _users(args)
        if args.command == "keys":
            return _keys(args)
        if args.command == "channels":
            return _channel_credentials(args.project, args.channel, args.values, args.clear)
        if args.command == "streams":
            return _stream_credentials(args.project, args.values, args.clear)
        if args.command == "webhook-secret":
            return _webhook_secret()
        return {"api": _api, "worker": _worker, "migrate": _migrate, "dev": _dev}[args.command]()
    except CliError as e:
        print(f"openpoint {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
