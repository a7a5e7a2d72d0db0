"""cluster: each torrent's source (magnet, .torrent) so any node can add it at once

Revision ID: 0012_cluster
Revises: 0010_releases
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import torrent_streamer.core.db

revision: str = "0012_cluster"
down_revision: str | None = "0010_releases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "torrent_sources",
        sa.Column("info_hash", sa.String(length=64), nullable=False),
        sa.Column("magnet", sa.Text(), nullable=True),
        sa.Column("metainfo", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", torrent_streamer.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["info_hash"],
            ["torrents.info_hash"],
            name=op.f("fk_torrent_sources_info_hash_torrents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("info_hash", name=op.f("pk_torrent_sources")),
    )


def downgrade() -> None:
    op.drop_table("torrent_sources")
