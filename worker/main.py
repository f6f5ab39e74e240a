"""The worker: every workflow and activity on the project's task queue, and the send activities
on the sends' queue beside it (or only one of the two: OPENPOINT_WORKER_QUEUES)."""

from __future__ import annotations

import asyncio
import gc
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import uvloop
from temporalio.client import Client
from temporalio.worker import Worker

from activities.campaigns import CampaignActivities
from activities.deliveries import DeliveryActivities
from activities.housekeeping import Housekeeping
from activities.job_exports import ExportActivities
from activities.jobs import ImportActivities
from activities.journeys import JourneyActivities
from activities.triggered import TriggeredSends
from channels.apns import APNS_CHANNELS, ApnsProvider
from channels.custom import CustomChannel
from channels.deliverer import BatchProvider, Deliverer, Provider
from channels.email import EmailProvider, Tracking
from channels.event_streams import StreamSender
from channels.fcm import FcmProvider
from channels.lambda_functions import LambdaInvoker
from channels.twilio import SmsProvider, VoiceProvider
from channels.webhook import WebhookProvider
from engine.housekeeping import wake_housekeeping
from jobfiles.resources import JobResources
from openpoint.settings import Settings, get_settings
from openpoint.vault import tracking_key, vault_from
from store.db import make_engine
from store.outbox import TriggerIndex
from worker.dispatcher import Dispatcher, DispatchSettings
from worker.rollups import RollupLoop, RollupSettings
from worker.streamer import Streamer, StreamSettings
from workflows.campaign import SEND_PAGE, CampaignRunWorkflow, CampaignTriggerWorkflow, CampaignWorkflow
from workflows.direct_send import DELIVER_BATCH, DirectSendWorkflow
from workflows.housekeeping import HousekeepingWorkflow
from workflows.jobs import ExportJobWorkflow, ImportJobWorkflow
from workflows.journey import JourneyParticipantWorkflow, JourneyWorkflow
from workflows.policy import sends_queue

log = logging.getLogger("openpoint.worker")

WORKFLOWS: Sequence[type] = (
    DirectSendWorkflow,
    ImportJobWorkflow,
    ExportJobWorkflow,
    CampaignWorkflow,
    CampaignTriggerWorkflow,
    CampaignRunWorkflow,
    JourneyWorkflow,
    JourneyParticipantWorkflow,
    HousekeepingWorkflow,
)


def providers(settings: Settings, tls: ssl.SSLContext | None = None) -> dict[str, Provider | BatchProvider]:
    tracking = Tracking(settings.resolved_public_url(), tracking_key(settings, vault_from(settings)))
    return {
        "EMAIL": EmailProvider(settings.smtp_url, timeout=settings.smtp_timeout_seconds, tracking=tracking),
        "CUSTOM": CustomChannel(WebhookProvider(settings, vault_from(settings), tls=tls), LambdaInvoker(settings)),
        "GCM": FcmProvider(settings),
        "SMS": SmsProvider(settings),
        "VOICE": VoiceProvider(settings),
        **{channel: ApnsProvider(settings, channel, tls=tls) for channel in APNS_CHANNELS},
    }


def _returning(client: Client | None) -> Callable[[], Awaitable[Client]]:
    async def get() -> Client:
        assert client is not None, "this process's activities were built without a Temporal client"
        return client

    return get


def activities(
    client: Client | None,
    settings: Settings,
    engine: Any,
    *,
    task_queue: str | None = None,
    job_tls: ssl.SSLContext | None = None,  # trust for outbound https (imports, webhooks); None: the system's
) -> list[Callable[..., Any]]:
    """Every activity the workflows call, bound to this process's providers and database."""
    senders = providers(settings, job_tls)
    deliverer = Deliverer(engine, vault_from(settings), senders, TriggerIndex())
    hooks = senders["CUSTOM"]
    campaigns = CampaignActivities(
        engine,
        deliverer,
        hooks if isinstance(hooks, CustomChannel) else None,
        concurrency=settings.send_concurrency,
    )
    triggered = TriggeredSends(campaigns)
    journeys = JourneyActivities(engine, deliverer, _returning(client), task_queue or settings.task_queue)
    job_resources = JobResources(engine, settings, tls=job_tls)
    imports, exports = ImportActivities(job_resources), ExportActivities(job_resources)
    housekeeping = Housekeeping(engine, settings.analytics_retention_days)
    return [
        DeliveryActivities(deliverer).deliver_batch,
        campaigns.plan_run,
        campaigns.start_run,
        campaigns.send_page,
        campaigns.finish_run,
        campaigns.local_waves,
        triggered.send_triggered,
        journeys.plan,
        journeys.admit_page,
        journeys.finish_run,
        journeys.broadcast,
        journeys.purge,
        journeys.enter,
        journeys.step,
        journeys.leave,
        imports.prepare_import,
        imports.import_piece,
        imports.finish_import,
        exports.export_endpoints,
        exports.finish_export,
        housekeeping.housekeep,
    ]


