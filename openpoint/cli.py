"""`openpoint api | worker | migrate | dev | keys create | channels credentials | webhook-secret`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from openpoint.settings import get_settings


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

    settings = get_settings()
    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    return 0


def _dev() -> int:
    from openpoint.dev import main

    return main()


def _keys_create(projects: list[str] | None, description: str) -> int:
    from openpoint.keys import new_key_pair, store_key
    from openpoint.vault import vault_from
    from store.db import make_engine

    settings = get_settings()
    key_id, secret = new_key_pair()

    async def save() -> None:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            await store_key(engine, vault_from(settings), key_id, secret, description=description, project_ids=projects)
        finally:
            await engine.dispose()

    asyncio.run(save())
    print(f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}")
    return 0


# Provider credentials a project may hold beyond what Pinpoint's channel requests carry: its own
# SMTP relay, its own Twilio account. Stored encrypted with the channel's other secrets.
EXTRA_CREDENTIALS = {
    "EMAIL": ("SmtpUrl",),
    "SMS": ("TwilioAccountSid", "TwilioAuthToken"),
    "VOICE": ("TwilioAccountSid", "TwilioAuthToken"),
}


def _channel_credentials(project: str, channel: str, pairs: list[str]) -> int:
    from sqlalchemy import update

    from activities.email import smtp_options
    from openpoint.vault import vault_from
    from store import channels as channels_store
    from store.db import make_engine

    allowed = EXTRA_CREDENTIALS.get(channel, ())
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in allowed:
            print(
                f"{channel} takes {', '.join(f'{a}=...' for a in allowed) or 'no extra credentials'}", file=sys.stderr
            )
            return 2
        given[name] = value
    if "SmtpUrl" in given:
        try:
            smtp_options(given["SmtpUrl"], 1.0)
        except ValueError as e:
            print(str(e), file=sys.stderr)
            return 2
    settings = get_settings()

    async def save() -> bool:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                row = await channels_store.get(conn, project, channel)
                if row is None:
                    return False
                secret = channels_store.merged_secret(
                    vault_from(settings), project, channel, row["secret_ciphertext"], given
                )
                table = channels_store.channels
                await conn.execute(
                    update(table)
                    .where(table.c.app_id == project, table.c.channel_type == channel)
                    .values(secret_ciphertext=secret)
                )
                return True
        finally:
            await engine.dispose()

    if not asyncio.run(save()):
        print(f"project {project} has no {channel} channel yet: create it with Update*Channel first", file=sys.stderr)
        return 1
    print(f"stored {', '.join(given)} for the {channel} channel of {project}")
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
    keys = sub.add_parser("keys", help="manage API key pairs")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key pair and print it once")
    create.add_argument("--project", action="append", help="limit the key to this project id (repeatable)")
    create.add_argument("--description", default="")
    channels = sub.add_parser("channels", help="provider credentials beyond Pinpoint's channel settings")
    channels_sub = channels.add_subparsers(dest="channels_command", required=True)
    creds = channels_sub.add_parser("credentials", help="store a project's own SMTP relay or Twilio account")
    creds.add_argument("--project", required=True)
    creds.add_argument("--channel", required=True, choices=sorted(EXTRA_CREDENTIALS))
    creds.add_argument("values", nargs="+", metavar="NAME=VALUE")
    sub.add_parser("webhook-secret", help="print the secret custom-channel webhooks are signed with")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "keys":
        return _keys_create(args.project, args.description)
    if args.command == "channels":
        return _channel_credentials(args.project, args.channel, args.values)
    if args.command == "webhook-secret":
        return _webhook_secret()
    return {"api": _api, "worker": _worker, "migrate": _migrate, "dev": _dev}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
