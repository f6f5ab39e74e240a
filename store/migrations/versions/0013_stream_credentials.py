"""Event streams may hold their own AWS credentials (`openpoint streams credentials`).

`secret_ciphertext`: the access key, secret, session token and STS region the streamer signs
with (and assumes the stream's RoleArn with), as JSON encrypted by the vault (openpoint/vault.py,
purpose `event-stream:<app id>`), as channel secrets are. NULL: the environment's credentials.
The stream's ExternalId stays in its plain `external_id` column: GetEventStream shows it, as
Pinpoint did.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE event_streams ADD COLUMN secret_ciphertext bytea")


def downgrade() -> None:
    op.execute("ALTER TABLE event_streams DROP COLUMN IF EXISTS secret_ciphertext")
