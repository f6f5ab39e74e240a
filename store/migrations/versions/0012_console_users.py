"""The console's sign-in: users, their sessions, and failed sign-ins (the rate limit).

- `console_users`: one row per person; the email is stored lower-cased (unique), the password
  as an argon2id hash (console/passwords.py), the role one of admin / editor / viewer.
- `console_user_projects`: the projects an editor or viewer may see (an admin sees every
  project and has no rows here); a deleted project takes its rows with it.
- `console_sessions`: a signed-in browser. The cookie holds a random token; only its SHA-256
  is stored, so that reading this table does not give anyone a live session. Deleting the row
  signs the browser out everywhere at once (logout, password reset).
- `console_signin_failures`: failed sign-ins by email and client address, kept 15 minutes; in
  PostgreSQL so that the limit holds across gateway processes and restarts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE console_users (
            id bigserial PRIMARY KEY,
            email varchar(320) NOT NULL UNIQUE CHECK (email = lower(email)),
            password_hash varchar NOT NULL,
            role varchar(16) NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
            created_at timestamptz NOT NULL DEFAULT now(),
            password_changed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE console_user_projects (
            user_id bigint NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
            app_id varchar(32) NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
            PRIMARY KEY (user_id, app_id)
        )
        """
    )
    op.execute("CREATE INDEX console_user_projects_app ON console_user_projects (app_id)")
    op.execute(
        """
        CREATE TABLE console_sessions (
            token_sha256 bytea PRIMARY KEY,
            user_id bigint NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
            csrf_token varchar NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX console_sessions_user ON console_sessions (user_id)")
    op.execute("CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)")
    op.execute(
        """
        CREATE TABLE console_signin_failures (
            id bigserial PRIMARY KEY,
            email varchar(320) NOT NULL,
            client varchar(64) NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX console_signin_failures_key ON console_signin_failures (email, client, at)")
    op.execute("CREATE INDEX console_signin_failures_at ON console_signin_failures (at)")


def downgrade() -> None:
    for table in ("console_signin_failures", "console_sessions", "console_user_projects", "console_users"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
