"""auth security wave 2: the client that rotated a refresh token; audit retention on PostgreSQL

Revision ID: 0007_auth_security
Revises: 0005_web

* ``refresh_tokens.used_by``: SHA-256 of the rotating client (address prefix + User-Agent); only
  that client gets the concurrent-refresh grace (docs/auth.md).
* ``audit_events`` stays append-only for the application role except for retention: row-level
  security lets it DELETE only rows older than 30 days (``torrent-streamer prune``), so recent
  evidence cannot be erased by the application role. The owner role is not subject to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_auth_security"
down_revision: str | None = "0005_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_MIN_AGE = "30 days"  # the least retention the application role can prune to (TS_AUDIT_RETENTION_DAYS ≥ 30)

_RLS_UP = (
    "ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY audit_events_read ON audit_events FOR SELECT USING (true)",
    "CREATE POLICY audit_events_append ON audit_events FOR INSERT WITH CHECK (true)",
    "CREATE POLICY audit_events_anonymise ON audit_events FOR UPDATE USING (true) WITH CHECK (true)",
    f"CREATE POLICY audit_events_retention ON audit_events FOR DELETE USING (created_at < now() - interval '{AUDIT_MIN_AGE}')",
)
_RLS_DOWN = (
    "DROP POLICY IF EXISTS audit_events_retention ON audit_events",
    "DROP POLICY IF EXISTS audit_events_anonymise ON audit_events",
    "DROP POLICY IF EXISTS audit_events_append ON audit_events",
    "DROP POLICY IF EXISTS audit_events_read ON audit_events",
    "ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY",
)


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("used_by", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in _RLS_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _RLS_DOWN:
            op.execute(statement)
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("used_by")
