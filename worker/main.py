"""The worker: every workflow and activity on the project's task queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.deliveries import Deliverer, Provider
from activities.email import EmailProvider
from openpoint.settings import Settings, get_settings
from store.db import make_engine
from workflows.direct_send import DirectSendWorkflow

log = logging.getLogger("openpoint.worker")

WORKFLOWS: Sequence[type] = (DirectSendWorkflow,)


def providers(settings: Settings) -> dict[str, Provider]:
    return {"EMAIL": EmailProvider(settings.smtp_url, timeout=settings.smtp_timeout_seconds)}


def build_worker(client: Client, settings: Settings, engine: Any, *, task_queue: str | None = None) -> Worker:
    deliverer = Deliverer(engine, providers(settings))
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=[deliverer.deliver_batch],
        max_concurrent_activities=50,
    )


async def run(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        worker = build_worker(client, settings, engine)
        log.info("worker polling task queue %s on %s", settings.task_queue, settings.temporal_address)
        await worker.run()
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
