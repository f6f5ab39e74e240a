"""The ClickHouse feeder (analytics/clickhouse_feed.py) killed between its insert into ClickHouse
and its cursor's commit: the next feeder copies the same slice again under the same insert token,
ClickHouse drops the repeat, and no event is counted twice.

The feeders are child processes (tests/clickhouse_feeder_process.py) on a chDB directory and a
cursor row of their own, over the test stack's PostgreSQL; the first is SIGKILLed right after
its insert."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.api.test_analytics_pages import put_events
from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
CURSOR = "clickhouse-crash-test"


def feeder(stack: Stack, chdb: str, app_id: str, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.clickhouse_feeder_process",
            stack.settings.database_url,
            chdb,
            CURSOR,
            app_id,
            mode,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_feeder_killed_between_insert_and_cursor_commit_counts_nothing_twice(
    stack: Stack, pinpoint: Any, app_id: str, tmp_path: Path
) -> None:
    chdb = f"chdb://{tmp_path.resolve()}/chdb"
    # Catch up with what the session stored so far, so that the next slice is this project's.
    first = feeder(stack, chdb, app_id, "feed")
    assert first.returncode == 0, first.stderr
    at = datetime.now(UTC) - timedelta(hours=1)
    for i in range(3):
        put_events(pinpoint, app_id, f"k{i}", [("view", at + timedelta(minutes=m), {}) for m in range(5)])
    stored = stack.sql("SELECT count(*) AS n FROM events WHERE app_id = $1", app_id)[0]["n"]
    assert stored == 15

    killed = feeder(stack, chdb, app_id, "die-after-insert")
    assert killed.returncode == -9, killed.stderr  # SIGKILL, after the insert
    pending = stack.sql("SELECT xid, backfill_after FROM an_cursor WHERE name = $1", CURSOR)[0]
    assert pending["backfill_after"] is not None  # the slice in progress is still named

    resumed = feeder(stack, chdb, app_id, "feed")
    assert resumed.returncode == 0, resumed.stderr
    counted = orjson.loads(resumed.stdout.strip().splitlines()[-1])
    assert counted["before"] == 15  # the killed feeder's insert landed
    assert counted == {"before": 15, "after": 15, "distinct": 15}  # and was not repeated
    cursor = stack.sql("SELECT backfill_after FROM an_cursor WHERE name = $1", CURSOR)[0]
    assert cursor["backfill_after"] is None
