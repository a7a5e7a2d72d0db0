"""Every ORM model, imported once so Alembic sees the whole schema (``Base.metadata``)."""

from torrent_streamer.catalog.models import CatalogEntry, CatalogReport, Indexer
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.db import Base

__all__ = ["AuditEvent", "Base", "CatalogEntry", "CatalogReport", "Indexer"]
