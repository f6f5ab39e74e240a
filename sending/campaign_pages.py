"""Where each member of a campaign page goes: a metric, quiet time, or a batch.

A page is up to `PAGE_SIZE` segment members (or the endpoints of a batch of event triggers).
Each member is either filtered out with an execution metric (holdout, not reachable, no content
for its channel, MaximumDuration passed, a limit reached), targeted but held back by quiet time,
or targeted and sent. Targeting is recorded (`campaign_targets`) before sending, since
Pinpoint's Total and Daily limits count targeting. Each message goes under the idempotency key
`campaign-{app}-{campaign}/{run or trigger}/{endpoint}`: a page retried after a crash skips what
went out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from rules import limits as limit_rules
from rules import quiet_time
from rules.campaign_runs import DEFAULT_TREATMENT, activity_id, allocation_of, group_treatments, treatment_ids
from rules.eligibility import CHANNEL_MISMATCH, sending_channel, unreachable
from rules.instants import as_utc
from rules.lambdas import is_https
from rules.treatments import Allocation, treatment_for
from sending.fanout import SEND_CONCURRENCY
from sending.recipients import endpoint_recipient, idempotency_key
from sending.treatments import Treatment
from workflows.campaign import RunRef, TreatmentCounts
from workflows.policy import LAST_SEND_ATTEMPT
from workflows.shared import DeliveryBatch, Recipient

PAGE_SIZE = 2000  # segment members read and planned at once: 8 batches of 250, one per lane
SUB_BATCH = 250  # recipients per DeliveryBatch at most: one provider session each
FUNCTION_BATCH = 100  # recipients per DeliveryBatch to a Lambda function (two invocations)
PRODUCED = "ENDPOINT_PRODUCED"
HOLDOUT = "TREATMENT_HOLDOUT"
EXPIRED = "MAXIMUM_DURATION_EXCEEDED"
LIMITED = "ENDPOINT_LIMIT_EXCEEDED"
QUIET = "QUIET_TIME"


class PagePlan:
    """Where each member of a page goes: a metric, quiet time, or a batch."""

    def __init__(
        self,
        run: RunRef,
        definition: dict[str, Any],
        app_settings: dict[str, Any],
        setups: list[Treatment],
        history: dict[str, tuple[int, int]],
        now: datetime,
        trigger: str | None = None,
        allocation: Allocation | None = None,  # allocation_of's answer, when the caller made it already
    ) -> None:
        self.run = run
        # An event-triggered send: its own targeting record and idempotency key per event.
        self.trigger = trigger
        tag = run.run_number if run.treatment is None else f"t{run.treatment}-{run.run_number}"
        self.scope = f"campaign-{run.app_id}-{run.campaign_id}"
        self.step = trigger or str(tag)
        # The treatments this run sends (a treatment on a schedule of its own runs apart).
        self.group = set(treatment_ids(definition)) if trigger else set(group_treatments(definition, run.treatment))
        self.definition = definition
        self.setups = {s.id: s for s in setups}
        schedule = definition.get("Schedule") or {}
        self.quiet = schedule.get("QuietTime") or app_settings.get("QuietTime")
        self.limits = definition.get("Limits") or {}
        self.app_limits = app_settings.get("Limits") or {}
        self.history = history
        self.allocation = allocation or allocation_of(definition)
        self.now = now
        self.expired = not limit_rules.within_maximum_duration(self.limits, as_utc(run.scheduled_start), self.now)
        self.by_treatment: dict[str, TreatmentCounts] = {}
        self.targeted: list[dict[str, Any]] = []
        self.sent = 0
        self._groups: dict[tuple[str, str], list[Recipient]] = {}
        self.lanes = SEND_CONCURRENCY  # the batches it is cut into: the sender's provider connections

    def counts(self, treatment: str) -> TreatmentCounts:
        return self.by_treatment.setdefault(treatment, TreatmentCounts())

    def _metric(self, treatment: str, name: str) -> None:
        c = self.counts(treatment)
        c.metrics[name] = c.metrics.get(name, 0) + 1

    def count_failure(self, treatment: str, delivery_status: str) -> None:
        """A targeted message that was not delivered, under its DeliveryStatus as the key."""
        self._metric(treatment, delivery_status)

    def place(self, row: dict[str, Any]) -> None:
        treatment = treatment_for(int(row["cohort_id"]), self.allocation)
        key = treatment or DEFAULT_TREATMENT
        if key not in self.group:
            return  # another schedule group's endpoint
        self._metric(key, PRODUCED)
        if treatment is None:
            self._metric(key, HOLDOUT)
            return
        setup = self.setups[treatment]
        channel = sending_channel(row["channel_type"], setup.custom_uri, setup.custom_types)
        reason = unreachable(row)
        if reason is None and setup.contents.get(channel) is None:
            reason = CHANNEL_MISMATCH
        if reason is None and self.expired:
            reason = EXPIRED
        if reason is not None:
            self._metric(treatment, reason)
            return
        life, day = self.history.get(row["id"], (0, 0))
        if not limit_rules.may_target(self.limits, self.app_limits, sent_today=day, total_targeted=life):
            self._metric(treatment, LIMITED)
            return
        self.targeted.append(
            {
                "app_id": self.run.app_id,
                "campaign_id": self.run.campaign_id,
                "endpoint_id": row["id"],
                "activity_id": self._aid(treatment),
                "targeted_at": as_utc(self.run.scheduled_start),
            }
        )
        self.counts(treatment).total += 1
        timezone = (row["demographic"] or {}).get("Timezone")
        if quiet_time.in_quiet_time(self.quiet, timezone, self.now):
            self._metric(treatment, QUIET)  # targeted, counted, not sent (no queueing)
            return
        self.sent += 1
        recipient = endpoint_recipient(idempotency_key(self.scope, self.step, row["id"]), row)
        self._groups.setdefault((treatment, channel), []).append(recipient)

    def recipients_by_treatment(self) -> dict[str, list[Recipient]]:
        out: dict[str, list[Recipient]] = {}
        for (treatment, _), recipients in self._groups.items():
            out.setdefault(treatment, []).extend(recipients)
        return out

    def keep(self, treatment: str, allowed: dict[str, Any], metric: str) -> None:
        """Keep only `allowed` recipients of `treatment` (their endpoint data overlaid by what
        the hook answered); the others are neither targeted nor sent."""
        dropped: set[str] = set()
        for (t, channel), recipients in list(self._groups.items()):
            if t != treatment:
                continue
            kept = []
            for r in recipients:
                data = allowed.get(r.endpoint_id or "")
                if isinstance(data, dict):
                    kept.append(replace(r, endpoint={**r.endpoint, **data}))
                else:
                    dropped.add(r.endpoint_id or "")
                    self._metric(treatment, metric)
            self._groups[(t, channel)] = kept
        counts = self.counts(treatment)
        counts.total -= len(dropped)
        self.sent -= len(dropped)
        self.targeted = [
            row
            for row in self.targeted
            if not (row["endpoint_id"] in dropped and row["activity_id"] == self._aid(treatment))
        ]

    def _aid(self, treatment: str) -> str:
        return self.trigger or activity_id(self.run.campaign_id, self.run.run_number, treatment)

    @property
    def batches(self) -> list[tuple[str, DeliveryBatch]]:
        """The page's messages, each batch with its treatment: about `lanes` batches
        of equal size (SUB_BATCH at most), so that every provider connection the page holds is
        busy until the page ends: fixed 100-recipient batches left 2 of 8 connections working
        through the last fifth of a 1,000-member page."""
        out = []
        even = max(1, min(SUB_BATCH, -(-self.sent // self.lanes)))
        for (treatment, channel), recipients in self._groups.items():
            content = self.setups[treatment].contents[channel]
            assert content is not None
            # A Lambda function (custom channel or DELIVERY hook) is invoked once per 50
            # endpoints of a batch: cut evenly, a page would cost it many small invocations.
            function = channel == "CUSTOM" and not is_https(str(content.get("url") or ""))
            size = FUNCTION_BATCH if function else even
            attributes = {
                "campaign_id": self.run.campaign_id,
                "treatment_id": treatment,
                "campaign_activity_id": activity_id(self.run.campaign_id, self.run.run_number, treatment),
            }
            for i in range(0, len(recipients), size):
                batch = DeliveryBatch(
                    app_id=self.run.app_id,
                    channel=channel,
                    source="campaign",
                    source_id=self.run.campaign_id,
                    content=content,
                    recipients=recipients[i : i + size],
                    max_attempts=LAST_SEND_ATTEMPT,
                    attributes=attributes,
                )
                out.append((treatment, batch))
        return out
