"""Disk cache: least-recently-watched eviction, readers protect torrents, remove deletes data."""

from __future__ import annotations

from pathlib import Path

import pytest

from torrent_streamer.engine import LibtorrentEngine, TorrentNotFound

from .conftest import leech_config
from .swarm import Media, Seeder, make_media

pytestmark = pytest.mark.asyncio


async def _download_file(engine: LibtorrentEngine, key: str, index: int) -> None:
    async with await engine.open_reader(key, index) as r:
        pos = 0
        while pos < r.size:
            pos += len(await r.read(pos, 1 << 20))


async def test_lru_eviction_under_tiny_cache_limit(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    other = make_media(tmp_path / "other", name="Other", mdat=256 * 1024, seed=3)
    other_seeder = Seeder(other)
    engine = LibtorrentEngine(leech_config(tmp_path / "leech", cache_limit_bytes=3_400_000))
    await engine.start()
    try:
        a = (await engine.add_torrent_file(media.torrent)).info_hash
        engine.connect_peer(a, "127.0.0.1", seeder.port)
        b = (await engine.add_torrent_file(other.torrent)).info_hash
        engine.connect_peer(b, "127.0.0.1", other_seeder.port)
        await _download_file(engine, a, media.file_index("movie.mp4"))
        await _download_file(engine, b, other.file_index("movie.mp4"))
        await engine.wait_status(a, lambda s: s.downloaded_bytes >= 3 * 1024 * 1024, 30)
        await engine.wait_status(b, lambda s: s.downloaded_bytes >= 256 * 1024, 30)
        assert engine.stats().cache_bytes_used > 3_400_000

        # least recently watched goes first; one eviction is enough here
        engine.touch(b)
        engine._torrents[a].last_watched = 0
        assert await engine.evict_to_limit() == [a]
        with pytest.raises(TorrentNotFound):
            engine.status(a)
        assert not (tmp_path / "leech" / "downloads" / a).exists()  # only that torrent's directory went
        assert (tmp_path / "leech" / "downloads" / b / other.name).is_dir()
        assert not (tmp_path / "leech" / "state" / "resume" / f"{a}.fastresume").exists()
        assert engine.status(b).progress > 0

        # an open reader protects a torrent even when it is the oldest
        a = (await engine.add_torrent_file(media.torrent)).info_hash
        engine.connect_peer(a, "127.0.0.1", seeder.port)
        await _download_file(engine, a, media.file_index("movie.mp4"))
        await engine.wait_status(a, lambda s: s.downloaded_bytes >= 3 * 1024 * 1024, 30)
        reader = await engine.open_reader(a, media.file_index("movie.srt"))
        engine._torrents[a].last_watched = 0
        assert await engine.evict_to_limit() == [b]
        await reader.aclose()
        assert engine.status(a).has_metadata
    finally:
        await engine.close()
        other_seeder.close()


async def test_idle_torrent_is_paused_and_resumed_on_open(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    engine = LibtorrentEngine(leech_config(tmp_path, idle_pause_seconds=0.0))
    await engine.start()
    try:
        key = (await engine.add_torrent_file(media.torrent)).info_hash
        engine._torrents[key].last_watched = 0
        await engine._maintain()
        await engine.wait_status(key, lambda s: s.state == "paused", 10)
        engine.connect_peer(key, "127.0.0.1", seeder.port)
        async with await engine.open_reader(key, media.file_index("movie.srt")) as r:
            assert await r.read(0, 100) == media.files["movie.srt"]
        await engine.wait_status(key, lambda s: s.state != "paused", 10)
    finally:
        await engine.close()
