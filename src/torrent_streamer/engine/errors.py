"""Exceptions raised by the torrent engine, one tree the HTTP layer maps to statuses.

Every message is safe to show to a user: it never contains a filesystem path.

    EngineError
     +-- InvalidMagnet            (400) malformed or disallowed magnet URI
     +-- InvalidTorrent(reason)   (400) hostile or malformed .torrent / metadata
     +-- BlockedAddress           (400) tracker, web seed or peer on a forbidden network
     +-- TorrentNotFound          (404) unknown info-hash
     +-- FileIndexError           (404) no such file in the torrent
     +-- ReadOutOfRange           (416) read at or beyond the end of a file
     +-- MetadataTimeout          (504) metadata did not arrive in time
     +-- ReadTimeout              (504) a piece did not arrive in time
     +-- StorageError             (507) disk full, permission denied, I/O error
     +-- ReaderClosed             (409) read on a closed reader or removed torrent
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every engine error; `str(err)` is safe to show to users."""


class InvalidMagnet(EngineError):
    """The magnet URI is malformed, too long or carries a disallowed field."""


class InvalidTorrent(EngineError):
    """The torrent (file or fetched metadata) is malformed or hostile."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid torrent: {reason}")
        self.reason = reason


class BlockedAddress(EngineError):
    """A tracker, web seed or peer points at a private/loopback/link-local address."""


class TorrentNotFound(EngineError):
    """No torrent with this info-hash is known to the engine."""


class FileIndexError(EngineError):
    """The file index does not exist in the torrent (or metadata is missing)."""


class ReadOutOfRange(EngineError):
    """A read started at or beyond the end of the file."""


class MetadataTimeout(EngineError):
    """The torrent's metadata was not received within the timeout."""


class ReadTimeout(EngineError):
    """A piece needed by a reader did not arrive within the read timeout."""


class StorageError(EngineError):
    """The download directory failed (disk full, permissions, I/O error)."""


class ReaderClosed(EngineError):
    """The reader was closed, or its torrent was removed."""


__all__ = [
    "BlockedAddress",
    "EngineError",
    "FileIndexError",
    "InvalidMagnet",
    "InvalidTorrent",
    "MetadataTimeout",
    "ReadOutOfRange",
    "ReadTimeout",
    "ReaderClosed",
    "StorageError",
    "TorrentNotFound",
]


def user_error(kind: str, message: str | None) -> str:
    """A short, path-free description of a storage or torrent error, safe to show to users."""
    text = (message or "").lower()
    if "no space" in text or "disk full" in text or "quota" in text:
        return "storage error: not enough disk space for this download"
    if "permission" in text or "read-only" in text:
        return "storage error: the download directory is not writable"
    return "storage error" if kind == "storage_error" else "torrent error"
