"""Bounded storage: events partitioned by the day the server received them; DeleteApp purges the
big tables afterwards.

1. `events` was partitioned by day of the CLIENT's `event_time`, so every distinct day a client
   wrote (years apart, in the future) became a table. It is now partitioned by `received_at`
   (rules/retention.py): one partition per real day, dropped whole after the retention. The
   existing rows are copied into the new table: those received before today go into one
   partition `events_r_before_<today>` (retention drops it once its newest row is old enough),
   today's into today's partition. Readers are unchanged: they filter on app_id, endpoint_id,
   event_type and event_time, which keep their indexes.
2. A project's endpoints and sessions no longer cascade from `apps`: with a million rows the
   cascade made DeleteApp as slow as the data is big. DeleteApp queues the project in
   `app_purges`, and the worker's housekeeping purges its events, deliveries, sessions and
   endpoints in bounded batches (store/purge.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EVENT_COLUMNS = (
    "app_id, event_time, endpoint_id, event_id, event_type, session_id, attributes, metrics, client, received_at"
)

UPGRADE = [
    # The old table keeps its data until the copy is done, under another name.
    "ALTER TABLE events RENAME TO events_by_event_time",
    "ALTER INDEX ix_events_app_type_time RENAME TO ix_events_old_app_type_time",
    "ALTER INDEX ix_events_app_endpoint_time RENAME TO ix_events_old_app_endpoint_time",
    """
    CREATE TABLE events (
        app_id varchar(32) NOT NULL,
        event_time timestamptz NOT NULL,
        endpoint_id varchar NOT NULL,
        event_id varchar NOT NULL,
        event_type varchar NOT NULL,
        session_id varchar,
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
        client jsonb NOT NULL DEFAULT '{}'::jsonb,
        received_at timestamptz NOT NULL DEFAULT now()
    ) PARTITION BY RANGE (received_at)
    """,
    "CREATE INDEX ix_events_app_type_time ON events (app_id, event_type, event_time)",
    "CREATE INDEX ix_events_app_endpoint_time ON events (app_id, endpoint_id, event_time)",
    """
    -- The partition of the events received on `day` (UTC). A day inside the carried-over range
    -- is already covered (the overlap is ignored), as is one another process made first.
    CREATE OR REPLACE FUNCTION ensure_event_partition(day date) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        part text := 'events_r_' || to_char(day, 'YYYYMMDD');
    BEGIN
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                    part, day::timestamp AT TIME ZONE 'UTC',
                    (day + 1)::timestamp AT TIME ZONE 'UTC');
            EXCEPTION WHEN duplicate_table OR invalid_object_definition THEN
                NULL;
            END;
        END IF;
    END $$
    """,
    """
    DO $$
    DECLARE
        today date := (now() AT TIME ZONE 'UTC')::date;
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (MINVALUE) TO (%L)',
            'events_r_before_' || to_char(today, 'YYYYMMDD'), today::timestamp AT TIME ZONE 'UTC');
        PERFORM ensure_event_partition(today);
        PERFORM ensure_event_partition(today + 1);
    END $$
    """,
    # A received_at ahead of the database clock (none is expected) is taken as now.
    f"""
    INSERT INTO events ({EVENT_COLUMNS})
    SELECT app_id, event_time, endpoint_id, event_id, event_type, session_id, attributes, metrics, client,
           least(received_at, now())
    FROM events_by_event_time
    """,
    "DROP TABLE events_by_event_time",  # and its day-of-event_time partitions
    """
    -- Projects deleted whose big tables the worker is still purging.
    CREATE TABLE app_purges (
        app_id varchar(32) PRIMARY KEY,
        deleted_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "ALTER TABLE endpoints DROP CONSTRAINT IF EXISTS endpoints_app_id_fkey",
    "ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_app_id_fkey",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


DOWNGRADE = [
    "DELETE FROM endpoints e WHERE NOT EXISTS (SELECT 1 FROM apps a WHERE a.id = e.app_id)",
    "DELETE FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM apps a WHERE a.id = s.app_id)",
    "ALTER TABLE endpoints ADD CONSTRAINT endpoints_app_id_fkey FOREIGN KEY (app_id) REFERENCES apps(id)"
    " ON DELETE CASCADE",
    "ALTER TABLE sessions ADD CONSTRAINT sessions_app_id_fkey FOREIGN KEY (app_id) REFERENCES apps(id)"
    " ON DELETE CASCADE",
    "DROP TABLE app_purges",
    "ALTER TABLE events RENAME TO events_by_received_at",
    "ALTER INDEX ix_events_app_type_time RENAME TO ix_events_new_app_type_time",
    "ALTER INDEX ix_events_app_endpoint_time RENAME TO ix_events_new_app_endpoint_time",
    """
    CREATE TABLE events (
        app_id varchar(32) NOT NULL,
        event_time timestamptz NOT NULL,
        endpoint_id varchar NOT NULL,
        event_id varchar NOT NULL,
        event_type varchar NOT NULL,
        session_id varchar,
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
        client jsonb NOT NULL DEFAULT '{}'::jsonb,
        received_at timestamptz NOT NULL DEFAULT now()
    ) PARTITION BY RANGE (event_time)
    """,
    "CREATE INDEX ix_events_app_type_time ON events (app_id, event_type, event_time)",
    "CREATE INDEX ix_events_app_endpoint_time ON events (app_id, endpoint_id, event_time)",
    """
    CREATE OR REPLACE FUNCTION ensure_event_partition(day date) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        part text := 'events_' || to_char(day, 'YYYYMMDD');
    BEGIN
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                    part, day::timestamp AT TIME ZONE 'UTC',
                    (day + 1)::timestamp AT TIME ZONE 'UTC');
            EXCEPTION WHEN duplicate_table THEN
                NULL;
            END;
        END IF;
    END $$
    """,
    """
    DO $$
    DECLARE
        day date;
    BEGIN
        FOR day IN SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date FROM events_by_received_at LOOP
            PERFORM ensure_event_partition(day);
        END LOOP;
    END $$
    """,
    f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM events_by_received_at",
    "DROP TABLE events_by_received_at",
]


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
