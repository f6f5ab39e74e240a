"""Analytics rollups: small tables kept from the event feed (analytics/rollups.py), so that no
analytics page scans raw events.

- `an_cursor`: the rollup loop's place in the feed (store/feed.py), and whether the events stored
  before the rollups existed have been folded in (the backfill).
- `an_endpoint_days`: one row per endpoint and UTC day it was active, with its demographic
  dimensions of that day (the platform, versions, place and custom attributes of the endpoint
  when its first event of the day was folded).
- `an_active`: per project, day, dimension value and *gap* (days since the endpoint's previous
  active day; `an_gap_cap` for none), how many endpoints were active. The distinct endpoints
  active in any range [A, B] are the rows of days in the range whose gap exceeds day - A: DAU,
  MAU, stickiness and demographics over 90 days add up a few thousand rows.
- `an_days`: per project and day: new endpoints, sessions, session time, active users.
- `an_user_days`: one row per user and day active (to count each user once a day).
- `an_events`: per project, day, event type, attribute (or none) and metric (or none): events
  and metric sums, so event counts are filterable by one attribute's values.
- `an_revenue`: per project, day, currency and product: revenue, units, purchases.
- `an_payers`: one row per paying endpoint, day and currency.
- `an_endpoints`, `an_cohorts`: each endpoint's first day and the days until it first came back;
  cohort counts per first day and return offset (retention).

The day-keyed tables are partitioned by month (`<table>_mYYYYMM`): retention drops whole
partitions (store/analytics_rollups.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PARTITIONED = {
    "an_endpoint_days": """
        app_id varchar(32) NOT NULL, endpoint_id varchar NOT NULL, day date NOT NULL,
        dims jsonb NOT NULL DEFAULT '[]'::jsonb,
        PRIMARY KEY (app_id, endpoint_id, day)""",
    "an_active": """
        app_id varchar(32) NOT NULL, day date NOT NULL, dim varchar NOT NULL, value varchar NOT NULL,
        gap int NOT NULL, n bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day, dim, value, gap)""",
    "an_days": """
        app_id varchar(32) NOT NULL, day date NOT NULL,
        new_endpoints bigint NOT NULL DEFAULT 0, sessions bigint NOT NULL DEFAULT 0,
        session_ms bigint NOT NULL DEFAULT 0, active_users bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day)""",
    "an_user_days": """
        app_id varchar(32) NOT NULL, day date NOT NULL, user_id varchar NOT NULL,
        PRIMARY KEY (app_id, day, user_id)""",
    "an_session_hours": """
        app_id varchar(32) NOT NULL, day date NOT NULL, hour int NOT NULL, n bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day, hour)""",
    "an_events": """
        app_id varchar(32) NOT NULL, day date NOT NULL, event_type varchar NOT NULL,
        attr varchar NOT NULL, value varchar NOT NULL, metric varchar NOT NULL,
        n bigint NOT NULL DEFAULT 0, total double precision NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day, event_type, attr, value, metric)""",
    "an_revenue": """
        app_id varchar(32) NOT NULL, day date NOT NULL, currency varchar NOT NULL, product varchar NOT NULL,
        revenue double precision NOT NULL DEFAULT 0, units double precision NOT NULL DEFAULT 0,
        purchases bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, day, currency, product)""",
    "an_payers": """
        app_id varchar(32) NOT NULL, day date NOT NULL, currency varchar NOT NULL, endpoint_id varchar NOT NULL,
        PRIMARY KEY (app_id, day, currency, endpoint_id)""",
}

UPGRADE = [
    "CREATE TABLE an_cursor (name varchar PRIMARY KEY, xid text NOT NULL, backfilled boolean NOT NULL DEFAULT false,"
    " backfill_after jsonb)",
    *(f"CREATE TABLE {name} ({columns}) PARTITION BY RANGE (day)" for name, columns in PARTITIONED.items()),
    """
    CREATE TABLE an_endpoints (
        app_id varchar(32) NOT NULL, endpoint_id varchar NOT NULL, first_day date NOT NULL,
        returned_after int, PRIMARY KEY (app_id, endpoint_id))
    """,
    "CREATE INDEX ix_an_endpoints_first ON an_endpoints (first_day)",
    """
    CREATE TABLE an_cohorts (
        app_id varchar(32) NOT NULL, first_day date NOT NULL, returned_after int NOT NULL,
        n bigint NOT NULL DEFAULT 0, PRIMARY KEY (app_id, first_day, returned_after))
    """,
    f"""
    -- The month partitions of every rollup table holding `day` (made if missing).
    CREATE OR REPLACE FUNCTION ensure_analytics_partition(day date) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        month date := date_trunc('month', day)::date;
        parent text;
    BEGIN
        FOREACH parent IN ARRAY ARRAY{sorted(PARTITIONED)!r}::text[] LOOP
            IF to_regclass(parent || '_m' || to_char(month, 'YYYYMM')) IS NULL THEN
                BEGIN
                    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                        parent || '_m' || to_char(month, 'YYYYMM'), parent, month,
                        (month + interval '1 month')::date);
                EXCEPTION WHEN duplicate_table THEN
                    NULL;
                END;
            END IF;
        END LOOP;
    END $$
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ensure_analytics_partition(date)")
    for name in ("an_cohorts", "an_endpoints", *PARTITIONED, "an_cursor"):
        op.execute(f"DROP TABLE IF EXISTS {name}")
