"""Scheduled campaigns over days and months, on Temporal's time-skipping test server.

The project, channel, endpoints and segment are made through the gateway (the normal stack), and
the campaign rows are written as CreateCampaign/UpdateCampaign write them, without the gateway,
so that only the CampaignWorkflow started here on the time-skipping server runs them: the
gateway would start its own copy on the dev server. The worker is the real one (`build_worker`)
with the real activities, PostgreSQL and SMTP server; what the tests read is what a user sees:
GetCampaign, GetCampaignActivities through the gateway, and the mail that arrived.

The test server's clock is global and only moves forward, so every test places its schedule
after the clock's current time. It skips ahead only while nothing is in flight (workflow tasks
and activities run in real time), so when `advance_to` returns, every run due before that
instant has finished.
"""

from __future__ import annotations

import asyncio
import calendar
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from rules import campaigns as campaign_rules
from store import campaigns as campaigns_store
from tests.smtp_sink import SmtpServer
from tests.stack import Stack
from tests.workflows.journey_harness import env
from worker.main import build_worker
from workflows.campaign import REFRESH, CampaignInput, CampaignWorkflow, workflow_id

NEW_YORK = ZoneInfo("America/New_York")
__all__ = ["env"]  # the time-skipping server fixture, shared with the journey tests


@pytest.fixture(scope="module")
async def task_queue(env: WorkflowEnvironment, stack: Stack, engine: AsyncEngine) -> AsyncIterator[str]:
    """The real worker, configured as the stack's (same SMTP server, master key), polling the
    time-skipping server."""
    queue = f"campaign-schedules-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, stack.settings, engine, task_queue=queue):
        yield queue


@dataclass
class Audience:
    app_id: str
    segment_id: str
    members: list[str]  # addresses of the segment's endpoints
    outsider: str  # an address in the project but not in the segment


def _email_endpoint(endpoint_id: str, address: str, plan: str) -> dict[str, Any]:
    return {"Id": endpoint_id, "Address": address, "ChannelType": "EMAIL", "Attributes": {"Plan": [plan]}}


@pytest.fixture
def audience(pinpoint: Any, app_id: str) -> Audience:
    """An email project whose segment "gold" has three endpoints; a fourth is not in it."""
    pinpoint.update_email_channel(
        ApplicationId=app_id, EmailChannelRequest={"FromAddress": "news@example.com", "Identity": "example.com"}
    )
    tag = secrets.token_hex(3)
    addresses = [f"m{i}-{tag}@example.com" for i in range(4)]
    items = [_email_endpoint(f"e{i}", a, "gold" if i < 3 else "free") for i, a in enumerate(addresses)]
    pinpoint.update_endpoints_batch(ApplicationId=app_id, EndpointBatchRequest={"Item": items})
    segment = pinpoint.create_segment(
        ApplicationId=app_id,
        WriteSegmentRequest={
            "Name": "gold",
            "Dimensions": {"Attributes": {"Plan": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}},
        },
    )["SegmentResponse"]["Id"]
    return Audience(app_id, segment, addresses[:3], addresses[3])


@dataclass
class Campaign:
    app_id: str
    id: str
    handle: WorkflowHandle[Any, Any]
    request: dict[str, Any]


