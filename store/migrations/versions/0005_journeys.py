"""Journeys: the definition and its state, entry runs (GetJourneyRuns), participants (one row
per entry: re-entry caps, execution metrics, the broadcast of pause / resume / cancel), the steps
each participant took (activity metrics, test-run traces), test runs, and the participants
waiting for an event to decide a split.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE journeys (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar(32) NOT NULL,
        -- DRAFT | ACTIVE | PAUSED | CANCELLED | CLOSED | COMPLETED, and DELETED while the
        -- journey's workflow stops its participants before the rows go.
        state varchar NOT NULL DEFAULT 'DRAFT',
        -- The WriteJourneyRequest as accepted (tags and State excluded).
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,                -- first became ACTIVE
        paused_at timestamptz,
        PRIMARY KEY (app_id, id)
    )
    """,
    """
    -- One row per entry cycle: the start, each segment refresh; one for an event-triggered
    -- journey's whole life.
    CREATE TABLE journey_runs (
        app_id varchar(32) NOT NULL,
        journey_id varchar(32) NOT NULL,
        run_id varchar(32) NOT NULL,
        run_number integer NOT NULL,
        status varchar NOT NULL DEFAULT 'SCHEDULED', -- SCHEDULED | RUNNING | COMPLETED | CANCELLED
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,  -- ENDPOINT_PRODUCED, ENDPOINT_OPT_OUT, ...
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, journey_id, run_id),
        UNIQUE (app_id, journey_id, run_number),
        FOREIGN KEY (app_id, journey_id) REFERENCES journeys(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    CREATE TABLE journey_participants (
        app_id varchar(32) NOT NULL,
        journey_id varchar(32) NOT NULL,
        participant varchar NOT NULL,            -- an endpoint id, or a user id (kind USER)
        kind varchar(8) NOT NULL DEFAULT 'ENDPOINT',
        entry_key varchar NOT NULL,              -- run-<n> | event-<id> | api-<EntryKey> | test-<id>
        entry_number integer NOT NULL,           -- 1, 2, ... live entries; 0 for test participants
        run_id varchar(32),
        test_run_id varchar(32),
        workflow_id varchar NOT NULL,
        status varchar NOT NULL DEFAULT 'ACTIVE', -- ACTIVE | LEFT | CANCELLED | REMOVED
        current_activity varchar,
        entered_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        PRIMARY KEY (app_id, journey_id, participant, entry_key),
        FOREIGN KEY (app_id, journey_id) REFERENCES journeys(app_id, id) ON DELETE CASCADE
    )
    """,
    # A participant is in a live journey once at a time (ACTIVE_ENDPOINT_REJECTED).
    "CREATE UNIQUE INDEX ux_journey_participants_live ON journey_participants (app_id, journey_id, participant)"
    " WHERE status = 'ACTIVE' AND test_run_id IS NULL",
    "CREATE INDEX ix_journey_participants_status ON journey_participants (app_id, journey_id, status)",
    """
    -- The steps participants took: one row per participant entry and activity (journeys have no
    -- cycles), written once, so a retried step counts once.
    CREATE TABLE journey_steps (
        app_id varchar(32) NOT NULL,
        journey_id varchar(32) NOT NULL,
        participant varchar NOT NULL,
        entry_key varchar NOT NULL,
        activity_id varchar(128) NOT NULL,
        run_id varchar(32),
        test_run_id varchar(32),
        outcome varchar NOT NULL,                -- SENT, QUIET_TIME, True, Branch_2, HOLDOUT, ...
        next_activity varchar(128),
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, journey_id, participant, entry_key, activity_id),
        FOREIGN KEY (app_id, journey_id) REFERENCES journeys(app_id, id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX ix_journey_steps_activity ON journey_steps (app_id, journey_id, activity_id)",
    # Message caps count a participant's sends, in this journey and across journeys.
    "CREATE INDEX ix_journey_steps_sent ON journey_steps (app_id, participant, at)"
    " WHERE outcome = 'SUCCESSFUL' AND test_run_id IS NULL",
    """
    CREATE TABLE journey_test_runs (
        app_id varchar(32) NOT NULL,
        journey_id varchar(32) NOT NULL,
        id varchar(32) NOT NULL,
        options jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the request: endpoints, wait and delivery modes
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, journey_id, id),
        FOREIGN KEY (app_id, journey_id) REFERENCES journeys(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    -- Participants whose split waits for events of an endpoint: events recorded for it are
    -- signalled to the workflow.
    CREATE TABLE journey_listeners (
        app_id varchar(32) NOT NULL,
        endpoint_id varchar NOT NULL,
        workflow_id varchar NOT NULL,
        journey_id varchar(32) NOT NULL,
        since timestamptz NOT NULL,
        until timestamptz NOT NULL,
        PRIMARY KEY (app_id, endpoint_id, workflow_id),
        FOREIGN KEY (app_id, journey_id) REFERENCES journeys(app_id, id) ON DELETE CASCADE
    )
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "journey_listeners",
        "journey_test_runs",
        "journey_steps",
        "journey_participants",
        "journey_runs",
        "journeys",
    ):
        op.execute(f"DROP TABLE {table}")
