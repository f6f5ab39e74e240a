"""The email variant of bench/campaign.py (`--channel email`): EMAIL endpoints, an SMTP sink
(bench/triggers.py's, in a process of its own, appending `<recipient> <arrival>` per message to a
file), and the baseline: aiosmtplib posting the same number of messages, built by the worker's own
channels.email.build_message, over the same number of persistent SMTP connections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg

from bench.triggers import DOMAIN
from channels.email import build_message
from channels.email_mime import Composed
from rules.endpoints import cohort_of
from store.db import plain_dsn
from workflows.shared import Recipient

HTML = "<html><body><p>Hello {{Attributes.Name}}, the sale is on.</p></body></html>"
MESSAGE = {"MessageConfiguration": {"EmailMessage": {"Title": "Hello {{Attributes.Name}}", "HtmlBody": HTML}}}


def sink_argv(arrivals: Path) -> Any:
    """Platform.sink_argv for bench/triggers.py's SMTP sink writing to `arrivals`."""
    return lambda port, cert, key: [str(Path(__file__).parent / "triggers.py"), "sink", str(port), str(arrivals)]


def address(i: int) -> str:
    return f"r{i}@{DOMAIN}"


async def load_endpoints(dsn: str, app_id: str, count: int, endpoint_id: Any, attributes: Any) -> None:
    records = [
        (app_id, endpoint_id(i), address(i), "EMAIL", cohort_of(endpoint_id(i)), attributes(i)) for i in range(count)
    ]
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        await conn.copy_records_to_table(
            "endpoints", records=records, columns=["app_id", "id", "address", "channel_type", "cohort_id", "attributes"]
        )
        await conn.execute("VACUUM ANALYZE endpoints")
    finally:
        await conn.close()


def enable_channel(pinpoint: Any, app_id: str) -> None:
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"Enabled": True, "FromAddress": f"bench@{DOMAIN}", "Identity": DOMAIN},
    )


class Counter:
    """Messages at the sink so far, and the first and last arrival, read from its file as it grows
    (no per-recipient table: a million lines)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.count, self.first, self.last = 0, 0.0, 0.0

    def refresh(self) -> tuple[int, float, float]:
        if self._path.exists():
            with self._path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.splitlines():
                at = float(line.rsplit(b" ", 1)[1])
                self.first = at if not self.count else min(self.first, at)
                self.last = max(self.last, at)
                self.count += 1
        return self.count, self.first, self.last


def messages(app_id: str, count: int) -> Iterator[tuple[str, list[str], bytes]]:
    """(sender, recipients, bytes) of `count` messages shaped as the campaign's, built by the
    worker's build_message (rendered per recipient, no tracking)."""
    content = {"from": f"bench@{DOMAIN}", "subject": "Hello {{Attributes.Name}}", "html": HTML}
    for i in range(count):
        r = Recipient(
            key=f"campaign-{app_id}-bare/0/e{i}",
            address=f"bare{i}@{DOMAIN}",
            endpoint_id=f"e{i}",
            endpoint={"Attributes": {"Plan": ["bench"], "Name": [f"N{i}"]}},
        )
        msg = build_message(content, r, None, app_id)
        assert isinstance(msg, Composed)
        yield msg.sender or "", [r.address], msg.data


async def baseline(smtp_port: int, app_id: str, count: int, connections: int, counter: Counter) -> float:
    """`count` messages over `connections` persistent aiosmtplib connections; msg/s from the
    first send to the last arrival at the sink."""
    work = messages(app_id, count)
    before = counter.refresh()[0]

    async def lane() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port)
        await smtp.connect()
        for sender, recipients, data in work:  # shared: each message is sent once
            await smtp.sendmail(sender, recipients, data)
        await smtp.quit()

    t0 = time.time()
    await asyncio.gather(*(lane() for _ in range(connections)))
    while counter.refresh()[0] < before + count and time.time() - counter.last < 10:
        await asyncio.sleep(0.2)
    rate = (counter.count - before) / (counter.last - t0)
    print(f"{'aiosmtplib loop':<26}: {rate:,.0f} msg/s ({count:,} messages, {connections} connections)")
    return rate
