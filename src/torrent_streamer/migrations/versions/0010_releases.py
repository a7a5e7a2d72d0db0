"""releases: parsed release columns, works (grouped releases), swarm health

Revision ID: 0010_releases
Revises: 0008_panel_security

Existing rows keep ``parse_version = 0``: ``torrent-streamer catalog backfill`` parses them (guessit
costs ~10-25 ms a name, far too slow to run inside a migration on a big catalog).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import torrent_streamer.core.db

revision: str = "0010_releases"
down_revision: str | None = "0008_panel_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("work_id", sa.Uuid()),
    ("parsed_title", sa.String(length=300)),
    ("year", sa.SmallInteger()),
    ("season", sa.SmallInteger()),
    ("season_end", sa.SmallInteger()),
    ("episode", sa.SmallInteger()),
    ("episode_end", sa.SmallInteger()),
    ("resolution", sa.String(length=8)),
    ("source", sa.String(length=16)),
    ("video_codec", sa.String(length=16)),
    ("hdr", sa.String(length=16)),
    ("audio_codec", sa.String(length=16)),
    ("audio_channels", sa.String(length=8)),
    ("languages", sa.String(length=64)),
    ("release_group", sa.String(length=64)),
)
ENTRY_INDEXES: tuple[tuple[str, list[str]], ...] = (
    ("ix_catalog_entries_parse_version", ["parse_version"]),
    ("ix_catalog_entries_resolution", ["resolution"]),
    ("ix_catalog_entries_season_episode", ["season", "episode"]),
    ("ix_catalog_entries_status_health_checked_at", ["status", "health_checked_at"]),
    ("ix_catalog_entries_video_codec", ["video_codec"]),
    ("ix_catalog_entries_work_status_health", ["work_id", "status", "health"]),
    ("ix_catalog_entries_year", ["year"]),
)

# Works are matched on ``title_key`` (case- and accent-free words, computed in Python by
# catalog/parsing.title_key, so both databases fold the same way).
PG_UPGRADE = (
    "ALTER TABLE catalog_works ADD COLUMN fts_title tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, title_key)) STORED",
    "CREATE INDEX ix_catalog_fts_works_title ON catalog_works USING gin (fts_title)",
    "CREATE INDEX ix_catalog_fts_works_trgm ON catalog_works USING gin (title_key gin_trgm_ops)",
)
SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE catalog_fts_works USING fts5(title_key, content='catalog_works', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE VIRTUAL TABLE catalog_fts_works_trigram USING fts5(title_key, content='catalog_works', tokenize='trigram')",
    "CREATE TRIGGER catalog_fts_works_ai AFTER INSERT ON catalog_works BEGIN "
    "INSERT INTO catalog_fts_works(rowid, title_key) VALUES (new.rowid, new.title_key); "
    "INSERT INTO catalog_fts_works_trigram(rowid, title_key) VALUES (new.rowid, new.title_key); END",
    "CREATE TRIGGER catalog_fts_works_ad AFTER DELETE ON catalog_works BEGIN "
    "INSERT INTO catalog_fts_works(catalog_fts_works, rowid, title_key) VALUES ('delete', old.rowid, old.title_key); "
    "INSERT INTO catalog_fts_works_trigram(catalog_fts_works_trigram, rowid, title_key) "
    "VALUES ('delete', old.rowid, old.title_key); END",
    "CREATE TRIGGER catalog_fts_works_au AFTER UPDATE OF title_key ON catalog_works BEGIN "
    "INSERT INTO catalog_fts_works(catalog_fts_works, rowid, title_key) VALUES ('delete', old.rowid, old.title_key); "
    "INSERT INTO catalog_fts_works_trigram(catalog_fts_works_trigram, rowid, title_key) "
    "VALUES ('delete', old.rowid, old.title_key); "
    "INSERT INTO catalog_fts_works(rowid, title_key) VALUES (new.rowid, new.title_key); "
    "INSERT INTO catalog_fts_works_trigram(rowid, title_key) VALUES (new.rowid, new.title_key); END",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS catalog_fts_works_au",
    "DROP TRIGGER IF EXISTS catalog_fts_works_ad",
    "DROP TRIGGER IF EXISTS catalog_fts_works_ai",
    "DROP TABLE IF EXISTS catalog_fts_works_trigram",
    "DROP TABLE IF EXISTS catalog_fts_works",
)


def upgrade() -> None:
    op.create_table(
        "catalog_works",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_key", sa.String(length=300), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("season", sa.SmallInteger(), nullable=True),
        sa.Column("episode", sa.SmallInteger(), nullable=True),
        sa.Column("release_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("health", sa.Integer(), server_default="0", nullable=False),
        sa.Column("best_entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", torrent_streamer.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", torrent_streamer.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_works")),
        sa.UniqueConstraint("key", name=op.f("uq_catalog_works_key")),
    )
    op.create_index("ix_catalog_works_release_count_health", "catalog_works", ["release_count", "health"])
    # Plain ALTER TABLE ADD COLUMN (no batch rebuild): on SQLite a rebuild would drop the FTS triggers.
    for name, type_ in ENTRY_COLUMNS:
        op.add_column("catalog_entries", sa.Column(name, type_, nullable=True))
    op.add_column("catalog_entries", sa.Column("parse_version", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column("catalog_entries", sa.Column("health", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "catalog_entries",
        sa.Column("health_checked_at", torrent_streamer.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    for index, columns in ENTRY_INDEXES:
        op.create_index(index, "catalog_entries", columns)
    for statement in PG_UPGRADE if op.get_bind().dialect.name == "postgresql" else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
    for index, _ in ENTRY_INDEXES:
        op.drop_index(index, table_name="catalog_entries")
    # ALTER TABLE … DROP COLUMN on both dialects (SQLite ≥ 3.35): no table rebuild, triggers kept.
    for name in [*(n for n, _ in ENTRY_COLUMNS), "parse_version", "health", "health_checked_at"]:
        op.execute(f"ALTER TABLE catalog_entries DROP COLUMN {name}")
    op.drop_index("ix_catalog_works_release_count_health", table_name="catalog_works")
    op.drop_table("catalog_works")