@dataclass
class Campaigns:
    """Writes campaigns as the campaign API does and drives their workflows on the time-skipping
    server; reads them back through the gateway."""

    env: WorkflowEnvironment
    engine: AsyncEngine
    pinpoint: Any
    smtp: SmtpServer
    task_queue: str
    started: list[Campaign] = field(default_factory=list)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance_to(self, instant: datetime) -> None:
        """Let the server's clock run to `instant`, every timer due before it firing."""
        gap = instant - await self.now()
        assert gap > timedelta(0), f"the clock is already past {instant}"
        await self.env.sleep(gap)

    async def create(self, audience: Audience, schedule: dict[str, Any], **members: Any) -> Campaign:
        request = _request(audience.segment_id, schedule, **members)
        campaign_rules.check_campaign(request, now=await self.now())  # one CreateCampaign would accept
        campaign_id = uuid.uuid4().hex
        async with self.engine.begin() as conn:
            await campaigns_store.create(
                conn,
                app_id=audience.app_id,
                campaign_id=campaign_id,
                definition=campaign_rules.stored_definition(request),
            )
        campaign = Campaign(audience.app_id, campaign_id, await self._drive(audience.app_id, campaign_id), request)
        self.started.append(campaign)
        return campaign

    async def update(self, campaign: Campaign, **changes: Any) -> None:
        """UpdateCampaign: a new version replacing the definition, then the refresh signal."""
        request = {**campaign.request, **changes}
        accepted = campaign_rules.start_times(campaign.request)
        campaign_rules.check_campaign(request, now=await self.now(), accepted_starts=accepted)
        async with self.engine.begin() as conn:
            await campaigns_store.add_version(
                conn,
                app_id=campaign.app_id,
                campaign_id=campaign.id,
                definition=campaign_rules.stored_definition(request),
            )
        campaign.request = request
        campaign.handle = await self._drive(campaign.app_id, campaign.id)

    async def _drive(self, app_id: str, campaign_id: str) -> WorkflowHandle[Any, Any]:
        """What the API does after writing (engine/commands.py): one signal-with-start,
        which starts the workflow or tells the running one to re-read the campaign."""
        return await self.env.client.start_workflow(
            CampaignWorkflow.run,
            CampaignInput(app_id, campaign_id),
            id=workflow_id(app_id, campaign_id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=REFRESH,
        )

    async def status(self, campaign: Campaign) -> str:
        response = await asyncio.to_thread(
            self.pinpoint.get_campaign, ApplicationId=campaign.app_id, CampaignId=campaign.id
        )
        return str(response["CampaignResponse"]["State"]["CampaignStatus"])

    async def activities(self, campaign: Campaign) -> list[dict[str, Any]]:
        """GetCampaignActivities, oldest run first."""
        response = await asyncio.to_thread(
            self.pinpoint.get_campaign_activities, ApplicationId=campaign.app_id, CampaignId=campaign.id
        )
        items: list[dict[str, Any]] = response["ActivitiesResponse"]["Item"]
        return sorted(items, key=lambda a: (a["ScheduledStart"], a["TreatmentId"]))

    async def run_starts(self, campaign: Campaign) -> list[datetime]:
        """When each run was scheduled to start, one entry per run (not per treatment)."""
        starts = {datetime.fromisoformat(a["ScheduledStart"]) for a in await self.activities(campaign)}
        return sorted(starts)

    async def workflow_status(self, campaign: Campaign) -> WorkflowExecutionStatus | None:
        return (await campaign.handle.describe()).status  # the latest run, after continue-as-new

    def subjects(self, address: str) -> list[str]:
        return [str(m.message["Subject"]) for m in self.smtp.sink.to(address)]

    def mails(self, audience: Audience) -> list[int]:
        """How many mails each member got, and last the outsider."""
        return [len(self.smtp.sink.to(a)) for a in [*audience.members, audience.outsider]]


def _request(segment_id: str, schedule: dict[str, Any], title: str = "News", **members: Any) -> dict[str, Any]:
    return {
        "Name": "schedules",
        "SegmentId": segment_id,
        "Schedule": schedule,
        "MessageConfiguration": {"EmailMessage": {"Title": title, "Body": "What is new this time."}},
        **members,
    }


@pytest.fixture
async def campaigns(
    env: WorkflowEnvironment, task_queue: str, engine: AsyncEngine, pinpoint: Any, smtp: SmtpServer
) -> AsyncIterator[Campaigns]:
    c = Campaigns(env, engine, pinpoint, smtp, task_queue)
    yield c
    # A test that failed half-way must not leave runs firing while later tests skip time.
    for campaign in c.started:
        if await c.workflow_status(campaign) == WorkflowExecutionStatus.RUNNING:
            await campaign.handle.cancel()


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _next_hour(campaigns: Campaigns) -> datetime:
    """A whole hour at least an hour ahead of the server's clock."""
    now = await campaigns.now()
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)


