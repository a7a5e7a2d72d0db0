"""The ``panel_sessions`` table: one row per signed-in panel browser, found by the cookie's hash.

Each row is bound to an accounts refresh family, so revoking that family ends the panel session too.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin


class PanelSession(PublicIdMixin, Base):
    __tablename__ = "panel_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the cookie value
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_session_id: Mapped[uuid.UUID] = mapped_column(index=True)  # the accounts refresh family
    enrolling: Mapped[bool] = mapped_column(default=False)  # signed in with a password, MFA not yet set up
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)  # absolute timeout
    reauthenticated_at: Mapped[datetime | None] = mapped_column(default=None)  # last password + TOTP (step-up)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
