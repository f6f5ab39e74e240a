"""A CampaignHook in FILTER mode: the hook (a Lambda function or a web URL) judges the recipients
of a page (or of a batch of event triggers) before anything is sent."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from channels.custom import CustomChannel, HookFailed
from channels.deliverer import Deliverer, TransientDeliveryError
from channels.webhook import event_endpoint
from rules.campaign_runs import activity_id
from sending.campaign_pages import PagePlan
from sending.treatments import Treatment
from workflows.policy import last_attempt, transient
from workflows.shared import Recipient

FILTERED = "FILTERED_BY_HOOK"
FAILED = "HOOK_FAILURE"  # nothing is sent to endpoints the hook could not judge, as in Pinpoint


async def filter_through_hook(
    hooks: CustomChannel,
    deliverer: Deliverer,
    target: str,
    plans: list[PagePlan],
    setups: list[Treatment],
    *,
    attempt: int,
) -> None:
    """The hook gets each treatment's recipients of `plans` as Pinpoint sent them to a Lambda,
    and answers the endpoints to send to (it may change their data, which the message then
    renders); each plan keeps those. A hook that fails for good filters every recipient out
    (HOOK_FAILURE); one that may answer later is retried with the activity, until its last
    attempt, which counts it failed."""
    if not plans:
        return
    run = plans[0].run
    functions = await deliverer.channel_config(run.app_id, "CUSTOM")  # the project's AWS keys
    configs = {s.id: s.config for s in setups}
    members: dict[str, list[tuple[PagePlan, Recipient]]] = {}
    for plan in plans:
        for treatment, recipients in plan.recipients_by_treatment().items():
            members.setdefault(treatment, []).extend((plan, r) for r in recipients)
    for treatment, pairs in members.items():
        body = {
            "MessageConfiguration": configs.get(treatment, {}),
            "ApplicationId": run.app_id,
            "CampaignId": run.campaign_id,
            "TreatmentId": treatment,
            "ActivityId": activity_id(run.campaign_id, run.run_number, treatment),
            "ScheduledTime": run.scheduled_start,
            "Endpoints": {r.endpoint_id: event_endpoint(r.endpoint.get("ChannelType") or "", r) for _, r in pairs},
        }
        answer: dict[str, Any] = {}
        metric = FAILED
        try:
            answer, metric = await hooks.call_hook(target, body, functions), FILTERED
        except HookFailed as e:
            activity.logger.warning("campaign hook failed: %s", e)
        except TransientDeliveryError as e:
            if not last_attempt(attempt):
                raise transient([e.message]) from None
        for plan in {id(p): p for p, _ in pairs}.values():
            plan.keep(treatment, answer, metric)
