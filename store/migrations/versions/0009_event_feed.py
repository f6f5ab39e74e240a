"""A durable feed of stored events: each event carries the id of the transaction that wrote it.

Event streams (Kinesis, Firehose) and analytics rollups read every event once, in order, from a
cursor. A timestamp or a sequence cannot be that cursor: transactions commit out of order, so a
reader that passed a value could still see an earlier one commit afterwards and miss it. A
transaction id can: every transaction below the snapshot's xmin (`pg_snapshot_xmin(
pg_current_snapshot())`) has ended, so rows with such ids are final, and a reader that only takes
ids below the horizon and remembers the last one it took never misses a row (store/feed.py).

Existing rows get the migration's own transaction id: readers start after it (a new stream from
its creation, rollups from a backfill of what is already stored).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.execute("CREATE INDEX ix_events_xid ON events (xid)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_events_xid")
    op.execute("ALTER TABLE events DROP COLUMN xid")
