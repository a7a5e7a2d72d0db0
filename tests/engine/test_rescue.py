"""A reader starved of its only peer re-dials it: a stream never hangs on a peer libtorrent gave up on.

Behaviour only (the read completes, byte-exact, and the engine counted a rescue), never time.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from torrent_streamer.engine import LibtorrentEngine

from .conftest import leech_config
from .swarm import Media, Seeder

pytestmark = pytest.mark.asyncio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_reader_redials_a_peer_that_came_back(tmp_path: Path, media: Media) -> None:
    port = _free_port()
    engine = LibtorrentEngine(leech_config(tmp_path, read_timeout=60.0, rescue_after_seconds=0.5))
    await engine.start()
    seeder: Seeder | None = None
    try:
        # libtorrent drops a peer from its list after one failed connect (as it does after
        # `max_failcount` in production): nothing but the engine's rescue can dial it again.
        engine.session.apply_settings({"max_failcount": 1})
        key = (await engine.add_torrent_file(media.torrent)).info_hash
        engine.connect_peer(key, "127.0.0.1", port)  # nobody listens there yet: refused
        index = media.file_index("extras/sample.bin")
        content = media.files["extras/sample.bin"]
        async with await engine.open_reader(key, index) as reader:
            read = asyncio.ensure_future(reader.read(0, 1 << 20))
            t = engine._get(key)
            for _ in range(200):  # the refused connect was seen and the peer forgotten (bounded)
                await asyncio.sleep(0.05)
                if t.rescues >= 1:
                    break
            assert t.rescues >= 1, "a starved reader was never rescued"
            assert not read.done()
            seeder = Seeder(media, port=port)  # the peer comes back on the same address
            data = await read
            assert data == content[: len(data)]
            tail = await reader.read(len(content) - 10, 10)
            assert tail == content[-10:]
        assert engine.status(key).readers == []
    finally:
        await engine.close()
        if seeder is not None:
            seeder.close()


async def test_no_rescue_while_nothing_waits(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    engine = LibtorrentEngine(leech_config(tmp_path, rescue_after_seconds=0.2))
    await engine.start()
    try:
        key = (await engine.add_torrent_file(media.torrent)).info_hash
        engine.connect_peer(key, "127.0.0.1", seeder.port)
        index = media.file_index("movie.mp4")
        async with await engine.open_reader(key, index) as reader:
            assert await reader.read(0, 64) == media.files["movie.mp4"][:64]
        t = engine._get(key)
        for _ in range(10):  # several status ticks with no waiting reader
            await asyncio.sleep(0.1)
        assert not t.rescue_due(t.rescued_at + 1000.0, 0.2, 30.0)
        assert t.rescues == 0
    finally:
        await engine.close()
