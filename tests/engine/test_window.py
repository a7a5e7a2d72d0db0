"""The byte-rate window against a real (throttled) swarm: growth, seeks, probes, two readers, release."""

from __future__ import annotations

import pytest

from torrent_streamer.engine import LibtorrentEngine
from torrent_streamer.engine.reader import LtFileReader

from .swarm import PIECE, Media, Seeder

pytestmark = pytest.mark.asyncio


async def _open(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> LtFileReader:
    info = await engine.add_torrent_file(media.torrent)
    engine.connect_peer(info.info_hash, "127.0.0.1", seeder.port)
    return await engine.open_reader(info.info_hash, media.file_index("movie.mp4"))


async def _read_pieces(reader: LtFileReader, first: int, count: int, data: bytes) -> list[int]:
    """Read `count` pieces sequentially from piece `first`; the window length after each."""
    sizes = []
    for k in range(first, first + count):
        assert await reader.read(k * PIECE, PIECE) == data[k * PIECE : (k + 1) * PIECE]
        sizes.append(reader.window_pieces)
    return sizes


def _window_only(reader: LtFileReader) -> set[int]:
    """The reader's planned pieces other than its pinned head, tail and moov pieces."""
    return {p for p in reader.plan if p >= reader.last_piece_read and p < reader.file_info.last_piece - 2}


async def test_window_grows_while_reader_keeps_up_and_shrinks_after_seek(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    data = slow_media.files["movie.mp4"]
    async with await _open(engine, slow_media, slow_seeder) as reader:
        sizes = await _read_pieces(reader, 0, 5, data)
        assert sizes[0] == 2
        assert sizes == sorted(sizes), sizes
        assert sizes[-1] >= 16, sizes
        far = len(data) // 2 // PIECE
        assert await reader.read(far * PIECE, 100) == data[far * PIECE : far * PIECE + 100]
        assert reader.window_pieces == 2
        assert _window_only(reader) <= {far, far + 1}
        sizes = await _read_pieces(reader, far + 1, 3, data)
        assert sizes == sorted(sizes), sizes
        assert sizes[-1] > 2, sizes


async def test_probes_leave_the_window_alone(engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder) -> None:
    data = slow_media.files["movie.mp4"]
    async with await _open(engine, slow_media, slow_seeder) as player:
        await _read_pieces(player, 0, 4, data)
        size, plan = player.window_pieces, dict(player.plan)
        t = player.torrent
        index = player.file_info.index
        for start in (0, len(data) - 2):  # bytes=0-1 and a tail probe, each its own request/reader
            async with await engine.open_reader(slow_media.info_hash, index) as probe:
                assert await probe.read(start, 2) == data[start : start + 2]
                assert probe.window_pieces == 2
        assert player.window_pieces == size
        assert player.plan == plan
        assert set(t.deadlines) <= {p for r in t.readers for p in r.plan}


async def test_two_readers_keep_separate_windows(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    data = slow_media.files["movie.mp4"]
    async with await _open(engine, slow_media, slow_seeder) as a:
        await _read_pieces(a, 0, 4, data)
        grown = a.window_pieces
        async with await engine.open_reader(slow_media.info_hash, a.file_info.index) as b:
            far = len(data) // 2 // PIECE
            await _read_pieces(b, far, 1, data)
            assert b.window_pieces == 2
            assert a.window_pieces == grown
            await _read_pieces(a, 4, 1, data)  # a keeps growing; b stays where it is
            assert a.window_pieces >= grown
            assert b.window_pieces == 2
            assert _window_only(b) <= {far, far + 1}


async def test_disconnect_releases_the_windows_deadlines(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    data = slow_media.files["movie.mp4"]
    reader = await _open(engine, slow_media, slow_seeder)
    t = reader.torrent
    await _read_pieces(reader, 0, 4, data)
    mine = set(reader.plan)
    assert mine & set(t.deadlines)  # the throttled seeder has not delivered the window yet
    await reader.aclose()
    others = {p for r in t.readers for p in r.plan}
    assert set(t.deadlines) <= others
    assert not (mine - others) & set(t.deadlines)
