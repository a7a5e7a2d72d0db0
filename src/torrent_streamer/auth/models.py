"""Tables of the auth domain: signing keys, sessions (refresh families), refresh tokens,
recovery codes, single-use token ids and the sign-in back-off state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin


class SigningKey(PublicIdMixin, Base):
    """One Ed25519 key of the JWT key ring; the newest non-retired generation signs."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    generation: Mapped[int] = mapped_column(unique=True)  # two instances racing to create a key collide here
    algorithm: Mapped[str] = mapped_column(String(16), default="EdDSA")
    public_key_pem: Mapped[str] = mapped_column(Text)
    private_key_enc: Mapped[str] = mapped_column(Text)  # SecretBox, context signing-key:<kid>
    created_at: Mapped[datetime] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()


class AuthSession(PublicIdMixin, Base):
    """A refresh-token family: one per sign-in; its id is the access token's ``sid``."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime] = mapped_column()
    idle_expires_at: Mapped[datetime] = mapped_column()
    absolute_expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoke_reason: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(PublicIdMixin, Base):
    """One opaque refresh token (stored as SHA-256 only); ``used_at`` set when rotated."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    # SHA-256 of the rotating client (address prefix + User-Agent): only it gets the grace.
    used_by: Mapped[str | None] = mapped_column(String(64))


class RecoveryCode(PublicIdMixin, Base):
    """A one-time MFA recovery code (SHA-256 of an 80-bit random code)."""

    __tablename__ = "mfa_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class UsedTokenId(Base):
    """``jti`` of single-use tokens (``mfa_token``) already spent; the primary key refuses a second use."""

    __tablename__ = "used_token_ids"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Consecutive sign-in failures per key: an (account, client address) pair, which can be locked,
    or an account across all addresses, which only slows down (``auth/throttle.py``). Keys are
    HMACs of the normalised e-mail (known or not)."""

    __tablename__ = "login_throttle"

    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None] = mapped_column()
