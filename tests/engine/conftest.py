"""Fixtures for engine tests: media, loopback seeders and leecher engines in tmp dirs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI

from tests import support
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.engine import EngineConfig, LibtorrentEngine

from .swarm import Media, Seeder, make_media


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def seeder(media: Media) -> Iterator[Seeder]:
    s = Seeder(media)
    yield s
    s.close()


@pytest.fixture(scope="session")
def slow_media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("slow"), name="Slow", seed=7)


@pytest.fixture
def slow_seeder(slow_media: Media) -> Iterator[Seeder]:
    s = Seeder(slow_media, upload_rate_limit=768 * 1024)
    yield s
    s.close()


def leech_config(tmp: Path, **kw: object) -> EngineConfig:
    base: dict[str, object] = {
        "download_dir": tmp / "downloads",
        "state_dir": tmp / "state",
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "allow_private_networks": True,
        "enable_utp": False,
        "status_interval": 0.1,
        "resume_save_interval": 1.0,
        "maintenance_interval": 3600.0,
        "read_timeout": 8.0,
    }
    base.update(kw)
    return EngineConfig(**base)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LibtorrentEngine]:
    e = LibtorrentEngine(leech_config(tmp_path))
    await e.start()
    yield e
    await e.close()


@pytest.fixture
def make_app(settings_factory: Callable[..., Any], clock: FrozenClock) -> Callable[[], FastAPI]:
    """The whole app on the real engine (loopback, TCP only, no DHT), a fresh one per call."""
    settings = settings_factory(**support.LOOPBACK_ENGINE)
    return lambda: create_app(settings, clock=clock)
