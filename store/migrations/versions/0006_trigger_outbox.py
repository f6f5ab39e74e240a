"""The outbox: what accepted events set off (event-triggered campaign sends, event-entry
journey participants, engagement told to participants waiting at a split) and the API's workflow
commands (engine/commands.py), each written in the same transaction as what caused it, and
handed to Temporal by the worker's dispatcher.

Rows are a queue, not a log: the dispatcher claims a batch under a lease, starts the workflows
that act on it, then deletes the rows. A dispatcher that dies holding a lease leaves its rows to
the next one when the lease runs out; the workflows' idempotency keys make a second hand-over
harmless.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE trigger_outbox (
        id bigserial PRIMARY KEY,
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        -- campaign: send an event-triggered campaign's message to the endpoint;
        -- journey: enter the endpoint into an event-started journey;
        -- engagement: tell the endpoint's participants waiting at a split of the event;
        -- command: a workflow command of the API, written with the change it acts on
        --          (event = {"op": "campaign.start" | "campaign.stop" | "journey.signal", ...}).
        kind varchar(16) NOT NULL,
        target_id varchar(64) NOT NULL,          -- campaign or journey id ('' for engagement)
        endpoint_id varchar NOT NULL,
        event_id varchar NOT NULL,
        event_time timestamptz NOT NULL,
        event jsonb NOT NULL,                    -- {EventType, Attributes, Metrics}
        created_at timestamptz NOT NULL DEFAULT now(),
        claimed_until timestamptz,               -- a dispatcher's lease; NULL: ready
        attempts int NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE INDEX ix_trigger_outbox_ready ON trigger_outbox (id) WHERE claimed_until IS NULL
    """,
    """
    -- What became of each event-triggered campaign send (SENT, a filter, MAXIMUM_DELAY_EXCEEDED):
    -- a trigger handed over twice is counted in the campaign's metrics once.
    CREATE TABLE trigger_outcomes (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        campaign_id varchar(32) NOT NULL,
        trigger_key varchar(64) NOT NULL,
        endpoint_id varchar NOT NULL,
        outcome varchar(64) NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, campaign_id, trigger_key)
    )
    """,
    """
    CREATE INDEX ix_trigger_outbox_claimed ON trigger_outbox (claimed_until) WHERE claimed_until IS NOT NULL
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE trigger_outcomes")
    op.execute("DROP TABLE trigger_outbox")
