"""Sends on a task queue of their own (issue 18 part 5a): a worker of the workflows' queue and a
worker of the sends' queue, as two replicas would run them (OPENPOINT_WORKER_QUEUES=workflows
and =sends), deliver a SendMessages together, its batch scheduled on `<queue>-sends`."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from temporalio.api.enums.v1 import EventType

from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from worker.main import Workers, build_worker
from workflows.policy import sends_queue


def _split_workers(stack: Stack) -> list[tuple[Workers, asyncio.Task[None]]]:
    async def start() -> list[tuple[Workers, asyncio.Task[None]]]:
        started = []
        for queues in ("workflows", "sends"):
            w = build_worker(stack.temporal, stack.settings, stack._engine, queues=queues)
            started.append((w, asyncio.create_task(w.run())))
        return started

    return stack.run(start())


def test_a_send_goes_through_the_sends_own_worker(stack: Stack, pinpoint: Any, smtp: SmtpServer) -> None:
    app_id = pinpoint.create_app(CreateApplicationRequest={"Name": "split queues"})["ApplicationResponse"]["Id"]
    pinpoint.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={"FromAddress": "shop@example.com", "Identity": "example.com", "Enabled": True},
    )
    address = f"split-{secrets.token_hex(4)}@example.com"
    stack.stop_worker()
    split = _split_workers(stack)
    queue = stack.settings.task_queue
    assert [[w.task_queue for w in workers.workers] for workers, _ in split] == [[queue], [sends_queue(queue)]]
    try:
        answer = pinpoint.send_messages(
            ApplicationId=app_id,
            MessageRequest={
                "Addresses": {address: {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {
                    "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "Hi"}, "HtmlPart": {"Data": "<p>Hi</p>"}}}
                },
            },
        )["MessageResponse"]["Result"][address]
        assert answer["DeliveryStatus"] == "SUCCESSFUL", answer
        assert len(smtp.sink.to(address)) == 1

        async def scheduled_queues() -> set[str]:
            found: set[str] = set()
            async for wf in stack.temporal.list_workflows(
                f"WorkflowType = 'DirectSendWorkflow' AND WorkflowId STARTS_WITH 'send-{app_id}'"
            ):
                history = await stack.temporal.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
                for event in history.events:
                    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                        found.add(event.activity_task_scheduled_event_attributes.task_queue.name)
            return found

        assert stack.run(scheduled_queues()) == {sends_queue(stack.settings.task_queue)}
    finally:

        async def stop() -> None:
            for w, task in split:
                await w.shutdown()
                await asyncio.gather(task, return_exceptions=True)

        stack.run(stop(), timeout=60)
        stack.start_worker()
