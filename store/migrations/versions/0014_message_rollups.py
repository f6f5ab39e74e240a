"""Message rollups: the campaigns, journeys and transactional analytics pages from small tables
kept as events arrive (store/analytics_message_rollups.py), not from raw events.

- `an_msg_counts`: per project, day, *kind* (`c` campaign messages, `j` live journey messages,
  `s` sessions opened from a campaign, `t` transactional sends), two group values (campaign and
  treatment, journey and activity, campaign; for `t` the SMS number's country), UTC hour (kept
  for `s` and `t`, 0 otherwise), event type and whether the event is a delivery outcome (it
  carries `delivery_status`): how many events.
- `an_msg_sets`: one row per (kind, group, class, item, day) — the item (its md5) is a message,
  a message and clock hour, or an endpoint, as the class's definition counts it once — so that
  an insert that `ON CONFLICT DO NOTHING` returns a row only for what is new.
- `an_msg_distinct`: per project, kind, day, group, class and *gap* (days since the item's
  previous day in `an_msg_sets`; `400` for none): how many items. The distinct items of any
  range [A, B] are the rows of its days whose gap exceeds day - A (as `an_active` does for
  active endpoints), so counts stay additive per day.

All three are partitioned by month (`<table>_mYYYYMM`), made by `ensure_message_partition`, and
dropped by retention with the other rollups (store/analytics_message_rollups.py `PARENTS`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PARTITIONED = {
    "an_msg_counts": """
        app_id varchar(32) NOT NULL, kind char(1) NOT NULL, day date NOT NULL,
        g1 varchar NOT NULL, g2 varchar NOT NULL, hour smallint NOT NULL, event_type varchar NOT NULL,
        outcome boolean NOT NULL, n bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, kind, day, g1, g2, hour, event_type, outcome)""",
    "an_msg_sets": """
        app_id varchar(32) NOT NULL, kind char(1) NOT NULL, g1 varchar NOT NULL, g2 varchar NOT NULL,
        class varchar NOT NULL, item varchar NOT NULL, day date NOT NULL,
        PRIMARY KEY (app_id, kind, g1, g2, class, item, day)""",
    "an_msg_distinct": """
        app_id varchar(32) NOT NULL, kind char(1) NOT NULL, day date NOT NULL,
        g1 varchar NOT NULL, g2 varchar NOT NULL, class varchar NOT NULL, gap smallint NOT NULL,
        n bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, kind, day, g1, g2, class, gap)""",
}

UPGRADE = [
    *(f"CREATE TABLE {name} ({columns}) PARTITION BY RANGE (day)" for name, columns in PARTITIONED.items()),
    f"""
    -- The month partitions of every message rollup table holding `day` (made if missing).
    CREATE OR REPLACE FUNCTION ensure_message_partition(day date) RETURNS void
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
    op.execute("DROP FUNCTION IF EXISTS ensure_message_partition(date)")
    for name in PARTITIONED:
        op.execute(f"DROP TABLE IF EXISTS {name}")
