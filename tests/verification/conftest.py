"""Fixtures for black-box verification: the service as a subprocess, on the run's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import support
from tests.verification.service import ServiceProcess


@pytest.fixture
def service_factory(tmp_path: Path, clean_db: str) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def factory(name: str = "node", *, start: bool = True, **env: str) -> ServiceProcess:
        overrides = {"TS_DATABASE_URL": clean_db, **env}
        if support.USE_REDIS and "TS_REDIS_URL" not in env:
            overrides["TS_REDIS_URL"] = support.REDIS_URL
            overrides.setdefault("TS_REDIS_KEY_PREFIX", f"ts-test-{support.RUN_ID}-{tmp_path.name}")
        service = ServiceProcess(tmp_path / name, overrides)
        started.append(service)
        return service.start() if start else service

    yield factory
    for service in started:
        service.stop()
