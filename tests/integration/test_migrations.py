"""Migrations: models and migrations agree (no drift) and upgrade–downgrade–upgrade round-trips."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tests import support
from torrent_streamer.core import migrate
from torrent_streamer.models import Base


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    if support.TEST_DB == "postgres":
        name = f"ts_mig_{support.RUN_ID}_{secrets.token_hex(3)}"
        support.run(support.pg_admin_execute(f'CREATE DATABASE "{name}"'))
        yield support.pg_url(name)
        support.run(support.pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'mig.db'}"


async def table_names(url: str) -> set[str]:
    engine = support.engine_for(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    expected = {table.name for table in Base.metadata.sorted_tables}
    assert expected <= support.run(table_names(scratch_url))
    migrate.downgrade(scratch_url, "base")
    assert support.run(table_names(scratch_url)) <= {"alembic_version"}
    migrate.upgrade(scratch_url)
    assert expected <= support.run(table_names(scratch_url))


def test_models_and_migrations_do_not_drift(scratch_url: str) -> None:
    migrate.upgrade(scratch_url)
    migrate.check(scratch_url)  # raises when autogenerate would produce operations
