"""The BitTorrent engine of torrent-streamer: a leaf library (stdlib + libtorrent only).

Add torrents, stream verified bytes through readers with deadline windows, evict, resume.
"""

from .config import EngineConfig
from .errors import (
    BlockedAddress,
    EngineError,
    FileIndexError,
    InvalidMagnet,
    InvalidTorrent,
    MetadataTimeout,
    ReaderClosed,
    ReadOutOfRange,
    ReadTimeout,
    StorageError,
    TorrentNotFound,
)
from .libtorrent_engine import LibtorrentEngine
from .magnet import Magnet, parse_magnet
from .memory import MemoryEngine
from .types import (
    Engine,
    EngineObserver,
    EngineStats,
    FileInfo,
    FileReader,
    MetadataListener,
    ReaderStatus,
    TorrentInfo,
    TorrentStatus,
)

__all__ = [
    "BlockedAddress",
    "Engine",
    "EngineConfig",
    "EngineError",
    "EngineObserver",
    "EngineStats",
    "FileIndexError",
    "FileInfo",
    "FileReader",
    "InvalidMagnet",
    "InvalidTorrent",
    "LibtorrentEngine",
    "Magnet",
    "MemoryEngine",
    "MetadataListener",
    "MetadataTimeout",
    "ReadOutOfRange",
    "ReadTimeout",
    "ReaderClosed",
    "ReaderStatus",
    "StorageError",
    "TorrentInfo",
    "TorrentNotFound",
    "TorrentStatus",
    "parse_magnet",
]


def _conforms(a: LibtorrentEngine, b: MemoryEngine) -> tuple[Engine, Engine]:
    """Static check (mypy): both engines implement the `Engine` protocol."""
    return a, b
