"""The ClickHouse feeder as a child process, for the test that kills it between its insert and its
cursor's commit (tests/api/test_clickhouse_feed.py). A chDB directory is opened by one process at
a time (and a process opens one), so the feeder under test and the counting both run here, in
turn, never in the test process (whose stack gateway owns another chDB directory).

    python -m tests.clickhouse_feeder_process DATABASE_URL CHDB_URL CURSOR APP_ID MODE

MODE `feed`: copy until caught up. `die-after-insert`: copy, and SIGKILL this process right after
the first ClickHouse insert, before the cursor moves. Prints, as JSON, the project's rows in
ClickHouse before and after (and distinct event ids after)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import orjson

from analytics import clickhouse_feed
from store import clickhouse
from store import clickhouse_feed as cursor_sql
from store.clickhouse import ClickHouse, lit
from store.db import make_engine


async def counts(ch: ClickHouse, app_id: str) -> tuple[int, int]:
    rows = await ch.rows(f"SELECT count(), uniqExact(event_id) FROM {ch.events} WHERE app_id = {lit(app_id)}")
    return int(rows[0][0]), int(rows[0][1])


async def main(database_url: str, ch_url: str, cursor: str, app_id: str, mode: str) -> None:
    engine = make_engine(database_url, pool_size=2)
    ch = clickhouse.connect(ch_url)
    await ch.setup()
    before = await counts(ch, app_id)
    if mode == "die-after-insert":

        async def die(*_args: Any, **_kwargs: Any) -> bool:
            os.kill(os.getpid(), signal.SIGKILL)  # the insert is in; the cursor never moves
            return False

        cursor_sql.end_slice = die
    # Until every committed event is copied (a transaction still running elsewhere may hold the
    # feed's horizon back for a moment: look again).
    deadline = asyncio.get_running_loop().time() + 120
    while not await clickhouse_feed.caught_up(engine, cursor):
        if await clickhouse_feed.step(engine, ch, cursor=cursor, batch=1000) == 0:
            await asyncio.sleep(0.05)
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the feeder did not catch up")
    after, distinct = await counts(ch, app_id)
    sys.stdout.write(orjson.dumps({"before": before[0], "after": after, "distinct": distinct}).decode() + "\n")
    await ch.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
