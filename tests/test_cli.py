"""The AWS CLI (awscli from the test extras) against the running gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.stack import Stack


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
    apps = aws(stack, "get-apps", "--page-size", "1000")
    assert app_id in {a["Id"] for a in json.loads(apps.stdout)["ApplicationsResponse"]["Item"]}


def test_cli_reports_modeled_errors(stack: Stack) -> None:
    missing = aws(stack, "get-app", "--application-id", "0" * 32)
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr
