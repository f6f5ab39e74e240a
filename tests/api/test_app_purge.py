"""DeleteApp of a big project: gone for the API at once, its rows purged by the worker after."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from store.db import plain_dsn
from tests.stack import Stack

EVENTS, ENDPOINTS = 200_000, 5_000
COUNTS = (
    "SELECT (SELECT count(*) FROM events WHERE app_id = $1) AS events,"
    " (SELECT count(*) FROM endpoints WHERE app_id = $1) AS endpoints,"
    " (SELECT count(*) FROM sessions WHERE app_id = $1) AS sessions,"
    " (SELECT count(*) FROM deliveries WHERE app_id = $1) AS deliveries"
)


async def fill(database_url: str, app_id: str) -> None:
    """COPY the rows straight in: what months of traffic would have left."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        start = datetime(2020, 1, 1, tzinfo=UTC)
        await conn.copy_records_to_table(
            "endpoints",
            records=[(app_id, f"ep-{i}", f"u{i}@example.com", "EMAIL") for i in range(ENDPOINTS)],
            columns=["app_id", "id", "address", "channel_type"],
        )
        attributes = orjson.dumps({"sku": "A1"}).decode()
        await conn.copy_records_to_table(
            "events",
            records=[
                # Client timestamps spread over years: none of them makes a partition.
                (app_id, start + timedelta(hours=7 * i), f"ep-{i % ENDPOINTS}", f"e{i}", "purchase", attributes)
                for i in range(EVENTS)
            ],
            columns=["app_id", "event_time", "endpoint_id", "event_id", "event_type", "attributes"],
        )
        await conn.copy_records_to_table(
            "sessions",
            records=[(app_id, f"s{i}", f"ep-{i}", start) for i in range(ENDPOINTS)],
            columns=["app_id", "id", "endpoint_id", "start_time"],
        )
        await conn.copy_records_to_table(
            "deliveries",
            records=[(f"{app_id}/{i}", app_id, "EMAIL", f"u{i}@example.com") for i in range(ENDPOINTS)],
            columns=["idempotency_key", "app_id", "channel", "address"],
        )
    finally:
        await conn.close()


def test_a_big_project_is_gone_at_once_and_purged_after(pinpoint: Any, stack: Stack, app_id: str) -> None:
    stack.run(fill(stack.settings.database_url, app_id))
    other = pinpoint.create_app(CreateApplicationRequest={"Name": "neighbour"})["ApplicationResponse"]["Id"]
    pinpoint.update_endpoint(
        ApplicationId=other, EndpointId="stays", EndpointRequest={"Address": "n@example.com", "ChannelType": "EMAIL"}
    )
    assert dict(stack.sql(COUNTS, app_id)[0]) == {
        "events": EVENTS,
        "endpoints": ENDPOINTS,
        "sessions": ENDPOINTS,
        "deliveries": ENDPOINTS,
    }

    deleted = pinpoint.delete_app(ApplicationId=app_id)["ApplicationResponse"]
    assert deleted["Id"] == app_id

    # Gone for the API at once, whatever is left to purge.
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.get_app(ApplicationId=app_id)
    with pytest.raises(pinpoint.exceptions.NotFoundException):
        pinpoint.get_endpoint(ApplicationId=app_id, EndpointId="ep-1")
    assert app_id not in {a["Id"] for a in pinpoint.get_apps(PageSize="1000")["ApplicationsResponse"]["Item"]}
    assert stack.sql("SELECT app_id FROM app_purges WHERE app_id = $1", app_id)

    # The worker empties the big tables in batches (a liveness bound, not a timing claim).
    deadline = time.monotonic() + 300
    while any(stack.sql(COUNTS, app_id)[0].values()):
        assert time.monotonic() < deadline, dict(stack.sql(COUNTS, app_id)[0])
        time.sleep(0.5)
    # Another project's data is untouched.
    assert pinpoint.get_endpoint(ApplicationId=other, EndpointId="stays")["EndpointResponse"]["Id"] == "stays"
