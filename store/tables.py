"""The tables, as SQLModel classes.

JSON-shaped Pinpoint members (attributes, demographics, settings) are JSONB so that segment
queries can index into them; everything a query filters or joins on is a real column.
`events` is partitioned by the day it was received in the migrations (SQLModel cannot say so), which is why it has no
primary key here beyond the mapper's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _jsonb(default: str = "'{}'::jsonb", nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(JSONB, nullable=nullable, server_default=text(default) if default else None),
    )


def _ts(nullable: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, server_default=text("now()")),
    )


class AccessKey(SQLModel, table=True):
    """An API key pair. The secret is kept encrypted (SigV4 needs it to recompute signatures)."""

    __tablename__ = "access_keys"
    access_key_id: str = Field(primary_key=True, max_length=128)
    secret_ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    description: str = ""
    # Project ids the key may touch; NULL means every project.
    project_ids: list[str] | None = _jsonb(default="", nullable=True)
    active: bool = True
    created_at: datetime | None = _ts()


class App(SQLModel, table=True):
    __tablename__ = "apps"
    id: str = Field(primary_key=True, max_length=32)
    name: str
    created_at: datetime | None = _ts()
    settings: dict[str, Any] | None = _jsonb()
    settings_modified_at: datetime | None = _ts()
    # RemoveAttributes: attribute-type -> names whose new values are no longer recorded.
    removed_attributes: dict[str, Any] | None = _jsonb()


class ResourceTags(SQLModel, table=True):
    """Tags of any taggable resource, keyed by its ARN (one mechanism for every resource type)."""

    __tablename__ = "resource_tags"
    arn: str = Field(primary_key=True)
    app_id: str | None = Field(default=None, index=True)
    tags: dict[str, str] | None = _jsonb()


class Endpoint(SQLModel, table=True):
    __tablename__ = "endpoints"
    __table_args__ = (
        Index("ix_endpoints_user", "app_id", "user_id"),
        Index("ix_endpoints_address", "app_id", "address"),
    )
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True)
    address: str | None = None
    channel_type: str | None = None
    endpoint_status: str = "ACTIVE"
    opt_out: str = "NONE"
    user_id: str | None = None
    cohort_id: int = 0
    request_id: str | None = None
    effective_date: str | None = None
    attributes: dict[str, Any] | None = _jsonb()
    user_attributes: dict[str, Any] | None = _jsonb()
    metrics: dict[str, Any] | None = _jsonb()
    demographic: dict[str, Any] | None = _jsonb()
    location: dict[str, Any] | None = _jsonb()
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    # Last time the endpoint was seen (update, event or session): the recency dimension reads it.
    last_active_at: datetime | None = _ts()


class Event(SQLModel, table=True):
    __tablename__ = "events"
    # Partitioned by received_at in the migrations (rules/retention.py); the mapper needs some key.
    app_id: str = Field(primary_key=True, max_length=32)
    event_time: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    endpoint_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    event_type: str
    session_id: str | None = None
    attributes: dict[str, Any] | None = _jsonb()
    metrics: dict[str, Any] | None = _jsonb()
    client: dict[str, Any] | None = _jsonb()  # AppPackageName, AppTitle, SdkName, ...
    received_at: datetime | None = _ts()


class AppSession(SQLModel, table=True):
    """One app-usage period of an endpoint, folded from the events that carry it."""

    __tablename__ = "sessions"
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True)
    endpoint_id: str
    start_time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    stop_time: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    duration_ms: int | None = Field(default=None, sa_column=Column(BigInteger))


class Channel(SQLModel, table=True):
    __tablename__ = "channels"
    app_id: str = Field(primary_key=True, max_length=32)
    channel_type: str = Field(primary_key=True)
    enabled: bool = True
    settings: dict[str, Any] | None = _jsonb()
    secret_ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    version: int = 1
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class Delivery(SQLModel, table=True):
    """One message to one address, keyed by its idempotency key.

    The row is written before the provider is called; a retried activity that finds it does not
    call the provider again.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_app_time", "app_id", "created_at"),)
    idempotency_key: str = Field(primary_key=True)
    app_id: str = Field(max_length=32)
    channel: str
    address: str
    endpoint_id: str | None = None
    source: str = Field(sa_column=Column(String, nullable=False, server_default="direct"))
    source_id: str | None = None
    status: str = "PENDING"
    status_code: int | None = None
    status_message: str | None = None
    message_id: str | None = None
    attempts: int = 0
    # Attributes engagement events inherit (source ids, treatment, the request's Context).
    context: dict[str, Any] | None = _jsonb(default="", nullable=True)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class Segment(SQLModel, table=True):
    __tablename__ = "segments"
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    segment_type: str
    version: int = 1
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class SegmentVersion(SQLModel, table=True):
    __tablename__ = "segment_versions"
    app_id: str = Field(primary_key=True, max_length=32)
    segment_id: str = Field(primary_key=True, max_length=32)
    version: int = Field(primary_key=True)
    name: str | None = None
    dimensions: dict[str, Any] | None = _jsonb(default="", nullable=True)
    segment_groups: dict[str, Any] | None = _jsonb(default="", nullable=True)
    import_definition: dict[str, Any] | None = _jsonb(default="", nullable=True)
    created_at: datetime | None = _ts()


