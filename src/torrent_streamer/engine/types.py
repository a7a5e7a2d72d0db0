"""Value types and protocols of the engine interface the HTTP layer codes against.

Plain frozen dataclasses (no pydantic): the app converts them to its own schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

STATES = ("metadata", "checking", "downloading", "seeding", "paused", "error")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file of a torrent; `name` is a sanitised display path with `/` separators."""

    index: int
    name: str
    size: int
    mime: str
    streamable: bool
    offset: int
    first_piece: int
    last_piece: int


@dataclass(frozen=True, slots=True)
class TorrentInfo:
    """What is known about a torrent right after adding it (files empty until metadata)."""

    info_hash: str
    name: str
    has_metadata: bool
    total_size: int = 0
    piece_length: int = 0
    num_pieces: int = 0
    files: tuple[FileInfo, ...] = ()
    info_hashes: tuple[str, ...] = ()  # every known hash (v1 and v2 of a hybrid), `info_hash` first


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """One open reader: where it is and how much verified data lies ahead of it."""

    file_index: int
    position: int
    buffered_ahead_bytes: int
    seconds_to_start: float
    owner: str | None = None  # who opened it (an opaque id from the caller): status is shown per owner


@dataclass(frozen=True, slots=True)
class TorrentStatus:
    """A cached snapshot of a torrent, refreshed from batched state-update alerts."""

    info_hash: str
    name: str
    state: str
    progress: float
    total_size: int
    downloaded_bytes: int
    peers: int
    seeds: int
    download_rate: int
    upload_rate: int
    has_metadata: bool
    error: str | None
    files: list[FileInfo] = field(default_factory=list)
    readers: list[ReaderStatus] = field(default_factory=list)
    info_hashes: tuple[str, ...] = ()  # every known hash of the torrent (takedowns match any of them)


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Engine-wide figures for metrics."""

    active_torrents: int
    readers: int
    download_rate: int
    upload_rate: int
    cache_bytes_used: int


class EngineObserver(Protocol):
    """Receives timing events; the app maps them to Prometheus histograms."""

    def on_first_byte(self, seconds: float) -> None: ...

    def on_seek(self, seconds: float) -> None: ...

    def on_stall(self, seconds: float) -> None: ...


@runtime_checkable
class FileReader(Protocol):
    """Reads hash-verified bytes of one file; an async context manager."""

    @property
    def size(self) -> int: ...

    @property
    def file_info(self) -> FileInfo: ...

    async def read(self, offset: int, max_bytes: int) -> bytes: ...

    async def disk_span(self, offset: int, max_bytes: int) -> tuple[int, int] | None:
        """``(fd, n)``: the next ``n`` bytes at ``offset`` are in the open file ``fd`` at ``offset``,
        proven verified and written; they count as read. None: use ``read`` (no file, not proven)."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


MetadataListener = Callable[[str, tuple[str, ...]], None]


@runtime_checkable
class Engine(Protocol):
    """The torrent engine: add, inspect, stream, remove. Implemented by two classes."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def add_magnet(self, uri: str, metainfo: bytes | None = None) -> TorrentInfo:
        """Add a magnet; with ``metainfo`` (a .torrent of the same info-hash) no metadata fetch is needed."""
        ...

    def metainfo(self, info_hash: str) -> bytes | None:
        """A .torrent holding the exact info section once metadata is known (stored for other nodes)."""
        ...

    async def add_torrent_file(self, data: bytes) -> TorrentInfo: ...

    async def wait_metadata(self, info_hash: str, timeout: float) -> TorrentInfo: ...

    def status(self, info_hash: str) -> TorrentStatus: ...

    def list_status(self) -> list[TorrentStatus]: ...

    async def open_reader(self, info_hash: str, file_index: int, owner: str | None = None) -> FileReader: ...

    async def remove(self, info_hash: str, delete_files: bool = True) -> None: ...

    def touch(self, info_hash: str) -> None: ...

    async def evict_to_limit(self) -> list[str]: ...

    def stats(self) -> EngineStats: ...

    def on_metadata(self, listener: MetadataListener) -> None:
        """Call ``listener(info_hash, every_hash)`` when a magnet's metadata arrives (on the event loop)."""
        ...
