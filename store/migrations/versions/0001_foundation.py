"""Foundation: keys, projects, endpoints, events (partitioned by day), sessions, channels,
deliveries, tags.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


UPGRADE = [
    """
    CREATE TABLE access_keys (
        access_key_id varchar(128) PRIMARY KEY,
        secret_ciphertext bytea NOT NULL,
        description varchar NOT NULL DEFAULT '',
        project_ids jsonb,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    """
    CREATE TABLE apps (
        id varchar(32) PRIMARY KEY,
        name varchar NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        settings_modified_at timestamptz NOT NULL DEFAULT now(),
        removed_attributes jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    """,
    """
    CREATE TABLE resource_tags (
        arn varchar PRIMARY KEY,
        app_id varchar REFERENCES apps(id) ON DELETE CASCADE,
        tags jsonb NOT NULL DEFAULT '{}'::jsonb
    );
    """,
    """
    CREATE INDEX ix_resource_tags_app_id ON resource_tags (app_id);
    """,
    """
    CREATE TABLE endpoints (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar NOT NULL,
        address varchar,
        channel_type varchar,
        endpoint_status varchar NOT NULL DEFAULT 'ACTIVE',
        opt_out varchar NOT NULL DEFAULT 'NONE',
        user_id varchar,
        cohort_id integer NOT NULL DEFAULT 0,
        request_id varchar,
        effective_date varchar,
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        user_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        metrics jsonb NOT NULL DEFAULT '{}'::jsonb,
        demographic jsonb NOT NULL DEFAULT '{}'::jsonb,
        location jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_active_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, id)
    );
    """,
    """
    CREATE INDEX ix_endpoints_user ON endpoints (app_id, user_id) WHERE user_id IS NOT NULL;
    """,
    """
    CREATE INDEX ix_endpoints_address ON endpoints (app_id, address) WHERE address IS NOT NULL;
    """,
    """
    -- Events are partitioned by day of event_time so that retention drops whole partitions.
    -- Partitions are made on demand by ensure_event_partition().
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
    ) PARTITION BY RANGE (event_time);
    """,
    """
    CREATE INDEX ix_events_app_type_time ON events (app_id, event_type, event_time);
    """,
    """
    CREATE INDEX ix_events_app_endpoint_time ON events (app_id, endpoint_id, event_time);
    """,
    """
    CREATE FUNCTION ensure_event_partition(day date) RETURNS void
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
                NULL;  -- another gateway made it first
            END;
        END IF;
    END $$;
    """,
    """
    CREATE TABLE sessions (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar NOT NULL,
        endpoint_id varchar NOT NULL,
        start_time timestamptz NOT NULL,
        stop_time timestamptz,
        duration_ms bigint,
        PRIMARY KEY (app_id, id)
    );
    """,
    """
    CREATE TABLE channels (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        channel_type varchar NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        secret_ciphertext bytea,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, channel_type)
    );
    """,
    """
    CREATE TABLE deliveries (
        idempotency_key varchar PRIMARY KEY,
        app_id varchar(32) NOT NULL,
        channel varchar NOT NULL,
        address varchar NOT NULL,
        endpoint_id varchar,
        source varchar NOT NULL DEFAULT 'direct',
        source_id varchar,
        status varchar NOT NULL DEFAULT 'PENDING',
        status_code integer,
        status_message varchar,
        message_id varchar,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    """
    CREATE INDEX ix_deliveries_app_time ON deliveries (app_id, created_at);
    """,
]


def upgrade() -> None:
    # asyncpg prepares each statement, so they go one at a time.
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in ("deliveries", "channels", "sessions", "events", "endpoints", "resource_tags", "apps", "access_keys"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION ensure_event_partition(date)")
