"""panel security: when a panel session last re-authenticated (password + TOTP) for destructive actions

Revision ID: 0008_panel_security
Revises: 0007_auth_security
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import torrent_streamer.core.db

revision: str = "0008_panel_security"
down_revision: str | None = "0007_auth_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reauthenticated_at", torrent_streamer.core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.drop_column("reauthenticated_at")