def _dst_change(after: date, month: int) -> date:
    """The first day after `after`, in `month`, on which New York's clocks change."""
    day = after
    while True:
        day += timedelta(days=1)
        noon_before = datetime.combine(day - timedelta(days=1), time(12), NEW_YORK)
        if day.month == month and datetime.combine(day, time(12), NEW_YORK).utcoffset() != noon_before.utcoffset():
            return day


async def test_hourly_runs_every_hour_until_end_time(campaigns: Campaigns, audience: Audience) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=5)), "Frequency": "HOURLY"}
    )
    assert await campaigns.status(campaign) == "SCHEDULED"

    await campaigns.advance_to(t0 + timedelta(hours=2, minutes=30))
    assert await campaigns.run_starts(campaign) == [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2)]
    assert campaigns.mails(audience) == [3, 3, 3, 0]
    assert await campaigns.status(campaign) == "PENDING_NEXT_RUN"

    await campaigns.advance_to(t0 + timedelta(hours=6))
    assert await campaigns.run_starts(campaign) == [t0 + timedelta(hours=h) for h in range(5)]
    assert campaigns.mails(audience) == [5, 5, 5, 0]
    runs = await campaigns.activities(campaign)
    assert {(a["State"], a["Result"], a["SuccessfulEndpointCount"]) for a in runs} == {("COMPLETED", "SUCCESS", 3)}
    assert await campaigns.status(campaign) == "COMPLETED"
    assert await campaigns.workflow_status(campaign) == WorkflowExecutionStatus.COMPLETED


async def test_each_run_reaches_the_segment_as_it_is_then(
    campaigns: Campaigns, audience: Audience, pinpoint: Any
) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=3)), "Frequency": "HOURLY"}
    )
    await campaigns.advance_to(t0 + timedelta(minutes=30))
    newcomer = f"late-{secrets.token_hex(3)}@example.com"
    await asyncio.to_thread(
        pinpoint.update_endpoint,
        ApplicationId=audience.app_id,
        EndpointId="late",
        EndpointRequest={"Address": newcomer, "ChannelType": "EMAIL", "Attributes": {"Plan": ["gold"]}},
    )
    await campaigns.advance_to(t0 + timedelta(hours=3, minutes=30))
    assert campaigns.mails(audience) == [3, 3, 3, 0]
    assert len(campaigns.smtp.sink.to(newcomer)) == 2
    counts = [a["SuccessfulEndpointCount"] for a in await campaigns.activities(campaign)]
    assert counts == [3, 4, 4]


@pytest.mark.parametrize(
    ("month", "utc_hours"),
    [
        pytest.param(3, [14, 14, 13, 13, 13], id="spring-forward"),
        pytest.param(11, [13, 13, 14, 14, 14], id="fall-back"),
    ],
)
async def test_daily_runs_keep_their_local_time_across_a_dst_change(
    campaigns: Campaigns, audience: Audience, month: int, utc_hours: list[int]
) -> None:
    """09:00 in New York, from two days before the clocks change to two days after."""
    change = _dst_change((await campaigns.now()).date() + timedelta(days=3), month)
    first = change - timedelta(days=2)
    start = datetime.combine(first, time(9), NEW_YORK)
    end = datetime.combine(change + timedelta(days=3), time(0), NEW_YORK)
    campaign = await campaigns.create(
        audience,
        {"StartTime": _iso(start), "EndTime": _iso(end), "Frequency": "DAILY", "Timezone": "America/New_York"},
    )
    await campaigns.advance_to(end + timedelta(hours=1))
    expected = [datetime.combine(first + timedelta(days=d), time(h), UTC) for d, h in enumerate(utc_hours)]
    assert await campaigns.run_starts(campaign) == expected
    assert campaigns.mails(audience) == [5, 5, 5, 0]
    assert await campaigns.status(campaign) == "COMPLETED"


