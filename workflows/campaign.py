"""One workflow per campaign (`campaign-{app}-{campaign}`): waits for each run, resolves the
segment at that moment, fans sends out in batches, and keeps the campaign's State true.

(Being built: the API starts, signals and cancels it through api/campaign_control.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

REFRESH = "refresh"


def workflow_id(app_id: str, campaign_id: str) -> str:
    return f"campaign-{app_id}-{campaign_id}"


@dataclass
class CampaignInput:
    app_id: str
    campaign_id: str
    run_number: int = 0  # runs already done (carried over continue-as-new)


@workflow.defn
class CampaignWorkflow:
    def __init__(self) -> None:
        self._refreshed = False

    @workflow.signal(name=REFRESH)
    def refresh(self) -> None:
        """The campaign was updated, paused or resumed: re-read it before the next step."""
        self._refreshed = True

    @workflow.run
    async def run(self, request: CampaignInput) -> None:
        return None
