"""Every ORM model, imported once so Alembic sees the whole schema (``Base.metadata``)."""

from torrent_streamer.auth.models import (
    AuthSession,
    LoginThrottle,
    RecoveryCode,
    RefreshToken,
    SigningKey,
    UsedTokenId,
)
from torrent_streamer.catalog.models import CatalogEntry, CatalogReport, Indexer
from torrent_streamer.cluster.models import TorrentSource
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.db import Base
from torrent_streamer.torrents.models import BlockedInfoHash, LibraryEntry, Torrent, WatchHistory
from torrent_streamer.users.models import User
from torrent_streamer.web.panel.models import PanelSession

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Base",
    "BlockedInfoHash",
    "CatalogEntry",
    "CatalogReport",
    "Indexer",
    "LibraryEntry",
    "LoginThrottle",
    "PanelSession",
    "RecoveryCode",
    "RefreshToken",
    "SigningKey",
    "Torrent",
    "TorrentSource",
    "UsedTokenId",
    "User",
    "WatchHistory",
]
