"""Domain errors of torrents and streaming, and the ONE table mapping engine errors to HTTP.

EngineError (engine/errors.py)      → AppError (core/errors.py)
├── InvalidMagnet                   → 422 invalid-magnet
├── InvalidTorrent                  → 422 invalid-torrent
├── BlockedAddress                  → 422 blocked-address
├── TorrentNotFound                 → 404 not-found
├── FileIndexError                  → 404 file-not-found
├── ReadOutOfRange                  → 416 range-not-satisfiable
├── MetadataTimeout                 → 503 metadata-timeout (Retry-After)
├── ReadTimeout                     → 503 read-timeout (Retry-After)
├── StorageError                    → 503 storage-error
├── ReaderClosed                    → 409 reader-closed
└── any other EngineError           → 503 engine-error
"""

from __future__ import annotations

from torrent_streamer.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    RangeNotSatisfiable,
    ServiceUnavailable,
    Unprocessable,
)
from torrent_streamer.engine import errors as engine_errors


class TorrentBlocked(AppError):
    """The info-hash is on the takedown list (RFC 7725: unavailable for legal reasons)."""

    status, slug, title = 451, "torrent-blocked", "Unavailable for legal reasons"


class TorrentLimitReached(Conflict):
    slug, title = "torrent-limit", "Active torrent limit reached"


class TorrentNotInLibrary(NotFound):
    slug, title = "torrent-not-found", "Torrent not found"


class StreamForbidden(Forbidden):
    slug, title = "stream-forbidden", "Stream not allowed"


class FileNotPlayable(Unprocessable):
    slug, title = "file-not-playable", "This file cannot be played"


class SubtitleUnavailable(Unprocessable):
    slug, title = "subtitle-invalid", "Not a usable subtitle file"


# (engine error class, domain error class, slug); first match wins (subclasses first).
_ENGINE_TABLE: tuple[tuple[type[engine_errors.EngineError], type[AppError], str], ...] = (
    (engine_errors.InvalidMagnet, Unprocessable, "invalid-magnet"),
    (engine_errors.InvalidTorrent, Unprocessable, "invalid-torrent"),
    (engine_errors.BlockedAddress, Unprocessable, "blocked-address"),
    (engine_errors.TorrentNotFound, NotFound, "torrent-not-found"),
    (engine_errors.FileIndexError, NotFound, "file-not-found"),
    (engine_errors.ReadOutOfRange, RangeNotSatisfiable, "range-not-satisfiable"),
    (engine_errors.MetadataTimeout, ServiceUnavailable, "metadata-timeout"),
    (engine_errors.ReadTimeout, ServiceUnavailable, "read-timeout"),
    (engine_errors.StorageError, ServiceUnavailable, "storage-error"),
    (engine_errors.ReaderClosed, Conflict, "reader-closed"),
)
RETRY_AFTER_SECONDS = "5"

# What a person reads for each slug; "{reason}" is the engine's short, path-free reason.
_PHRASES = {
    "invalid-magnet": "This magnet link can't be used ({reason}). Copy the whole link again and paste it here.",
    "invalid-torrent": "This .torrent file can't be used ({reason}).",
    "blocked-address": "This link points at a private network address, which this server does not contact.",
    "torrent-not-found": "This torrent is not on the server any more. Add it again.",
    "file-not-found": "This torrent has no such file.",
    "metadata-timeout": "No peer has sent this torrent's details yet. Try again in a minute.",
    "read-timeout": "The video data did not arrive in time. Try again shortly.",
    "storage-error": "The server could not store this torrent's data. Try again later.",
}
_REFUSED = "libtorrent refused the torrent"


def http_error(exc: engine_errors.EngineError) -> AppError:
    """The problem for an engine error, phrased for a person; the slug (``type``) stays for machines."""
    for engine_class, app_class, slug in _ENGINE_TABLE:
        if isinstance(exc, engine_class):
            headers = {"Retry-After": RETRY_AFTER_SECONDS} if app_class is ServiceUnavailable else None
            reason = str(exc)[:200]
            if reason == _REFUSED:
                reason = "its contents are not valid"
            detail = _PHRASES.get(slug, "{reason}").format(reason=reason)
            return app_class(detail, slug=slug, headers=headers)
    return ServiceUnavailable("The torrent engine failed. Try again shortly.", slug="engine-error")