# The activities a workflow schedules on its sends' queue (workflows/policy.py send_task_queue).
SEND_ACTIVITIES = frozenset({DELIVER_BATCH, SEND_PAGE})


class Workers:
    """The Temporal workers of one process, run, entered and shut down together."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._stack = AsyncExitStack()

    async def run(self) -> None:
        await asyncio.gather(*(w.run() for w in self.workers))

    async def shutdown(self) -> None:
        await asyncio.gather(*(w.shutdown() for w in self.workers))

    async def __aenter__(self) -> Workers:
        for w in self.workers:
            await self._stack.enter_async_context(w)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()


def _name(activity: Callable[..., Any]) -> str:
    """An activity's registered name (what @activity.defn put on the function)."""
    defn = getattr(activity, "__temporal_activity_definition", None)
    return str(getattr(defn, "name", ""))


def build_worker(
    client: Client,
    settings: Settings,
    engine: Any,
    *,
    task_queue: str | None = None,
    job_tls: ssl.SSLContext | None = None,
    queues: str | None = None,
) -> Workers:
    """The workflows' queue (workflows and every activity — sends too, for workflows whose history
    put them there before the sends had a queue of their own) and the sends' queue, or one of them
    (`queues`, default settings.worker_queues)."""
    queue = task_queue or settings.task_queue
    which = queues or settings.worker_queues
    every = activities(client, settings, engine, task_queue=task_queue, job_tls=job_tls)
    workers = []
    if which in ("all", "workflows"):
        workers.append(
            Worker(client, task_queue=queue, workflows=list(WORKFLOWS), activities=every, max_concurrent_activities=50)
        )
    if which in ("all", "sends"):
        sends = [a for a in every if _name(a) in SEND_ACTIVITIES]
        workers.append(Worker(client, task_queue=sends_queue(queue), activities=sends, max_concurrent_activities=50))
    return Workers(workers)


def build_dispatcher(client: Client, settings: Settings, engine: Any, *, task_queue: str | None = None) -> Dispatcher:
    """The trigger outbox's dispatcher, for the worker on `task_queue` in this process."""
    return Dispatcher(
        engine,
        _returning(client),
        task_queue or settings.task_queue,
        settings.database_url,
        DispatchSettings(max_delay_seconds=settings.trigger_max_delay_seconds),
    )


def build_streamer(settings: Settings, engine: Any) -> Streamer:
    """The event streamer (PutEventStream's destinations), beside the worker in this process."""
    return Streamer(
        engine,
        StreamSender(settings),
        settings.account_id,
        StreamSettings(
            poll_seconds=settings.event_stream_poll_seconds,
            max_backoff_seconds=settings.event_stream_max_backoff_seconds,
        ),
        vault=vault_from(settings),
    )


def build_rollups(settings: Settings, engine: Any) -> RollupLoop:
    """The analytics rollup loop (worker/rollups.py)."""
    return RollupLoop(
        engine,
        RollupSettings(
            keep_days=settings.analytics_retention_days, poll_seconds=settings.analytics_rollup_poll_seconds
        ),
    )


async def run(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        worker = build_worker(client, settings, engine)
        # A sends-only replica runs sends and nothing beside them: the outbox's dispatcher, the
        # event streams and the rollups stay with the workflows' workers.
        beside = settings.worker_queues != "sends"
        dispatcher = asyncio.create_task(
            build_dispatcher(client, settings, engine).run()
            if beside and settings.dispatch_outbox
            else asyncio.sleep(0)
        )
        streamer = asyncio.create_task(
            build_streamer(settings, engine).run() if beside and settings.stream_events else asyncio.sleep(0)
        )
        rollup_loop = asyncio.create_task(
            build_rollups(settings, engine).run() if beside and settings.analytics_rollups else asyncio.sleep(0)
        )
        queues = [w.task_queue for w in worker.workers]
        log.info("worker polling task queues %s on %s", ", ".join(queues), settings.temporal_address)
        if beside:
            # Purges queued while no worker ran (or Temporal was down) and event retention.
            await wake_housekeeping(client, settings.task_queue)
        try:
            await worker.run()
        finally:
            rollup_loop.cancel()
            await asyncio.gather(rollup_loop, return_exceptions=True)
            dispatcher.cancel()
            streamer.cancel()
            await asyncio.gather(dispatcher, streamer, return_exceptions=True)
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Imports and sends allocate millions of short-lived dicts. With the default young-generation
    # threshold (700) the cycle collector walks the batches in flight every few hundred rows,
    # which cost a third of an import's CPU; they hold no cycles worth collecting that often.
    gc.set_threshold(50_000, 20, 100)
    try:
        # uvloop, as the gateway runs: its transports write a campaign's requests to the
        # providers' sockets for a fraction of the default loop's CPU (a fifth of a send's).
        uvloop.run(run())
    except KeyboardInterrupt:
        pass
