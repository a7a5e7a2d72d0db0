"""The stored source of each torrent: how any node re-adds it without fetching metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base

INFO_HASH_LENGTH = 64


class TorrentSource(Base):
    """One row per torrent: the canonical magnet (trackers, peers) and the .torrent once known.

    Goes with its torrent (ON DELETE CASCADE on the info-hash).
    """

    __tablename__ = "torrent_sources"

    info_hash: Mapped[str] = mapped_column(
        String(INFO_HASH_LENGTH), ForeignKey("torrents.info_hash", ondelete="CASCADE"), primary_key=True
    )
    magnet: Mapped[str | None] = mapped_column(Text)
    metainfo: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]
