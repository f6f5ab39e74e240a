"""Campaigns: versioned definitions, their runs per treatment (GetCampaignActivities), and who
each run targeted (Limits.Total and Daily count targeting, not delivery).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE campaigns (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar(32) NOT NULL,
        version integer NOT NULL DEFAULT 1,      -- the latest version
        -- What the workflow is doing, kept true by its activities: SCHEDULED | EXECUTING |
        -- PENDING_NEXT_RUN | COMPLETED | PAUSED | DELETED | INVALID.
        state varchar NOT NULL DEFAULT 'SCHEDULED',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, id)
    )
    """,
    """
    CREATE TABLE campaign_versions (
        app_id varchar(32) NOT NULL,
        campaign_id varchar(32) NOT NULL,
        version integer NOT NULL,
        -- The WriteCampaignRequest as accepted (tags excluded), with every treatment's Id filled
        -- in ("0" for the default treatment, "1".. for AdditionalTreatments).
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, campaign_id, version),
        FOREIGN KEY (app_id, campaign_id) REFERENCES campaigns(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    -- One row per run and treatment: what GetCampaignActivities returns (ActivityResponse).
    CREATE TABLE campaign_activities (
        app_id varchar(32) NOT NULL,
        campaign_id varchar(32) NOT NULL,
        id varchar(32) NOT NULL,
        run_number integer NOT NULL,
        treatment_id varchar(8) NOT NULL,
        campaign_version integer NOT NULL,
        scheduled_start timestamptz NOT NULL,
        started_at timestamptz,
        ended_at timestamptz,
        state varchar NOT NULL DEFAULT 'PENDING', -- PENDING | INITIALIZING | RUNNING | PAUSED | CANCELLED | COMPLETED
        result varchar,                          -- SUCCESS | FAIL
        total_endpoint_count integer NOT NULL DEFAULT 0,
        successful_endpoint_count integer NOT NULL DEFAULT 0,
        timezones_total_count integer NOT NULL DEFAULT 0,
        timezones_completed_count integer NOT NULL DEFAULT 0,
        execution_metrics jsonb NOT NULL DEFAULT '{}'::jsonb,  -- ENDPOINT_OPT_OUT, TREATMENT_HOLDOUT, ...
        PRIMARY KEY (app_id, campaign_id, id),
        UNIQUE (app_id, campaign_id, run_number, treatment_id),
        FOREIGN KEY (app_id, campaign_id) REFERENCES campaigns(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    -- Who a run targeted (sent, or blocked by quiet time): Limits.Total / Daily count these.
    CREATE TABLE campaign_targets (
        app_id varchar(32) NOT NULL,
        campaign_id varchar(32) NOT NULL,
        endpoint_id varchar NOT NULL,
        activity_id varchar(64) NOT NULL,        -- a run's activity id, or an event's trigger id
        targeted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, campaign_id, endpoint_id, activity_id),
        FOREIGN KEY (app_id, campaign_id) REFERENCES campaigns(app_id, id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX ix_campaign_targets_time ON campaign_targets (app_id, endpoint_id, targeted_at)",
    # Per-endpoint daily caps across campaigns read the delivery log by endpoint and time.
    "CREATE INDEX ix_deliveries_endpoint_time ON deliveries (app_id, endpoint_id, created_at)"
    " WHERE endpoint_id IS NOT NULL",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP INDEX ix_deliveries_endpoint_time",
        "DROP TABLE campaign_targets",
        "DROP TABLE campaign_activities",
        "DROP TABLE campaign_versions",
        "DROP TABLE campaigns",
    ):
        op.execute(statement)
