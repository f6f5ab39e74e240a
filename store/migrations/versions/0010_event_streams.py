"""Event streams: a project's events sent on to a Kinesis data stream or a Firehose delivery
stream (PutEventStream), read from the event feed (migration 0009) by the worker's streamer.

One row per project. `cursor` is the feed's cursor (a transaction id as text): the events of
every transaction up to it were accepted by the destination. The streamer advances it only after
a whole batch was accepted, so a restart sends again at most the batch in flight (at least
once). `last_error`, `lag_events` and `lag_seconds` say how the stream is doing (the status
route and the logs read them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE event_streams (
        app_id varchar(32) PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
        destination_stream_arn varchar(2048) NOT NULL,
        role_arn varchar(2048) NOT NULL DEFAULT '',
        external_id varchar(1224) NOT NULL DEFAULT '',
        last_updated_by varchar(256) NOT NULL DEFAULT '',
        last_modified_at timestamptz NOT NULL DEFAULT now(),
        cursor text NOT NULL,                      -- store/feed.py's cursor
        delivered bigint NOT NULL DEFAULT 0,       -- records accepted by the destination
        delivered_at timestamptz,                  -- when a batch was last accepted
        last_event_at timestamptz,                 -- arrival time of the last event delivered
        lag_events bigint NOT NULL DEFAULT 0,      -- events stored but not yet delivered
        lag_seconds double precision NOT NULL DEFAULT 0,
        last_error text,
        last_error_at timestamptz,
        failures integer NOT NULL DEFAULT 0,       -- consecutive failed attempts (the backoff)
        retry_at timestamptz                       -- no attempt before this
    )
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS event_streams")
