"""Segments (versioned definitions, static members of imported segments) and import/export jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    CREATE TABLE segments (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar(32) NOT NULL,
        segment_type varchar NOT NULL,           -- DIMENSIONAL | IMPORT
        version integer NOT NULL DEFAULT 1,      -- the latest version
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, id)
    )
    """,
    """
    -- Every version of a segment's definition; the segments row names the latest.
    CREATE TABLE segment_versions (
        app_id varchar(32) NOT NULL,
        segment_id varchar(32) NOT NULL,
        version integer NOT NULL,
        name varchar,
        dimensions jsonb,                        -- SegmentDimensions, as sent
        segment_groups jsonb,                    -- SegmentGroupList, as sent
        import_definition jsonb,                 -- SegmentImportResource (IMPORT segments)
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, segment_id, version),
        FOREIGN KEY (app_id, segment_id) REFERENCES segments(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    -- The endpoints of an imported (static) segment.
    CREATE TABLE segment_members (
        app_id varchar(32) NOT NULL,
        segment_id varchar(32) NOT NULL,
        endpoint_id varchar NOT NULL,
        PRIMARY KEY (app_id, segment_id, endpoint_id),
        FOREIGN KEY (app_id, segment_id) REFERENCES segments(app_id, id) ON DELETE CASCADE
    )
    """,
    """
    CREATE TABLE jobs (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        id varchar(32) NOT NULL,
        job_type varchar NOT NULL,               -- IMPORT | EXPORT
        status varchar NOT NULL DEFAULT 'CREATED',
        definition jsonb NOT NULL,               -- ImportJobResource / ExportJobResource
        segment_id varchar(32),
        total_pieces integer NOT NULL DEFAULT 0,
        completed_pieces integer NOT NULL DEFAULT 0,
        failed_pieces integer NOT NULL DEFAULT 0,
        total_processed integer NOT NULL DEFAULT 0,
        total_failures integer NOT NULL DEFAULT 0,
        failures jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        PRIMARY KEY (app_id, id)
    )
    """,
    "CREATE INDEX ix_jobs_app_type_time ON jobs (app_id, job_type, created_at)",
    # Segment queries filter on these; GIN serves attribute containment and key tests.
    "CREATE INDEX ix_endpoints_attributes ON endpoints USING gin (attributes jsonb_path_ops)",
    "CREATE INDEX ix_endpoints_user_attributes ON endpoints USING gin (user_attributes jsonb_path_ops)",
    "CREATE INDEX ix_endpoints_last_active ON endpoints (app_id, last_active_at)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP INDEX ix_endpoints_last_active",
        "DROP INDEX ix_endpoints_user_attributes",
        "DROP INDEX ix_endpoints_attributes",
        "DROP TABLE jobs",
        "DROP TABLE segment_members",
        "DROP TABLE segment_versions",
        "DROP TABLE segments",
    ):
        op.execute(statement)
