"""Every ORM model, imported once so Alembic sees the whole schema (``Base.metadata``)."""

from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.db import Base
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory

__all__ = ["AuditEvent", "Base", "BlockedInfoHash", "LibraryEntry", "Torrent", "WatchHistory"]
