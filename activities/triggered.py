"""The activity behind CampaignTriggerWorkflow: a batch of events that matched one
event-triggered campaign, sent as one campaign page whose members are the endpoints that
reported them (sending/triggered.py: claiming, planning, sending and counting each trigger once).
"""

from __future__ import annotations

from temporalio import activity

from activities.campaigns import CampaignActivities
from sending.triggered import TriggerSender
from workflows.campaign import SEND_TRIGGERED, TriggerBatch


class TriggeredSends:
    def __init__(self, campaigns: CampaignActivities) -> None:
        # The campaign pages' sender: the same treatments, hook, delivery and policy.
        self._triggers = TriggerSender(campaigns.sender)

    @activity.defn(name=SEND_TRIGGERED)
    async def send_triggered(self, batch: TriggerBatch) -> dict[str, int]:
        """How many triggers of the batch ended how (SENT, or why not)."""
        info = activity.info()
        return await self._triggers.send(batch, owner=info.workflow_id or "", attempt=info.attempt)
