"""An in-memory Engine with the real one's behaviour, for fast API tests without sockets.

Torrents are built from given bytes (`seed`); readers serve them; status says 100%.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import libtorrent as lt

from .config import EngineConfig
from .errors import (
    FileIndexError,
    MetadataTimeout,
    ReaderClosed,
    ReadOutOfRange,
    TorrentNotFound,
)
from .magnet import parse_magnet
from .torrentfile import key_of, parse_torrent_file, torrent_info_of
from .types import (
    EngineObserver,
    EngineStats,
    FileInfo,
    MetadataListener,
    ReaderStatus,
    TorrentInfo,
    TorrentStatus,
)


def build_torrent(name: str, files: list[tuple[str, bytes]], piece_length: int = 16384) -> bytes:
    """A v1 .torrent for `files` (paths relative to `name`, `/`-separated)."""
    blob = b"".join(data for _, data in files)
    pieces = b"".join(
        hashlib.sha1(blob[i : i + piece_length], usedforsecurity=False).digest()
        for i in range(0, len(blob), piece_length)
    )
    info = {
        b"name": name.encode(),
        b"piece length": piece_length,
        b"pieces": pieces,
        b"files": [{b"path": [p.encode() for p in path.split("/")], b"length": len(data)} for path, data in files],
    }
    return bytes(lt.bencode(cast(Any, {b"info": info})))


@dataclass
class _MemTorrent:
    info: TorrentInfo
    blob: bytes | None
    metadata: asyncio.Event
    raw: bytes | None = None
    last_watched: float = field(default_factory=time.time)
    readers: set[MemoryFileReader] = field(default_factory=set)


class MemoryFileReader:
    """`FileReader` over bytes held in memory; same bounds and errors as the real one."""

    def __init__(self, t: _MemTorrent, file: FileInfo, observer: EngineObserver | None) -> None:
        self._t = t
        self._file = file
        self._observer = observer
        self._closed = False
        self._opened = time.monotonic()
        self._reads = 0
        self.position = 0
        self.owner: str | None = None

    @property
    def size(self) -> int:
        return self._file.size

    @property
    def file_info(self) -> FileInfo:
        return self._file

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        self._t.readers.discard(self)

    async def disk_span(self, offset: int, max_bytes: int) -> tuple[int, int] | None:
        return None  # held in memory: no file to send from

    async def read(self, offset: int, max_bytes: int) -> bytes:
        if self._closed:
            raise ReaderClosed("reader is closed")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if offset < 0 or offset >= self._file.size:
            raise ReadOutOfRange("read beyond the end of the file")
        plen = self._t.info.piece_length
        absolute = self._file.offset + offset
        piece_end = (absolute // plen + 1) * plen
        n = min(max_bytes, piece_end - absolute, self._file.size - offset)
        await asyncio.sleep(0)
        blob = self._t.blob
        data = blob[absolute : absolute + n] if blob is not None else bytes(n)
        if self._reads == 0 and self._observer is not None:
            self._observer.on_first_byte(time.monotonic() - self._opened)
        self._reads += 1
        self.position = offset + n
        self._t.last_watched = time.time()
        return data


class MemoryEngine:
    """`Engine` held in memory. `seed()` registers content; adds then behave as if complete."""

    def __init__(self, config: EngineConfig | None = None, observer: EngineObserver | None = None) -> None:
        self.config = config or EngineConfig(download_dir=Path("/nonexistent"), state_dir=Path("/nonexistent"))
        self._observer = observer
        self._content: dict[str, bytes] = {}
        self._torrents: dict[str, _MemTorrent] = {}
        self._content_torrents: dict[str, bytes] = {}
        self._metadata_listeners: list[MetadataListener] = []

    def seed(self, name: str, files: list[tuple[str, bytes]], piece_length: int = 16384) -> bytes:
        """Build a torrent from `files`, remember its bytes, return the .torrent data."""
        data = build_torrent(name, files, piece_length)
        ti = lt.torrent_info(data)
        self._content[key_of(ti.info_hashes())] = b"".join(d for _, d in files)
        self._content_torrents[key_of(ti.info_hashes())] = data
        return data

    async def start(self) -> None:
        return None

    def on_metadata(self, listener: MetadataListener) -> None:
        """Kept for the protocol: a magnet here never gets its metadata later (seeded content is known)."""
        self._metadata_listeners.append(listener)

    async def close(self) -> None:
        for t in self._torrents.values():
            for r in list(t.readers):
                await r.aclose()

    async def add_magnet(self, uri: str, metainfo: bytes | None = None) -> TorrentInfo:
        cfg = self.config
        m = parse_magnet(
            uri,
            allow_private=cfg.allow_private_networks,
            max_length=cfg.max_magnet_length,
        )
        if m.key in self._torrents:
            return self._torrents[m.key].info
        data = self._content_torrents.get(m.key)
        if metainfo is not None and key_of(parse_torrent_file(metainfo, self.config).info_hashes()) == m.key:
            data = metainfo
        if data is not None:
            return await self.add_torrent_file(data)
        t = _MemTorrent(torrent_info_of(m.key, None, m.name or ""), None, asyncio.Event())
        self._torrents[m.key] = t
        return t.info

    async def add_torrent_file(self, data: bytes) -> TorrentInfo:
        ti = parse_torrent_file(data, self.config)
        key = key_of(ti.info_hashes())
        existing = self._torrents.get(key)
        if existing is not None and existing.info.has_metadata:
            return existing.info
        ev = asyncio.Event()
        ev.set()
        t = _MemTorrent(torrent_info_of(key, ti, ""), self._content.get(key), ev, data)
        self._torrents[key] = t
        return t.info

    def metainfo(self, info_hash: str) -> bytes | None:
        return self._get(info_hash).raw

    async def wait_metadata(self, info_hash: str, timeout: float) -> TorrentInfo:
        t = self._get(info_hash)
        try:
            await asyncio.wait_for(t.metadata.wait(), timeout)
        except TimeoutError as exc:
            raise MetadataTimeout("metadata did not arrive in time") from exc
        return t.info

    def _get(self, info_hash: str) -> _MemTorrent:
        t = self._torrents.get(info_hash.lower())
        if t is None:
            raise TorrentNotFound("unknown torrent")
        return t

    def status(self, info_hash: str) -> TorrentStatus:
        t = self._get(info_hash)
        i = t.info
        done = i.total_size if i.has_metadata else 0
        readers = [ReaderStatus(r.file_info.index, r.position, r.size - r.position, 0.0, r.owner) for r in t.readers]
        return TorrentStatus(
            i.info_hash,
            i.name,
            "seeding" if i.has_metadata else "metadata",
            1.0 if i.has_metadata else 0.0,
            i.total_size,
            done,
            0,
            0,
            0,
            0,
            i.has_metadata,
            None,
            list(i.files),
            readers,
            i.info_hashes or (i.info_hash,),
        )

    def list_status(self) -> list[TorrentStatus]:
        return [self.status(k) for k in self._torrents]

    async def open_reader(self, info_hash: str, file_index: int, owner: str | None = None) -> MemoryFileReader:
        t = self._get(info_hash)
        if not t.info.has_metadata:
            await self.wait_metadata(info_hash, self.config.metadata_timeout)
        for f in t.info.files:
            if f.index == file_index:
                r = MemoryFileReader(t, f, self._observer)
                r.owner = owner
                t.readers.add(r)
                t.last_watched = time.time()
                return r
        raise FileIndexError("no such file in the torrent")

    async def remove(self, info_hash: str, delete_files: bool = True) -> None:
        t = self._get(info_hash)
        for r in list(t.readers):
            await r.aclose()
        del self._torrents[t.info.info_hash]

    def touch(self, info_hash: str) -> None:
        self._get(info_hash).last_watched = time.time()

    async def evict_to_limit(self) -> list[str]:
        used = sum(t.info.total_size for t in self._torrents.values())
        evicted: list[str] = []
        for t in sorted(self._torrents.values(), key=lambda t: t.last_watched):
            if used <= self.config.cache_limit_bytes:
                break
            if t.readers:
                continue
            used -= t.info.total_size
            await self.remove(t.info.info_hash)
            evicted.append(t.info.info_hash)
        return evicted

    def stats(self) -> EngineStats:
        return EngineStats(
            active_torrents=len(self._torrents),
            readers=sum(len(t.readers) for t in self._torrents.values()),
            download_rate=0,
            upload_rate=0,
            cache_bytes_used=sum(t.info.total_size for t in self._torrents.values()),
        )
