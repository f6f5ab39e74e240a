"""A trigger belongs to the workflow that claimed it first.

The outbox hands a trigger to Temporal at least once, so the same event's trigger can reach two
CampaignTriggerWorkflows at the same time (a PutEvents retried while the first row was being
handed over). The first to claim it (`trigger_outcomes`, outcome PENDING, `owner` its workflow
id) sends it and records the outcome; the other leaves it alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE trigger_outcomes ADD COLUMN owner varchar(300) NOT NULL DEFAULT ''")


def downgrade() -> None:
    op.execute("ALTER TABLE trigger_outcomes DROP COLUMN owner")
