"""Catalog tables: entries (with their moderation status), user reports and Torznab indexers.

Search structures (PostgreSQL tsvector/trigram indexes, SQLite FTS5 tables) live in migration 0003.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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

    @property
    def info_hash(self) -> str:
        return self.info_hash_v1 or self.info_hash_v2 or ""


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
