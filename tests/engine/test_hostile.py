"""Hostile .torrent input is refused with the right error and nothing reaches the disk."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from torrent_streamer.engine import (
    BlockedAddress,
    EngineConfig,
    InvalidTorrent,
    LibtorrentEngine,
    MemoryEngine,
)

from .conftest import leech_config

pytestmark = pytest.mark.asyncio
PLEN = 16 * 1024


def _torrent(files: list[tuple[list[bytes], int]], name: bytes = b"T", **top: Any) -> bytes:
    total = sum(n for _, n in files)
    pieces = hashlib.sha1(b"x", usedforsecurity=False).digest() * max(1, -(-total // PLEN))
    info: dict[bytes, Any] = {
        b"name": name,
        b"piece length": PLEN,
        b"pieces": pieces,
        b"files": [{b"path": p, b"length": n} for p, n in files],
    }
    d: dict[bytes, Any] = {b"info": info}
    for k, v in top.items():
        d[k.replace("_", "-").encode()] = v
    return bytes(lt.bencode(d))  # type: ignore[arg-type]


def _with_info(**info_extra: Any) -> bytes:
    info: dict[bytes, Any] = {
        b"name": b"T",
        b"piece length": PLEN,
        b"pieces": hashlib.sha1(b"x", usedforsecurity=False).digest(),
        b"length": 100,
    }
    info.update({k.encode(): v for k, v in info_extra.items()})
    return bytes(lt.bencode({b"info": info}))  # type: ignore[dict-item]


def _raw_nested(depth: int) -> bytes:
    return (
        b"d4:infod4:name1:T12:piece lengthi16384e6:pieces20:" + b"x" * 20 + b"1:z" + b"l" * depth + b"e" * depth + b"ee"
    )


HOSTILE: list[tuple[str, bytes, type[Exception]]] = [
    ("traversal", _torrent([([b"..", b"etc", b"passwd"], 10)]), InvalidTorrent),
    ("traversal-name", _torrent([([b"a"], 10)], name=b".."), InvalidTorrent),
    ("absolute", _torrent([([b"/etc/passwd"], 10)]), InvalidTorrent),
    ("backslash", _torrent([([b"..\\..\\x"], 10)]), InvalidTorrent),
    ("nul", _torrent([([b"a\x00b"], 10)]), InvalidTorrent),
    ("control", _torrent([([b"a\nb"], 10)]), InvalidTorrent),
    ("drive", _torrent([([b"C:evil"], 10)]), InvalidTorrent),
    ("long-name", _torrent([([b"a" * 300], 10)]), InvalidTorrent),
    (
        "symlink",
        bytes(
            lt.bencode(
                {
                    b"info": {
                        b"name": b"T",
                        b"piece length": PLEN,
                        b"pieces": b"x" * 20,
                        b"files": [
                            {
                                b"path": [b"l"],
                                b"length": 0,
                                b"attr": b"l",
                                b"symlink path": [b"..", b"x"],
                            }
                        ],
                    }
                }
            )
        ),
        InvalidTorrent,
    ),  # type: ignore[dict-item]
    ("giant-size", _with_info(length=1 << 60), InvalidTorrent),
    ("negative-size", _with_info(length=-5), InvalidTorrent),
    ("deep-nesting", _raw_nested(5000), InvalidTorrent),
    (
        "huge-piece-count",
        _with_info(length=PLEN * 3_000_000, pieces=b"x" * 20 * 3_000_000),
        InvalidTorrent,
    ),
    ("garbage", b"not bencode at all", InvalidTorrent),
    ("empty", b"", InvalidTorrent),
    ("oversized", b"d4:info" + b"0:" * (6 * 1024 * 1024) + b"e", InvalidTorrent),
    (
        "private-tracker",
        _torrent([([b"a"], 10)], announce=b"http://192.168.1.1/announce"),
        BlockedAddress,
    ),
    (
        "loopback-tracker",
        _torrent([([b"a"], 10)], announce_list=[[b"udp://127.0.0.1:6969"]]),
        BlockedAddress,
    ),
    (
        "localhost-tracker",
        _torrent([([b"a"], 10)], announce=b"http://localhost:8080/a"),
        BlockedAddress,
    ),
    (
        "metadata-ip-seed",
        _torrent([([b"a"], 10)], url_list=[b"http://169.254.169.254/latest/"]),
        BlockedAddress,
    ),
    (
        "decimal-ip-seed",
        _torrent([([b"a"], 10)], url_list=b"http://2130706433/x"),
        BlockedAddress,
    ),
    (
        "v6-seed",
        _torrent([([b"a"], 10)], httpseeds=[b"http://[::1]/x"]),
        BlockedAddress,
    ),
    (
        "file-scheme",
        _torrent([([b"a"], 10)], url_list=[b"file:///etc/passwd"]),
        BlockedAddress,
    ),
]


def _cfg(tmp: Path) -> EngineConfig:
    return leech_config(tmp, allow_private_networks=False, max_pieces=2_000_000)


@pytest.mark.parametrize(("label", "data", "error"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_torrent_refused(tmp_path: Path, label: str, data: bytes, error: type[Exception]) -> None:
    cfg = _cfg(tmp_path)
    for engine in (MemoryEngine(cfg), LibtorrentEngine(cfg)):
        if isinstance(engine, LibtorrentEngine):
            await engine.start()
        try:
            with pytest.raises(error):
                await engine.add_torrent_file(data)
            assert engine.list_status() == []
        finally:
            await engine.close()
    assert not any(cfg.download_dir.rglob("*")) if cfg.download_dir.exists() else True


async def test_hostile_message_is_safe(tmp_path: Path) -> None:
    engine = MemoryEngine(_cfg(tmp_path))
    with pytest.raises(InvalidTorrent) as info:
        await engine.add_torrent_file(_torrent([([b"..", b"x"], 1)]))
    assert str(tmp_path) not in str(info.value)
    assert info.value.reason


async def test_libtorrent_stores_only_under_download_dir(tmp_path: Path) -> None:
    """A legitimate odd-but-valid name stays inside download_dir."""
    cfg = leech_config(tmp_path)
    engine = LibtorrentEngine(cfg)
    await engine.start()
    try:
        data = _torrent([([b"sub dir", b"x y.mkv"], 10)], name=b"A name with spaces")
        info = await engine.add_torrent_file(data)
        assert info.files[0].name == "A name with spaces/sub dir/x y.mkv"
        assert info.files[0].mime == "video/x-matroska"
        assert info.files[0].streamable
        await engine.remove(info.info_hash)
    finally:
        await engine.close()
    outside = [p for p in tmp_path.rglob("*") if not str(p).startswith(str(tmp_path))]
    assert outside == []


async def test_piece_count_limit_from_config(tmp_path: Path) -> None:
    cfg = leech_config(tmp_path, max_pieces=100)
    data = _torrent([([b"a"], PLEN * 150)])
    with pytest.raises(InvalidTorrent):
        await MemoryEngine(cfg).add_torrent_file(data)
    ok = _torrent([([b"a"], PLEN * 50)])
    assert (await MemoryEngine(cfg).add_torrent_file(ok)).num_pieces == 50


async def test_piece_length_is_capped_from_config(tmp_path: Path) -> None:
    """Issue 12 item 6: a 64 MiB-piece torrent is refused (default cap 16 MiB) on both engines."""
    big = _with_info(**{"piece length": 64 * 1024 * 1024, "length": 100})
    limit = _with_info(**{"piece length": 16 * 1024 * 1024, "length": 100})
    cfg = leech_config(tmp_path)
    for engine in (MemoryEngine(cfg), LibtorrentEngine(cfg)):
        if isinstance(engine, LibtorrentEngine):
            await engine.start()
        try:
            with pytest.raises(InvalidTorrent, match="piece length over the limit of 16 MiB"):
                await engine.add_torrent_file(big)
            assert (await engine.add_torrent_file(limit)).piece_length == 16 * 1024 * 1024
        finally:
            await engine.close()
    with pytest.raises(InvalidTorrent):
        await MemoryEngine(leech_config(tmp_path, max_piece_length=4 * 1024 * 1024)).add_torrent_file(limit)


async def test_uploaded_metadata_size_is_capped(tmp_path: Path) -> None:
    """The info dict of an upload obeys the same `max_metadata_size` as a magnet's (default 4 MiB)."""
    n = 250_000  # 5 MB of piece hashes: under the 10 MiB file cap, over the metadata cap
    data = _with_info(length=PLEN * n, pieces=b"x" * 20 * n)
    with pytest.raises(InvalidTorrent, match="metadata too large"):
        await MemoryEngine(leech_config(tmp_path)).add_torrent_file(data)
    info = await MemoryEngine(leech_config(tmp_path, max_metadata_size=8 * 1024 * 1024)).add_torrent_file(data)
    assert info.num_pieces == n
