"""Catalog tables: entries (with their moderation status), user reports and Torznab indexers.

Search structures (PostgreSQL tsvector/trigram indexes, SQLite FTS5 tables) live in migration 0003.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    column,
    desc,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin


class Category(StrEnum):
    movies = "movies"
    tv = "tv"
    music = "music"
    books = "books"
    software = "software"
    other = "other"


class EntryStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    removed = "removed"


class ReportReason(StrEnum):
    illegal = "illegal"
    malware = "malware"
    spam = "spam"
    wrong_category = "wrong_category"
    broken = "broken"
    other = "other"


def _enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, native_enum=False, length=16, validate_strings=True, create_constraint=True)


class CatalogEntry(PublicIdMixin, Base):
    __tablename__ = "catalog_entries"
    __table_args__ = (
        Index("ix_catalog_entries_status_seeders", "status", "seeders"),
        Index("ix_catalog_entries_status_created_at", "status", "created_at"),
        Index("ix_catalog_entries_work_status_health", "work_id", "status", "health"),
        Index("ix_catalog_entries_status_health_checked_at", "status", "health_checked_at"),
        Index("ix_catalog_entries_season_episode", "season", "episode"),
        Index("ix_catalog_entries_parse_version", "parse_version"),
    )

    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    info_hash_v1: Mapped[str | None] = mapped_column(String(40), unique=True)
    info_hash_v2: Mapped[str | None] = mapped_column(String(64), unique=True)
    magnet: Mapped[str] = mapped_column(String(4096))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[Category] = mapped_column(_enum(Category, "catalog_category"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    uploader_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    status: Mapped[EntryStatus] = mapped_column(_enum(EntryStatus, "catalog_status"))
    seeders: Mapped[int] = mapped_column(Integer, default=0)
    leechers: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Parsed from the title (catalog/parsing.py); parse_version 0 = not parsed yet (backfill pending).
    work_id: Mapped[uuid.UUID | None] = mapped_column()  # no FK: works are never deleted, and SQLite
    # would rebuild this table (and drop its FTS triggers) to add one
    parsed_title: Mapped[str | None] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(SmallInteger, index=True)
    season: Mapped[int | None] = mapped_column(SmallInteger)
    season_end: Mapped[int | None] = mapped_column(SmallInteger)
    episode: Mapped[int | None] = mapped_column(SmallInteger)
    episode_end: Mapped[int | None] = mapped_column(SmallInteger)
    resolution: Mapped[str | None] = mapped_column(String(8), index=True)
    source: Mapped[str | None] = mapped_column(String(16))
    video_codec: Mapped[str | None] = mapped_column(String(16), index=True)
    hdr: Mapped[str | None] = mapped_column(String(16))
    audio_codec: Mapped[str | None] = mapped_column(String(16))
    audio_channels: Mapped[str | None] = mapped_column(String(8))
    languages: Mapped[str | None] = mapped_column(String(64))  # comma-separated ISO 639 codes
    release_group: Mapped[str | None] = mapped_column(String(64))
    parse_version: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    health: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0 (dead) … 1000
    health_checked_at: Mapped[datetime | None] = mapped_column()

    @property
    def info_hash(self) -> str:
        return self.info_hash_v1 or self.info_hash_v2 or ""


class CatalogWork(PublicIdMixin, Base):
    """A movie (title + year) or a show's season/episode (title + season + episode) and its releases.

    ``release_count``, ``health`` (the best approved release's) and ``best_entry_id`` are kept by
    ``work_repository.refresh_works`` whenever a release's status or swarm numbers change.
    Title search structures (tsvector/trigram, FTS5) live in migration 0010.
    """

    __tablename__ = "catalog_works"
    __table_args__ = (
        Index("ix_catalog_works_release_count_health", "release_count", "health"),
        # a broad work search walks this in page order (migration 0013)
        Index(
            "ix_catalog_works_live_health",
            desc(column("health")),
            "id",
            postgresql_where=text("release_count > 0"),
            sqlite_where=text("release_count > 0"),
        ),
        Index("ix_catalog_works_year", "year"),
    )

    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # movie | show
    title: Mapped[str] = mapped_column(String(300))
    title_key: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    season: Mapped[int | None] = mapped_column(SmallInteger)
    episode: Mapped[int | None] = mapped_column(SmallInteger)
    release_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    health: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    best_entry_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CatalogReport(PublicIdMixin, Base):
    __tablename__ = "catalog_reports"
    __table_args__ = (UniqueConstraint("entry_id", "reporter_id"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason, "catalog_report_reason"))
    comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)


class Indexer(PublicIdMixin, Base):
    """A Torznab endpoint; the API key is stored encrypted (context ``indexer:<id>``)."""

    __tablename__ = "indexers"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    timeout_seconds: Mapped[float] = mapped_column(default=5.0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
