"""The start-up banner names the BitTorrent port really bound, and says so when the configured one was taken."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from torrent_streamer.cli import bittorrent_banner, configured_port, listen_report
from torrent_streamer.engine import EngineConfig, LibtorrentEngine

pytestmark = pytest.mark.engine


def test_configured_port_and_report() -> None:
    assert configured_port("0.0.0.0:6881,[::]:6881") == 6881
    assert configured_port("[::1]:7000") == 7000
    assert configured_port("eth0") is None
    assert listen_report(6881, 6881) == "  BitTorrent: listening on port 6881"
    assert "port 6881 is taken" in listen_report(6881, 6882)
    assert "6882" in listen_report(6881, 6882)
    assert "not listening" in listen_report(6881, 0)
    assert bittorrent_banner(object(), "0.0.0.0:6881") is None  # the in-memory engine has no port


def test_banner_reports_the_port_taken_instead(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        interfaces = f"127.0.0.1:{taken}"
        config = EngineConfig(
            download_dir=tmp_path / "d", state_dir=tmp_path / "s", listen_interfaces=interfaces, enable_dht=False
        )

        async def started_banner() -> str | None:
            engine = LibtorrentEngine(config)
            await engine.start()
            try:
                return bittorrent_banner(engine, interfaces)
            finally:
                await engine.close()

        line = asyncio.run(started_banner())
    assert line is not None
    assert f"port {taken} is taken" in line
