"""MemoryEngine and LibtorrentEngine behave alike through the `Engine` protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from torrent_streamer.engine import (
    Engine,
    FileIndexError,
    FileReader,
    LibtorrentEngine,
    MemoryEngine,
    ReaderClosed,
    ReadOutOfRange,
    TorrentNotFound,
)

from .conftest import leech_config
from .swarm import PIECE, Media, Seeder

pytestmark = pytest.mark.asyncio


@dataclass
class Case:
    engine: Engine
    key: str
    media: Media


@pytest_asyncio.fixture(params=["memory", "libtorrent"])
async def case(request: pytest.FixtureRequest, tmp_path: Path, media: Media, seeder: Seeder) -> AsyncIterator[Case]:
    cfg = leech_config(tmp_path)
    engine: Engine
    if request.param == "memory":
        mem = MemoryEngine(cfg)
        data = mem.seed(media.name, list(media.files.items()), PIECE)
        engine = mem
        await engine.start()
        key = (await engine.add_torrent_file(data)).info_hash
    else:
        lte = LibtorrentEngine(cfg)
        await lte.start()
        key = (await lte.add_torrent_file(media.torrent)).info_hash
        lte.connect_peer(key, "127.0.0.1", seeder.port)
        engine = lte
    yield Case(engine, key, media)
    await engine.close()


async def test_protocol_and_status(case: Case) -> None:
    e = case.engine
    assert isinstance(e, Engine)
    st = e.status(case.key)
    assert st.info_hash == case.key
    assert st.has_metadata
    assert [f.name.split("/", 1)[1] for f in st.files] == list(case.media.files)
    movie = st.files[case.media.file_index("movie.mp4")]
    assert movie.mime == "video/mp4"
    assert movie.streamable
    assert movie.first_piece == 0
    assert movie.last_piece == (movie.size - 1) // PIECE
    assert [s.info_hash for s in e.list_status()] == [case.key]
    assert e.stats().active_torrents >= 0


async def test_reads_are_exact_and_bounded(case: Case) -> None:
    e = case.engine
    idx = case.media.file_index("extras/sample.bin")
    content = case.media.files["extras/sample.bin"]
    async with await e.open_reader(case.key, idx) as r:
        assert isinstance(r, FileReader)
        assert r.size == len(content)
        assert r.file_info.index == idx
        for off in (0, 1, PIECE - 5, len(content) // 2, len(content) - 1):
            data = await r.read(off, 1 << 20)
            # at least the rest of the cursor's piece is never promised: one verified piece or more,
            # never past what was asked nor past the file's end
            assert 1 <= len(data) <= min(1 << 20, len(content) - off)
            assert data == content[off : off + len(data)]
        assert len(await r.read(0, 3)) == 3
        with pytest.raises(ReadOutOfRange):
            await r.read(len(content), 1)
        with pytest.raises(ReadOutOfRange):
            await r.read(-1, 1)
        assert len(e.status(case.key).readers) == 1
    with pytest.raises(ReaderClosed):
        await r.read(0, 1)
    assert e.status(case.key).readers == []


async def test_errors(case: Case) -> None:
    e = case.engine
    with pytest.raises(FileIndexError):
        await e.open_reader(case.key, 99)
    with pytest.raises(TorrentNotFound):
        e.status("00" * 20)
    with pytest.raises(TorrentNotFound):
        await e.open_reader("00" * 20, 0)
    again = await e.add_torrent_file(case.media.torrent)
    assert again.info_hash == case.key
    assert len(e.list_status()) == 1


async def test_remove(case: Case) -> None:
    e = case.engine
    r = await e.open_reader(case.key, case.media.file_index("movie.srt"))
    await e.remove(case.key)
    with pytest.raises(TorrentNotFound):
        e.status(case.key)
    with pytest.raises(ReaderClosed):
        await r.read(0, 1)
    assert await e.evict_to_limit() == []