class SegmentMember(SQLModel, table=True):
    __tablename__ = "segment_members"
    app_id: str = Field(primary_key=True, max_length=32)
    segment_id: str = Field(primary_key=True, max_length=32)
    endpoint_id: str = Field(primary_key=True)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    job_type: str
    status: str = "CREATED"
    definition: dict[str, Any] | None = _jsonb()
    segment_id: str | None = None
    total_pieces: int = 0
    completed_pieces: int = 0
    failed_pieces: int = 0
    total_processed: int = 0
    total_failures: int = 0
    failures: list[str] | None = _jsonb(default="'[]'::jsonb")
    created_at: datetime | None = _ts()
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Template(SQLModel, table=True):
    """A message template; account-level (no project), unique per type and name."""

    __tablename__ = "templates"
    template_type: str = Field(primary_key=True, max_length=8)
    name: str = Field(primary_key=True, max_length=128)
    latest_version: int
    active_version: int
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class TemplateVersion(SQLModel, table=True):
    __tablename__ = "template_versions"
    template_type: str = Field(primary_key=True, max_length=8)
    name: str = Field(primary_key=True, max_length=128)
    version: int = Field(primary_key=True)
    content: dict[str, Any] | None = _jsonb(default="")
    default_substitutions: str | None = None
    description: str | None = None
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class OtpCode(SQLModel, table=True):
    __tablename__ = "otp_codes"
    app_id: str = Field(primary_key=True, max_length=32)
    reference_id: str = Field(primary_key=True, max_length=48)
    destination: str = Field(primary_key=True)
    code_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    attempts_left: int
    created_at: datetime | None = _ts()


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    version: int = 1
    state: str = "SCHEDULED"
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class CampaignVersion(SQLModel, table=True):
    __tablename__ = "campaign_versions"
    app_id: str = Field(primary_key=True, max_length=32)
    campaign_id: str = Field(primary_key=True, max_length=32)
    version: int = Field(primary_key=True)
    definition: dict[str, Any] | None = _jsonb(default="")
    created_at: datetime | None = _ts()


class CampaignActivity(SQLModel, table=True):
    """One run of one treatment (ActivityResponse)."""

    __tablename__ = "campaign_activities"
    app_id: str = Field(primary_key=True, max_length=32)
    campaign_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    run_number: int
    treatment_id: str
    campaign_version: int
    scheduled_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    state: str = "PENDING"
    result: str | None = None
    total_endpoint_count: int = 0
    successful_endpoint_count: int = 0
    timezones_total_count: int = 0
    timezones_completed_count: int = 0
    execution_metrics: dict[str, Any] | None = _jsonb()


class CampaignTarget(SQLModel, table=True):
    __tablename__ = "campaign_targets"
    app_id: str = Field(primary_key=True, max_length=32)
    campaign_id: str = Field(primary_key=True, max_length=32)
    endpoint_id: str = Field(primary_key=True)
    activity_id: str = Field(primary_key=True, max_length=64)
    targeted_at: datetime | None = _ts()


class Journey(SQLModel, table=True):
    __tablename__ = "journeys"
    app_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    state: str = "DRAFT"
    definition: dict[str, Any] | None = _jsonb(default="")
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    paused_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class JourneyRun(SQLModel, table=True):
    __tablename__ = "journey_runs"
    app_id: str = Field(primary_key=True, max_length=32)
    journey_id: str = Field(primary_key=True, max_length=32)
    run_id: str = Field(primary_key=True, max_length=32)
    run_number: int
    status: str = "SCHEDULED"
    metrics: dict[str, Any] | None = _jsonb()
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class JourneyParticipant(SQLModel, table=True):
    __tablename__ = "journey_participants"
    app_id: str = Field(primary_key=True, max_length=32)
    journey_id: str = Field(primary_key=True, max_length=32)
    participant: str = Field(primary_key=True)
    entry_key: str = Field(primary_key=True)
    kind: str = "ENDPOINT"
    entry_number: int
    run_id: str | None = None
    test_run_id: str | None = None
    workflow_id: str
    status: str = "ACTIVE"
    current_activity: str | None = None
    entered_at: datetime | None = _ts()
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class JourneyStep(SQLModel, table=True):
    __tablename__ = "journey_steps"
    app_id: str = Field(primary_key=True, max_length=32)
    journey_id: str = Field(primary_key=True, max_length=32)
    participant: str = Field(primary_key=True)
    entry_key: str = Field(primary_key=True)
    activity_id: str = Field(primary_key=True, max_length=128)
    run_id: str | None = None
    test_run_id: str | None = None
    outcome: str
    next_activity: str | None = None
    detail: dict[str, Any] | None = _jsonb()
    at: datetime | None = _ts()


class JourneyTestRun(SQLModel, table=True):
    __tablename__ = "journey_test_runs"
    app_id: str = Field(primary_key=True, max_length=32)
    journey_id: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=32)
    options: dict[str, Any] | None = _jsonb()
    created_at: datetime | None = _ts()


class JourneyListener(SQLModel, table=True):
    __tablename__ = "journey_listeners"
    app_id: str = Field(primary_key=True, max_length=32)
    endpoint_id: str = Field(primary_key=True)
    workflow_id: str = Field(primary_key=True)
    journey_id: str
    since: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
