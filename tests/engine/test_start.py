"""Stream start: a magnet with a peer hint reaches its first byte on one connection, no reconnect.

Asserts on behaviour (the engine's peer connects/disconnects, from libtorrent's alerts), never on time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from torrent_streamer.engine import LibtorrentEngine

from .conftest import leech_config
from .swarm import Media, Seeder

pytestmark = pytest.mark.asyncio


async def _stream_by_magnet(tmp_path: Path, media: Media, seeder: Seeder) -> LibtorrentEngine:
    """Add by magnet with a peer hint and stream the movie whole, byte-exact."""
    # uTP enabled as in production; the seeder is TCP-only, like many real peers.
    engine = LibtorrentEngine(leech_config(tmp_path, enable_utp=True))
    await engine.start()
    info = await engine.add_magnet(f"magnet:?xt=urn:btih:{media.info_hash}&x.pe=127.0.0.1:{seeder.port}")
    index = media.file_index("movie.mp4")
    data = media.files["movie.mp4"]
    async with await engine.open_reader(info.info_hash, index) as reader:
        assert await reader.read(0, 64) == data[:64]
        got = bytearray(data[:64])
        while len(got) < len(data):
            got += await reader.read(len(got), 256 * 1024)
    assert got == data
    return engine


async def test_magnet_with_peer_hint_pays_no_reconnect(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    engine = await _stream_by_magnet(tmp_path, media, seeder)
    try:
        log = engine.peer_log(media.info_hash)
        # Before the fix: a uTP attempt timing out (3 s), then TCP; then the torrent was "finished"
        # the moment metadata arrived (every file at priority 0), which dropped the seed ("upload
        # to upload") until min_reconnect_time and another uTP timeout had passed.
        assert [d for kind, d in log if kind == "peer_connect"] == [f"127.0.0.1:{seeder.port} TCP"], log
        # the only disconnect allowed: the movie (the only wanted file) is complete
        drops = [d for kind, d in log if kind == "peer_disconnect"]
        assert all(d.endswith("torrent finished (reason 0)") for d in drops), log
    finally:
        await engine.close()


async def test_magnet_file_priorities_after_metadata(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    engine = await _stream_by_magnet(tmp_path, media, seeder)
    try:
        handle = engine._get(media.info_hash).handle
        prios = handle.get_file_priorities()
        # one entry per file (the longer preload list given at add time is not kept): the watched
        # file at 1, the others at 0
        index = media.file_index("movie.mp4")
        assert list(prios) == [1 if i == index else 0 for i in range(len(media.files))]
    finally:
        await engine.close()


async def test_utp_only_peer_is_reached_after_tcp_fails(tmp_path: Path, media: Media) -> None:
    seeder = Seeder(media, utp_only=True)
    engine = LibtorrentEngine(leech_config(tmp_path, enable_utp=True, utp_fallback_seconds=0.3))
    await engine.start()
    try:
        info = await engine.add_magnet(f"magnet:?xt=urn:btih:{media.info_hash}&x.pe=127.0.0.1:{seeder.port}")
        data = media.files["movie.mp4"]
        async with await engine.open_reader(info.info_hash, media.file_index("movie.mp4")) as reader:
            assert await reader.read(0, 4096) == data[:4096]
        # TCP is tried first (and refused); without the fallback outgoing uTP would stay off and
        # this read would time out.
        log = engine.peer_log(info.info_hash)
        assert ("peer_connect", f"127.0.0.1:{seeder.port} uTP") in log, log
    finally:
        await engine.close()
        seeder.close()
