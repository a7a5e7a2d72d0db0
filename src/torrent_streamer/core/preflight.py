"""Checks ``serve`` runs before it listens: a reachable database must be at the migrations' head.

Each check returns a one-line reason that names the fix, or None. An unreachable database is not
a refusal here: the service starts and ``/readyz`` reports it (docs/architecture.md).
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from torrent_streamer.core.db import create_engine
from torrent_streamer.core.migrate import alembic_config

MIGRATE_FIX = "run `torrent-streamer migrate`"


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def database_problem(database_url: str) -> str | None:
    """None when the database is unreachable or migrated; otherwise why and how to fix it."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revisions)
    except (OSError, OperationalError, DBAPIError):
        return None  # unreachable now: start anyway, /readyz says so
    finally:
        await engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    if current == heads:
        return None
    found = ", ".join(sorted(current)) or "an empty schema"
    return f"the database is not migrated (found {found}, this version needs {', '.join(sorted(heads))}): {MIGRATE_FIX}"
