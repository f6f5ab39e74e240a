"""The AWS CLI (awscli from the test extras) against the running gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from launch.postgres import EmbeddedPostgres
from tests.stack import Stack

REPO = Path(__file__).resolve().parent.parent


def aws(stack: Stack, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": stack.access_key_id,
        "AWS_SECRET_ACCESS_KEY": stack.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "pinpoint", *args, "--endpoint-url", stack.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out


def test_cli_round_trip(stack: Stack) -> None:
    created = aws(stack, "create-app", "--create-application-request", '{"Name": "from-cli"}')
    assert created.returncode == 0, created.stderr
    app_id = json.loads(created.stdout)["ApplicationResponse"]["Id"]
    put = aws(
        stack,
        "update-endpoint",
        "--application-id",
        app_id,
        "--endpoint-id",
        "cli-1",
        "--endpoint-request",
        '{"Address": "cli@example.com", "ChannelType": "EMAIL", "Attributes": {"a": ["b"]}}',
    )
    assert put.returncode == 0, put.stderr
    got = aws(stack, "get-endpoint", "--application-id", app_id, "--endpoint-id", "cli-1")
    assert json.loads(got.stdout)["EndpointResponse"]["Attributes"] == {"a": ["b"]}
    # The suite's database holds more projects than one page: follow NextToken as a script would.
    listed: set[str] = set()
    token: list[str] = []
    while app_id not in listed:
        apps = json.loads(aws(stack, "get-apps", "--page-size", "1000", *token).stdout)["ApplicationsResponse"]
        listed |= {a["Id"] for a in apps["Item"]}
        if not apps.get("NextToken"):
            break
        token = ["--token", apps["NextToken"]]
    assert app_id in listed


def test_cli_reports_modeled_errors(stack: Stack) -> None:
    missing = aws(stack, "get-app", "--application-id", "0" * 32)
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr


# -- the `openpoint` commands after `make run`, with no extra environment -----------------------


def openpoint_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`openpoint ...` run from `folder` as a user would after `make run` there: no DATABASE_URL,
    no OPENPOINT_* or TEMPORAL_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENPOINT_", "TEMPORAL_", "DATABASE_URL"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "launch.cli", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=180
    )


def test_commands_find_the_development_database(tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / ".data" / "postgres", fast=True)  # where `make run` keeps it
    postgres.start()
    try:
        migrated = openpoint_cli(tmp_path, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        created = openpoint_cli(tmp_path, "keys", "create", "--description", "from the cli")
        assert created.returncode == 0, created.stderr
        key_id = created.stdout.split("aws_access_key_id = ")[1].split()[0]
        assert postgres.psql(f"SELECT description FROM access_keys WHERE access_key_id = '{key_id}'").strip() == (
            "from the cli"
        )
        postgres.psql(
            "INSERT INTO apps (id, name) VALUES ('p1', 'p');"
            " INSERT INTO channels (app_id, channel_type) VALUES ('p1', 'EMAIL')"
        )
        stored = openpoint_cli(
            tmp_path, "channels", "credentials", "--project", "p1", "--channel", "EMAIL", "SmtpUrl=smtp://relay:25"
        )
        assert stored.returncode == 0 and "stored SmtpUrl" in stored.stdout, stored.stderr
        assert postgres.psql("SELECT secret_ciphertext IS NOT NULL FROM channels WHERE app_id = 'p1'").strip() == "t"
        secret = openpoint_cli(tmp_path, "webhook-secret")
        assert secret.returncode == 0 and secret.stdout.strip(), secret.stderr
    finally:
        postgres.stop()

    # With `make run` stopped, the command starts the development server for itself and stops it.
    again = openpoint_cli(tmp_path, "keys", "create")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / ".data" / "postgres" / "postmaster.pid").exists()


def test_without_any_database_the_command_says_what_to_do(tmp_path: Path) -> None:
    out = openpoint_cli(tmp_path, "keys", "create")
    assert out.returncode == 2
    assert "DATABASE_URL is not set" in out.stderr and "make run" in out.stderr
    assert "Traceback" not in out.stderr
