"""`openpoint api | worker | migrate | dev | keys create`."""

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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "keys":
        return _keys_create(args.project, args.description)
    return {"api": _api, "worker": _worker, "migrate": _migrate, "dev": _dev}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
