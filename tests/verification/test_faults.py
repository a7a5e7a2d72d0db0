"""Faults: the database restarts under traffic, Redis goes away — the service stays up and recovers.

Each test runs its own private PostgreSQL/Redis so restarting them disturbs nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.verification.private_services import PrivatePostgres, PrivateRedis
from tests.verification.service import ServiceProcess


def wait_for_status(client: httpx.Client, path: str, status: int, timeout: float = 30.0) -> list[int]:
    """Poll ``path`` until it answers ``status``; return every status seen (bounded)."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(client.get(path).status_code)
        if seen[-1] == status:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{path} never answered {status}; saw {sorted(set(seen))}")


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres().init()
    pg.start()
    yield pg
    pg.destroy()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    yield redis
    redis.stop()


@pytest.mark.slow
def test_postgres_restart_turns_readiness_red_then_green_without_restarting_the_service(
    service_factory: Callable[..., ServiceProcess], private_pg: PrivatePostgres
) -> None:
    url = private_pg.url()
    service = service_factory("pg-fault", start=False, TS_DATABASE_URL=url, TS_REDIS_URL="")
    migrate = service.run_cli("migrate")
    assert migrate.returncode == 0, migrate.stderr.decode()
    service.start()
    with httpx.Client(base_url=service.base_url, timeout=5) as client:
        assert client.get("/readyz").status_code == 200
        private_pg.stop()
        wait_for_status(client, "/readyz", 503)
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        private_pg.start()
        wait_for_status(client, "/readyz", 200)
        assert service.process is not None
        assert service.process.poll() is None  # same process throughout
        statuses = {client.get("/readyz").status_code for _ in range(20)}
    assert statuses == {200}


@pytest.mark.slow
def test_redis_outage_keeps_the_service_up(
    service_factory: Callable[..., ServiceProcess], private_redis: PrivateRedis
) -> None:
    service = service_factory("redis-fault", TS_REDIS_URL=private_redis.url)
    with httpx.Client(base_url=service.base_url, timeout=5) as client:
        assert client.get("/readyz").json()["checks"]["redis"] == "ok"
        private_redis.stop()
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["redis"] == "failing"
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/v1/openapi.json").status_code == 200
        private_redis.start()
        wait_for_status(client, "/readyz", 200)