async def test_weekly_runs_every_seven_days_with_one_activity_per_treatment(
    campaigns: Campaigns, audience: Audience
) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience,
        {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(days=20)), "Frequency": "WEEKLY"},
        AdditionalTreatments=[
            {"SizePercent": 50, "MessageConfiguration": {"EmailMessage": {"Title": "News B", "Body": "B"}}}
        ],
    )
    await campaigns.advance_to(t0 + timedelta(days=21))
    runs = await campaigns.activities(campaign)
    weeks = [t0 + timedelta(days=7 * w) for w in range(3)]
    assert [(datetime.fromisoformat(a["ScheduledStart"]), a["TreatmentId"]) for a in runs] == [
        (week, treatment) for week in weeks for treatment in ("0", "1")
    ]
    assert [sum(a["SuccessfulEndpointCount"] for a in runs[i : i + 2]) for i in (0, 2, 4)] == [3, 3, 3]
    assert campaigns.mails(audience) == [3, 3, 3, 0]
    assert await campaigns.status(campaign) == "COMPLETED"


async def test_monthly_from_the_31st_falls_on_each_months_last_day(campaigns: Campaigns, audience: Audience) -> None:
    today = (await campaigns.now()).date()
    year = today.year + 1 if today >= date(today.year, 1, 30) else today.year
    start = datetime(year, 1, 31, 12, tzinfo=UTC)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(start), "EndTime": _iso(datetime(year, 5, 1, tzinfo=UTC)), "Frequency": "MONTHLY"}
    )
    await campaigns.advance_to(datetime(year, 5, 2, tzinfo=UTC))
    february = 29 if calendar.isleap(year) else 28
    assert await campaigns.run_starts(campaign) == [
        start,
        start.replace(month=2, day=february),
        start.replace(month=3, day=31),
        start.replace(month=4, day=30),
    ]
    assert campaigns.mails(audience) == [4, 4, 4, 0]
    assert await campaigns.status(campaign) == "COMPLETED"


async def test_no_run_starts_at_end_time(campaigns: Campaigns, audience: Audience) -> None:
    """EndTime is exclusive: a daily campaign ending exactly two days after it starts runs twice."""
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(days=2)), "Frequency": "DAILY"}
    )
    await campaigns.advance_to(t0 + timedelta(days=4))
    assert await campaigns.run_starts(campaign) == [t0, t0 + timedelta(days=1)]
    assert campaigns.mails(audience) == [2, 2, 2, 0]
    assert await campaigns.status(campaign) == "COMPLETED"
    assert await campaigns.workflow_status(campaign) == WorkflowExecutionStatus.COMPLETED


async def test_a_once_campaign_in_the_future_runs_once_at_its_start(campaigns: Campaigns, audience: Audience) -> None:
    t0 = await _next_hour(campaigns) + timedelta(days=3)
    campaign = await campaigns.create(audience, {"StartTime": _iso(t0), "Frequency": "ONCE"})

    await campaigns.advance_to(t0 - timedelta(minutes=1))
    assert await campaigns.activities(campaign) == []
    assert campaigns.mails(audience) == [0, 0, 0, 0]
    assert await campaigns.status(campaign) == "SCHEDULED"

    await campaigns.advance_to(t0 + timedelta(days=2))
    assert await campaigns.run_starts(campaign) == [t0]
    assert campaigns.mails(audience) == [1, 1, 1, 0]
    assert await campaigns.status(campaign) == "COMPLETED"
    assert await campaigns.workflow_status(campaign) == WorkflowExecutionStatus.COMPLETED


async def test_a_paused_campaign_skips_the_runs_due_and_resumes_at_the_next(
    campaigns: Campaigns, audience: Audience
) -> None:
    """Created paused, resumed, paused again for one run, resumed again."""
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience,
        {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=5)), "Frequency": "HOURLY"},
        IsPaused=True,
    )
    await campaigns.advance_to(t0 + timedelta(hours=1, minutes=30))
    assert await campaigns.activities(campaign) == []
    assert campaigns.mails(audience) == [0, 0, 0, 0]
    assert await campaigns.status(campaign) == "PAUSED"

    await campaigns.update(campaign, IsPaused=False)
    assert await campaigns.status(campaign) == "PENDING_NEXT_RUN"
    await campaigns.advance_to(t0 + timedelta(hours=2, minutes=30))
    await campaigns.update(campaign, IsPaused=True)
    await campaigns.advance_to(t0 + timedelta(hours=3, minutes=30))
    assert await campaigns.status(campaign) == "PAUSED"
    await campaigns.update(campaign, IsPaused=False)
    await campaigns.advance_to(t0 + timedelta(hours=6))

    assert await campaigns.run_starts(campaign) == [t0 + timedelta(hours=2), t0 + timedelta(hours=4)]
    assert campaigns.mails(audience) == [2, 2, 2, 0]
    assert await campaigns.status(campaign) == "COMPLETED"


async def test_an_earlier_end_time_stops_the_remaining_runs(campaigns: Campaigns, audience: Audience) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=5)), "Frequency": "HOURLY"}
    )
    await campaigns.advance_to(t0 + timedelta(hours=1, minutes=30))
    await campaigns.update(
        campaign, Schedule={**campaign.request["Schedule"], "EndTime": _iso(t0 + timedelta(hours=2))}
    )
    await campaigns.advance_to(t0 + timedelta(hours=6))
    assert await campaigns.run_starts(campaign) == [t0, t0 + timedelta(hours=1)]
    assert campaigns.mails(audience) == [2, 2, 2, 0]
    assert await campaigns.status(campaign) == "COMPLETED"
    assert await campaigns.workflow_status(campaign) == WorkflowExecutionStatus.COMPLETED


async def test_an_updated_message_goes_out_from_the_next_run(campaigns: Campaigns, audience: Audience) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience,
        {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=3)), "Frequency": "HOURLY"},
        title="First",
    )
    await campaigns.advance_to(t0 + timedelta(minutes=30))
    await campaigns.update(
        campaign, MessageConfiguration={"EmailMessage": {"Title": "Second", "Body": "What is new now."}}
    )
    await campaigns.advance_to(t0 + timedelta(hours=4))
    assert [campaigns.subjects(a) for a in audience.members] == [["First", "Second", "Second"]] * 3
    assert await campaigns.run_starts(campaign) == [t0 + timedelta(hours=h) for h in range(3)]


async def test_cancelling_the_workflow_stops_further_runs(campaigns: Campaigns, audience: Audience) -> None:
    """What DeleteCampaign does to the workflow (the rows are kept here, so only the
    cancellation can be what stops the runs)."""
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=5)), "Frequency": "HOURLY"}
    )
    await campaigns.advance_to(t0 + timedelta(hours=1, minutes=30))
    assert campaigns.mails(audience) == [2, 2, 2, 0]

    await campaign.handle.cancel()
    await campaigns.advance_to(t0 + timedelta(hours=6))
    assert campaigns.mails(audience) == [2, 2, 2, 0]
    assert await campaigns.run_starts(campaign) == [t0, t0 + timedelta(hours=1)]
    assert await campaigns.workflow_status(campaign) == WorkflowExecutionStatus.CANCELED


async def test_a_daily_limit_of_one_lets_every_daily_run_through(campaigns: Campaigns, audience: Audience) -> None:
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience,
        {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(days=3)), "Frequency": "DAILY"},
        Limits={"Daily": 1},
    )
    await campaigns.advance_to(t0 + timedelta(days=4))
    assert await campaigns.run_starts(campaign) == [t0 + timedelta(days=d) for d in range(3)]
    assert campaigns.mails(audience) == [3, 3, 3, 0]


async def test_a_new_frequency_starts_at_its_next_run_without_catching_up(
    campaigns: Campaigns, audience: Audience
) -> None:
    """Daily, switched to hourly five and a half hours after the first run: the hourly runs
    start on the next hour; the hours already past are not sent after the fact."""
    t0 = await _next_hour(campaigns)
    campaign = await campaigns.create(
        audience, {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(days=3)), "Frequency": "DAILY"}
    )
    await campaigns.advance_to(t0 + timedelta(hours=5, minutes=30))
    schedule = {"StartTime": _iso(t0), "EndTime": _iso(t0 + timedelta(hours=8)), "Frequency": "HOURLY"}
    await campaigns.update(campaign, Schedule=schedule)
    await campaigns.advance_to(t0 + timedelta(hours=9))
    assert await campaigns.run_starts(campaign) == [t0, t0 + timedelta(hours=6), t0 + timedelta(hours=7)]
    assert campaigns.mails(audience) == [3, 3, 3, 0]
