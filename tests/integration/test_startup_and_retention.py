"""Start-up is honest (one-line refusals at any width, unmigrated database, undecryptable secrets)
and retention prunes dead refresh tokens and old audit rows, by command and on a schedule
(security wave 2: SR-1.3, SR-1.4, SR-4.5, SR-10.2)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests import support
from tests.auth_helpers import login, register_and_login, services_of
from torrent_streamer.app import create_app
from torrent_streamer.auth.models import RefreshToken
from torrent_streamer.cli import app as cli_app
from torrent_streamer.cli import preflight, register_domain_commands
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.core.config import Settings
from torrent_streamer.core.secrets import new_encryption_key_entry


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process, on an 80-column terminal."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TS_")}
    return subprocess.run(
        [sys.executable, "-m", "torrent_streamer", *args],
        env={**clean, "COLUMNS": "80", "TERM": "xterm-256color", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "TS_ENV": "production",
        "TS_DATA_DIR": str(tmp_path / "data"),
        "TS_SECRET_KEY": support.TEST_SECRET_KEY,
        "TS_ENCRYPTION_KEYS": support.TEST_ENCRYPTION_KEYS,
        "TS_DATABASE_URL": "postgresql+asyncpg://app@db.invalid/ts",
        "TS_METRICS_TOKEN": support.TEST_SECRET_KEY[:40],
        "TS_TRUSTED_PROXIES": "10.0.0.0/8",
        "TS_TRUSTED_HOSTS": "stream.example.org",
    }
    env.update(overrides)
    return env


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"TS_ENGINE_ALLOW_PRIVATE_NETWORKS": "true"}, "TS_ENGINE_ALLOW_PRIVATE_NETWORKS=true"),
        ({"TS_RATE_LIMIT_ENABLED": "false"}, "TS_RATE_LIMIT_ENABLED=false"),
        ({"TS_METRICS_TOKEN": "", "TS_DEBUG": "true", "TS_CORS_ORIGINS": "*"}, "TS_DEBUG must be off"),
        ({"TS_CLIENT_IPV6_PREFIX": "200"}, "invalid configuration: client_ipv6_prefix"),
    ],
)
def test_production_refusals_are_one_line_at_80_columns(tmp_path: Path, overrides: dict[str, str], reason: str) -> None:
    result = run_cli(production_env(tmp_path, **overrides), "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # Rich wrapped this over seven lines before
    assert reason in lines[0]
    assert len(lines[0]) > 80  # long enough that a wrapping console would have split it


async def test_serve_refuses_an_unmigrated_database_naming_the_fix(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    settings = support.make_settings(tmp_path / "data", database_url=f"sqlite+aiosqlite:///{empty}")
    problem = await preflight(settings)
    assert problem is not None
    assert "not migrated" in problem
    assert "run `torrent-streamer migrate`" in problem
    assert "\n" not in problem


async def test_serve_refuses_a_malformed_key_ring_in_one_line(settings: Settings) -> None:
    malformed = settings.model_copy(update={"encryption_keys": SecretStr("k1:not-32-bytes")})
    problem = await preflight(malformed)
    assert problem is not None
    assert problem.startswith("TS_ENCRYPTION_KEYS is not usable")
    assert "\n" not in problem


async def test_serve_refuses_a_key_ring_that_cannot_decrypt_stored_secrets(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    await register_and_login(client, mfa_enabled=True)  # a signing key and a TOTP secret are stored
    assert await preflight(settings) is None
    wrong = settings.model_copy(update={"encryption_keys": SecretStr(new_encryption_key_entry())})
    problem = await preflight(wrong)
    assert problem is not None
    assert "TS_ENCRYPTION_KEYS cannot decrypt stored secrets" in problem
    env = {
        "TS_DATABASE_URL": settings.effective_database_url,
        "TS_DATA_DIR": str(tmp_path / "cli-data"),
        "TS_SECRET_KEY": support.TEST_SECRET_KEY,
        "TS_ENCRYPTION_KEYS": wrong.encryption_keys.get_secret_value() if wrong.encryption_keys else "",
        "TS_ENGINE": "memory",
    }
    result = await anyio.to_thread.run_sync(lambda: run_cli(env, "serve", "--port", str(support.free_port())))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("refusing to start: TS_ENCRYPTION_KEYS cannot decrypt stored secrets")


async def add_old_audit_rows(client: httpx.AsyncClient, now_days_ago: tuple[int, ...]) -> None:
    clock = services_of(client).clock
    async with services_of(client).sessionmaker() as session:
        for days in now_days_ago:
            # a row written directly: record_event takes only the AuditAction names the service records
            session.add(
                AuditEvent(created_at=clock.now() - timedelta(days=days), action=f"test_aged_{days}", details={})
            )
        await session.commit()


async def count(client: httpx.AsyncClient, statement: object) -> int:
    async with services_of(client).sessionmaker() as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


async def test_prune_deletes_dead_refresh_tokens_and_audit_rows_past_retention(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    user = await register_and_login(client)
    ended = await login(client, user.email, user.password)
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": ended["refresh_token"]})).status_code == 204
    await add_old_audit_rows(client, (400, 366, 100))
    tokens_before = await count(client, select(func.count()).select_from(RefreshToken))
    assert tokens_before == 2
    register_domain_commands()
    env = {
        "TS_DATABASE_URL": settings.effective_database_url,
        "TS_DATA_DIR": str(tmp_path / "cli-data"),
        "TS_SECRET_KEY": support.TEST_SECRET_KEY,
        "TS_ENCRYPTION_KEYS": support.TEST_ENCRYPTION_KEYS,
    }
    result = await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli_app, ["prune"], env=env))
    assert result.exit_code == 0, result.output
    assert "pruned 1 refresh token(s) and 2 audit row(s)" in result.output
    assert await count(client, select(func.count()).select_from(RefreshToken)) == 1  # the live session's
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})).status_code == 200
    async with services_of(client).sessionmaker() as session:
        actions = set((await session.scalars(select(AuditEvent.action))).all())
    assert {"test_aged_100", "prune", "login"} <= actions
    assert not {"test_aged_400", "test_aged_366"} & actions


async def test_serve_prunes_on_its_own_schedule(settings_factory: Callable[..., Settings], clock: FrozenClock) -> None:
    app = create_app(settings_factory(prune_interval_seconds=0.2, audit_retention_days=30), clock=clock)
    async with support.client_for(app) as client:
        await add_old_audit_rows(client, (45,))
        aged = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test_aged_45")
        for _ in range(300):  # bounded wait for the background task (no timing assertion)
            if await count(client, aged) == 0:
                break
            await asyncio.sleep(0.1)
        assert await count(client, aged) == 0
        pruned = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "prune")
        assert await count(client, pruned) >= 1
