"""catalog speed: the walk for broad work searches, year filter, typo fallback on works

Revision ID: 0013_catalog_speed
Revises: 0012_cluster

- ``ix_catalog_works_live_health`` (``health DESC, id`` where ``release_count > 0``): a broad work
  search ("love", "the") walks this index in its page order and stops at the page size, instead of
  sorting every match.
- ``ix_catalog_works_year``: the ``year`` filter narrows the match (BitmapAnd with the title index).
- PostgreSQL: ``fts_title_reversed`` (the title's words reversed, GIN): typo candidates are works
  with a word beginning with the first half of a query word (``fts_title``) or ending with its
  second half (this column), both prefix matches in a GIN index, instead of a trigram scan.
- PostgreSQL: entry search's typo fallback now matches the works' short titles; release names keep a
  trigram index only for entries not parsed yet (``work_id IS NULL``). The full trigram index over a
  million release names (the slowest part of a typo query, and of every import) is dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_catalog_speed"
down_revision: str | None = "0012_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UPGRADE = (
    # typo candidates: title words ending with a piece are the reversed words beginning with it
    "ALTER TABLE catalog_works ADD COLUMN fts_title_reversed tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, reverse(title_key))) STORED",
    "CREATE INDEX ix_catalog_fts_works_title_reversed ON catalog_works USING gin (fts_title_reversed)",
    "CREATE INDEX ix_catalog_fts_title_trgm_unparsed ON catalog_entries USING gin (title gin_trgm_ops) "
    "WHERE work_id IS NULL",
    "DROP INDEX IF EXISTS ix_catalog_fts_title_trgm",
)
PG_DOWNGRADE = (
    "DROP INDEX IF EXISTS ix_catalog_fts_works_title_reversed",
    "ALTER TABLE catalog_works DROP COLUMN IF EXISTS fts_title_reversed",
    "CREATE INDEX IF NOT EXISTS ix_catalog_fts_title_trgm ON catalog_entries USING gin (title gin_trgm_ops)",
    "DROP INDEX IF EXISTS ix_catalog_fts_title_trgm_unparsed",
)
LIVE = sa.text("release_count > 0")


def upgrade() -> None:
    op.create_index(
        "ix_catalog_works_live_health",
        "catalog_works",
        [sa.desc(sa.column("health")), "id"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index("ix_catalog_works_year", "catalog_works", ["year"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWNGRADE:
            op.execute(statement)
    op.drop_index("ix_catalog_works_year", table_name="catalog_works")
    op.drop_index("ix_catalog_works_live_health", table_name="catalog_works")
