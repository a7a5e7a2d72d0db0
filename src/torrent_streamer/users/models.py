"""The ``users`` table: identity, role, password hash and second-factor state.

Only ``users.service`` and ``auth`` read the secret columns; response models never expose them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin


class User(PublicIdMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised (see auth.passwords)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="user", index=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(default=False)
    mfa_enabled: Mapped[bool] = mapped_column(default=False)
    totp_secret_enc: Mapped[str | None] = mapped_column(String(512))  # SecretBox, context totp:<id>
    totp_last_step: Mapped[int | None] = mapped_column()  # replay guard: last accepted TOTP step
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column()
    password_changed_at: Mapped[datetime] = mapped_column()
