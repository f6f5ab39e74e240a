"""Both analytics backends under the same tests: a module that imports `analytics_backend` runs
each of its tests twice, against the gateway answering from PostgreSQL's rollups and against the
one answering from ClickHouse (chDB in the test stack's data dir, fed by its feeder; started on
first use, tests/stack.py `use_clickhouse`). The page helpers (test_analytics_pages.py `call`)
send to `stack.analytics_url` and, on ClickHouse, first wait for the feeder to copy every event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Stack

BACKENDS = ("postgresql", "clickhouse")


@pytest.fixture(autouse=True, params=BACKENDS)
def analytics_backend(request: pytest.FixtureRequest, stack: Stack) -> Iterator[str]:
    stack.use_clickhouse(request.param == "clickhouse")
    try:
        yield str(request.param)
    finally:
        stack.use_clickhouse(False)
