"""Every ORM model, imported once so Alembic sees the whole schema (``Base.metadata``)."""

from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.core.db import Base
from torrent_streamer.web.panel.models import PanelSession

__all__ = ["AuditEvent", "Base", "PanelSession"]
