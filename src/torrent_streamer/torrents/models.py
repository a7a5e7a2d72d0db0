"""Tables of the torrents domain: shared torrents, users' library entries, history, takedowns.

A torrent row exists once per info-hash; users hold it through library entries (public ids).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin

INFO_HASH_LENGTH = 64  # v1 is 40 hex characters, v2 64


class Torrent(PublicIdMixin, Base):
    __tablename__ = "torrents"

    info_hash: Mapped[str] = mapped_column(String(INFO_HASH_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(512))
    total_size: Mapped[int] = mapped_column(BigInteger, default=0)
    node_id: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]
    last_watched_at: Mapped[datetime | None]


class LibraryEntry(PublicIdMixin, Base):
    """A torrent in one user's library; its id is the "torrent id" of the API."""

    __tablename__ = "library_entries"
    __table_args__ = (UniqueConstraint("user_id", "torrent_id", name="uq_library_entries_user_torrent"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    torrent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("torrents.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime]


class WatchHistory(PublicIdMixin, Base):
    __tablename__ = "watch_history"
    __table_args__ = (UniqueConstraint("entry_id", "file_index", name="uq_watch_history_entry_file"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("library_entries.id", ondelete="CASCADE"))
    file_index: Mapped[int] = mapped_column(Integer)
    position_seconds: Mapped[float] = mapped_column(Float)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(index=True)


class BlockedInfoHash(PublicIdMixin, Base):
    """The takedown list: nobody can add or stream these info-hashes."""

    __tablename__ = "blocked_info_hashes"

    info_hash: Mapped[str] = mapped_column(String(INFO_HASH_LENGTH), unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
