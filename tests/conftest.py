"""Root fixtures: one test database per run (built by the migrations), clean tables per test,
settings with per-run secrets, and an app client. ``TS_TEST_DB=postgres`` selects PostgreSQL
(+ Redis); the default is SQLite. In CI a missing PostgreSQL or Redis fails the run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from sqlalchemy.exc import DBAPIError

from tests import support
from torrent_streamer.app import create_app
from torrent_streamer.core import migrate
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings

# No timing thresholds in pass/fail tests: property tests have no per-example deadline (a loaded
# CI machine must not turn a slow example into a failure); each test still bounds its examples.
settings.register_profile("torrent-streamer", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("torrent-streamer")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if support.TEST_DB == "postgres":
        # Migrations run as the owner role; the whole API suite runs as the application role
        # with only the grant table's privileges (SR-7.2). Roles are unique per run and dropped.
        try:
            database = support.pg_create_run_database()
        except (OSError, DBAPIError) as exc:
            pytest.fail(f"PostgreSQL provisioning failed at {support.PG_ADMIN_DSN}: {exc}")
        yield database.app_url
        support.pg_drop_run_database(database)
    else:
        path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session", autouse=True)
def _redis_required() -> None:
    if support.USE_REDIS and not support.redis_available():
        pytest.fail(f"Redis is not reachable at {support.REDIS_URL}")


@pytest.fixture
async def clean_db(database_url: str) -> AsyncIterator[str]:
    yield database_url
    engine = support.engine_for(support.admin_url(database_url))  # the app role may not TRUNCATE
    try:
        await support.truncate_all(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings_factory(tmp_path: Path, clean_db: str) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        overrides.setdefault("database_url", clean_db)
        return support.make_settings(tmp_path / "data", **overrides)

    return factory


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app) as http:
        yield http
