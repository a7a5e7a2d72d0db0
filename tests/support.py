"""Helpers shared by the test suites: backends, settings and app clients for real components."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from torrent_streamer.core import dbroles, migrate
from torrent_streamer.core.config import Settings
from torrent_streamer.core.db import create_engine
from torrent_streamer.core.secrets import new_encryption_key_entry

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_DB = os.environ.get("TS_TEST_DB", "sqlite")  # "sqlite" or "postgres"
PG_ADMIN_DSN = os.environ.get("TS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
USE_REDIS = os.environ.get("TS_TEST_REDIS", "1" if TEST_DB == "postgres" else "0") == "1"

# Per-run secrets: generated, never committed (SR-9.1).
TEST_SECRET_KEY = secrets.token_urlsafe(48)
TEST_ENCRYPTION_KEYS = new_encryption_key_entry()
RUN_ID = secrets.token_hex(4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def pg_admin_execute(*statements: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


# --- PostgreSQL least privilege (SR-7.2): per-run owner and application roles ----------------
@dataclass(frozen=True)
class PgRunDatabase:
    """The run's database: migrated by the owner role, used by the API suite as the app role."""

    spec: dbroles.RoleSpec
    owner_url: str
    app_url: str


def pg_role_url(database: str, role: str, password: str) -> str:
    url = make_url(pg_url(database)).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


def admin_url(url: str) -> str:
    """The same database with the administrator's credentials (truncation, scratch DDL)."""
    if not url.startswith("postgresql"):
        return url
    admin = make_url(PG_ADMIN_DSN)
    return make_url(url).set(username=admin.username, password=admin.password).render_as_string(hide_password=False)


def pg_create_run_database(prefix: str = "ts_test") -> PgRunDatabase:
    """Provision unique roles and a database, migrate as the owner, grant the app role."""
    suffix = f"{RUN_ID}_{secrets.token_hex(3)}"
    spec = dbroles.RoleSpec(database=f"{prefix}_{suffix}", owner_role=f"ts_owner_{suffix}", app_role=f"ts_app_{suffix}")
    owner_password, app_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    run(
        dbroles.provision(
            pg_url(make_url(PG_ADMIN_DSN).database or "postgres"),
            spec,
            owner_password=owner_password,
            app_password=app_password,
        )
    )
    database = PgRunDatabase(
        spec,
        owner_url=pg_role_url(spec.database, spec.owner_role, owner_password),
        app_url=pg_role_url(spec.database, spec.app_role, app_password),
    )
    migrate.upgrade(database.owner_url)
    run(dbroles.apply_grants(database.owner_url, spec.app_role))
    return database


def pg_drop_run_database(database: PgRunDatabase) -> None:
    spec = database.spec
    run(
        pg_admin_execute(
            f'DROP DATABASE IF EXISTS "{spec.database}" WITH (FORCE)',
            f'DROP ROLE IF EXISTS "{spec.app_role}"',
            f'DROP ROLE IF EXISTS "{spec.owner_role}"',
        )
    )


async def pg_admin_execute_in(database: str, *statements: str) -> None:
    """Run statements as the administrator inside ``database``."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = make_url(PG_ADMIN_DSN).set(database=database).render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


# The real libtorrent engine on loopback for app tests: TCP only (uTP over loopback crawls), no DHT.
LOOPBACK_ENGINE: dict[str, Any] = {
    "engine": "libtorrent",
    "engine_listen_interfaces": "127.0.0.1:0",
    "engine_enable_dht": False,
    "engine_enable_utp": False,
    "engine_allow_private_networks": True,
}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "redis_url": REDIS_URL if USE_REDIS else None,
        # one Redis namespace per test (its data dir): rate-limit counters such as the hourly
        # per-address torrent-add limit must not add up across a whole run of tests from 127.0.0.1
        "redis_key_prefix": f"ts-test-{RUN_ID}-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]}",
        "secret_key": TEST_SECRET_KEY,
        "encryption_keys": TEST_ENCRYPTION_KEYS,
        "trusted_hosts": ["testserver", "localhost", "127.0.0.1"],
        "engine": "memory",
        "engine_allow_private_networks": True,
        "engine_enable_dht": False,
        "engine_enable_utp": False,
    }
    values.update(overrides)
    return Settings(**values)


async def truncate_all(engine: AsyncEngine) -> None:
    from torrent_streamer.models import Base

    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            if tables:
                quoted = ", ".join(f'"{name}"' for name in tables)
                await connection.execute(text(f"TRUNCATE TABLE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 - names from metadata


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: FastAPI, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    kwargs.setdefault("base_url", "http://testserver")
    transport = httpx.ASGITransport(app=app, client=kwargs.pop("client_addr", ("127.0.0.1", 50000)))
    async with running_app(app), httpx.AsyncClient(transport=transport, **kwargs) as client:
        yield client


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def engine_for(url: str) -> AsyncEngine:
    return create_engine(url, pool_size=2)
