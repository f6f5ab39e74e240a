"""Message templates (account-level, versioned), one-time passwords, and the delivery lookups
engagement needs (provider message id → delivery).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = [
    """
    -- Templates belong to the account, not to a project: they survive DeleteApp, as in Pinpoint.
    CREATE TABLE templates (
        template_type varchar(8) NOT NULL,       -- EMAIL | SMS | PUSH | VOICE | INAPP
        name varchar(128) NOT NULL,              -- case-sensitive, unique per type
        latest_version integer NOT NULL,         -- version numbers are never reused
        active_version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (template_type, name)
    )
    """,
    """
    CREATE TABLE template_versions (
        template_type varchar(8) NOT NULL,
        name varchar(128) NOT NULL,
        version integer NOT NULL,
        content jsonb NOT NULL,                  -- the *TemplateRequest members, tags excluded
        default_substitutions text,              -- a JSON object encoded as a string, as sent
        description text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (template_type, name, version),
        FOREIGN KEY (template_type, name) REFERENCES templates(template_type, name) ON DELETE CASCADE
    )
    """,
    """
    -- SendOTPMessage: only a hash of the code is kept; VerifyOTPMessage spends attempts.
    CREATE TABLE otp_codes (
        app_id varchar(32) NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        reference_id varchar(48) NOT NULL,
        destination varchar NOT NULL,
        code_hash bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        attempts_left integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, reference_id, destination)
    )
    """,
    # Provider callbacks (Twilio status, FCM) name the provider's message id.
    "CREATE INDEX ix_deliveries_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL",
    # What an engagement event carries back to the message it belongs to (campaign, treatment,
    # journey activity, the request's Context), so opens and clicks are attributed like sends.
    "ALTER TABLE deliveries ADD COLUMN context jsonb",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in (
        "ALTER TABLE deliveries DROP COLUMN context",
        "DROP INDEX ix_deliveries_message_id",
        "DROP TABLE otp_codes",
        "DROP TABLE template_versions",
        "DROP TABLE templates",
    ):
        op.execute(statement)
