"""The read path against a real swarm: byte-exact across piece boundaries for every piece size,
coalesced reads of verified pieces, read-ahead, and no piece copied or read twice."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import libtorrent as lt
import pytest

from torrent_streamer.engine import LibtorrentEngine
from torrent_streamer.engine.reader import LtFileReader

from .conftest import leech_config
from .swarm import Media, Seeder

pytestmark = pytest.mark.asyncio


def _media(root: Path, piece: int, seed: int) -> Media:
    rnd = random.Random(seed)
    # a small head file so the movie starts mid-piece, and a size that ends mid-piece
    files = {"a.nfo": rnd.randbytes(rnd.randrange(1, piece)), "movie.mkv": rnd.randbytes(6 * piece + 12345)}
    for rel, data in files.items():
        (root / "T" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "T" / rel).write_bytes(data)
    entries = [lt.create_file_entry(f"T/{rel}", len(d)) for rel, d in files.items()]
    ct = lt.create_torrent(entries, piece, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(root))
    torrent = bytes(lt.bencode(ct.generate()))
    return Media(root, "T", files, torrent, str(lt.torrent_info(torrent).info_hashes().v1))


async def _reader(tmp_path: Path, media: Media, seeder: Seeder) -> tuple[LibtorrentEngine, LtFileReader]:
    engine = LibtorrentEngine(leech_config(tmp_path / "leech"))
    await engine.start()
    info = await engine.add_torrent_file(media.torrent)
    engine.connect_peer(info.info_hash, "127.0.0.1", seeder.port)
    return engine, await engine.open_reader(info.info_hash, media.file_index("movie.mkv"))


@pytest.mark.parametrize("piece_kib", [16, 32, 64, 256, 1024])
async def test_reads_are_byte_exact_across_piece_boundaries(tmp_path: Path, piece_kib: int) -> None:
    piece = piece_kib * 1024
    media = _media(tmp_path / "media", piece, seed=piece_kib)
    data = media.files["movie.mkv"]
    seeder = Seeder(media)
    engine, reader = await _reader(tmp_path, media, seeder)
    rnd = random.Random(piece_kib)
    try:
        # sequential in odd sizes (crosses every boundary), then random offsets and lengths
        offset = 0
        while offset < len(data):
            chunk = await reader.read(offset, rnd.choice([1, 1000, piece - 1, piece + 1, 3 * piece]))
            assert chunk
            assert chunk == data[offset : offset + len(chunk)]
            offset += len(chunk)
        for _ in range(60):
            start, want = rnd.randrange(len(data)), rnd.randrange(1, 4 * piece)
            chunk = await reader.read(start, want)
            assert 1 <= len(chunk) <= want
            assert chunk == data[start : start + len(chunk)]
        # a complete file: every read returns all it asked for (coalesced across pieces)
        assert await reader.read(0, len(data)) == data
    finally:
        await reader.aclose()
        await engine.close()
        seeder.close()


async def test_no_piece_is_read_or_copied_twice(tmp_path: Path) -> None:
    piece = 32 * 1024
    media = _media(tmp_path / "media", piece, seed=3)
    data = media.files["movie.mkv"]
    seeder = Seeder(media)
    engine, reader = await _reader(tmp_path, media, seeder)
    t = reader.torrent
    reads: list[int] = []
    fetched: dict[int, bytes] = {}
    original = t.read_piece

    async def counting(p: int, timeout: float) -> bytes:
        reads.append(p)
        fetched[p] = await original(p, timeout)
        return fetched[p]

    t.read_piece = counting  # type: ignore[method-assign]
    try:
        f = reader.file_info
        whole = (f.offset // piece + 1) * piece - f.offset  # file offset of its first whole piece
        got = bytearray(await reader.read(0, whole))
        while len(got) < len(data):
            chunk = await reader.read(len(got), 256 * 1024)
            p = (f.offset + len(got)) // piece
            if len(chunk) == len(fetched.get(p, b"")):
                assert chunk is fetched[p]  # a whole piece goes out as libtorrent's own buffer
            got += chunk
        assert got == data
        assert sorted(reads) == sorted(set(reads))  # read-ahead and reads share one read_piece
    finally:
        await reader.aclose()
        await engine.close()
        seeder.close()


async def test_the_pieces_one_read_coalesces_are_read_at_once(tmp_path: Path) -> None:
    """A read across verified pieces asks libtorrent for all of them before it awaits the first:
    awaited one by one, small pieces cost one `read_piece` round trip each (issue 15)."""
    piece = 16 * 1024
    media = _media(tmp_path / "media", piece, seed=9)
    data = media.files["movie.mkv"]
    seeder = Seeder(media)
    engine, first = await _reader(tmp_path, media, seeder)
    first.torrent.request_disk_proof = lambda: None  # type: ignore[method-assign] # through libtorrent
    try:
        assert await _read_all(first, len(data), 256 * 1024) == data  # every piece verified now
        await first.aclose()
        reader = await engine.open_reader(media.info_hash, media.file_index("movie.mkv"))
        t = reader.torrent
        in_flight, most, reads = 0, 0, []
        original = t.read_piece

        async def counting(p: int, timeout: float) -> bytes:
            nonlocal in_flight, most
            reads.append(p)
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await original(p, timeout)
            finally:
                in_flight -= 1

        t.read_piece = counting  # type: ignore[method-assign]
        f, want = reader.file_info, 5 * piece
        covered = set(range(f.offset // piece, (f.offset + want - 1) // piece + 1))
        assert len(covered) == 6  # the file starts mid-piece
        assert await reader.read(0, want) == data[:want]
        assert covered <= set(reads)
        assert most >= len(covered)  # the read's pieces were all in flight together
        await reader.aclose()
        assert sorted(reads) == sorted(set(reads))  # and none was read twice
    finally:
        await engine.close()
        seeder.close()


async def _read_all(reader: LtFileReader, size: int, chunk: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        part = await reader.read(len(got), chunk)
        assert part
        got += part
    return bytes(got)


async def test_a_completed_file_is_read_from_disk_once_proven_written(tmp_path: Path) -> None:
    piece = 64 * 1024
    media = _media(tmp_path / "media", piece, seed=5)
    data = media.files["movie.mkv"]
    seeder = Seeder(media)
    engine, reader = await _reader(tmp_path, media, seeder)
    t = reader.torrent
    reads: list[int] = []
    original = t.read_piece

    async def counting(p: int, timeout: float) -> bytes:
        reads.append(p)
        return await original(p, timeout)

    t.read_piece = counting  # type: ignore[method-assign]
    try:
        assert await _read_all(reader, len(data), 256 * 1024) == data  # downloads it: through libtorrent
        assert reads
        for _ in range(200):  # the proof (libtorrent's cache_flushed_alert) comes in the background
            if t.disk_proven():
                break
            await reader.read(0, 1)
            await asyncio.sleep(0.01)
        assert t.disk_proven()
        reads.clear()
        assert await _read_all(reader, len(data), 3 * piece + 1) == data
        assert reads == []  # not one piece through libtorrent: the file itself, one pread a read
        assert reader.disk_reads > 0
        assert await reader.read(0, len(data)) == data  # one read returns all it asked for
        start = piece // 2
        assert await reader.read(start, 2 * piece) == data[start : start + 2 * piece]
    finally:
        await reader.aclose()
        await engine.close()
        seeder.close()


async def test_without_the_proof_a_completed_file_is_read_through_libtorrent(tmp_path: Path) -> None:
    piece = 64 * 1024
    media = _media(tmp_path / "media", piece, seed=6)
    data = media.files["movie.mkv"]
    seeder = Seeder(media)
    engine, reader = await _reader(tmp_path, media, seeder)
    t = reader.torrent
    t.request_disk_proof = lambda: None  # type: ignore[method-assign] # the flush never asked for
    try:
        for _ in range(3):
            assert await _read_all(reader, len(data), 256 * 1024) == data
            await asyncio.sleep(0.05)
        assert not t.disk_proven()
        assert reader.disk_reads == 0
    finally:
        await reader.aclose()
        await engine.close()
        seeder.close()
