"""The audit log: security and moderation events (actor, target, action, IP, user agent, time).

Domains call ``record_event`` inside their transaction with an ``AuditAction`` (the one list of event
names, shared with the panel dashboard); details must never hold secrets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin
from torrent_streamer.core.logging import redaction_processor


class AuditAction(StrEnum):
    """Every event name the service records; the stored ``action`` column holds these values."""

    # accounts (auth/, users/)
    REGISTER = "register"
    REGISTER_DUPLICATE = "register_duplicate"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGIN_SLOWED = "login_slowed"
    LOGIN_MFA_CHALLENGE = "login_mfa_challenge"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_REVOKE = "session_revoke"
    SESSIONS_REVOKE_ALL = "sessions_revoke_all"
    PASSWORD_CHANGE = "password_change"  # noqa: S105  # nosec B105  # an event name, not a password
    EMAIL_CHANGE = "email_change"
    EMAIL_CHANGE_REFUSED = "email_change_refused"
    REFRESH_TOKEN_REUSE = "refresh_token_reuse"  # noqa: S105  # nosec B105  # an event name, not a token
    REFRESH_TOKEN_REPLAY = "refresh_token_replay"  # noqa: S105  # nosec B105  # an event name, not a token
    MFA_SETUP = "mfa_setup"
    MFA_ENABLED = "mfa_enabled"
    MFA_ENABLE_FAILED = "mfa_enable_failed"
    MFA_DISABLED = "mfa_disabled"
    MFA_FAILED = "mfa_failed"
    MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used"
    REAUTH_FAILED = "reauth_failed"
    ACCOUNT_EXPORT = "account_export"
    ACCOUNT_DELETED = "account_deleted"
    PRUNE = "prune"
    ADMIN_CREATED = "admin_created"
    SIGNING_KEY_ROTATE = "signing_key_rotate"
    SIGNING_KEY_RETIRE = "signing_key_retire"
    # administration through the API (admin/)
    ROLE_CHANGE = "role_change"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    ADMIN_SESSIONS_REVOKE = "admin_sessions_revoke"
    # the panel (web/panel/)
    PANEL_LOGIN = "panel_login"
    PANEL_LOGOUT = "panel_logout"
    PANEL_REAUTH = "panel_reauth"
    PANEL_CSRF_REFUSED = "panel_csrf_refused"
    PANEL_ORIGIN_REFUSED = "panel_origin_refused"
    ADMIN_ROLE_CHANGE = "admin_role_change"
    ADMIN_USER_DISABLE = "admin_user_disable"
    ADMIN_USER_ENABLE = "admin_user_enable"
    # torrents and takedowns (torrents/)
    TORRENT_ADD = "torrent.add"
    TORRENT_REMOVE = "torrent.remove"
    TORRENT_BLOCK = "torrent.block"
    TORRENT_UNBLOCK = "torrent.unblock"
    TORRENT_EVICT = "torrent.evict"
    # catalog and indexers (catalog/)
    CATALOG_SUBMIT = "catalog.submit"
    CATALOG_REPORT = "catalog.report"
    CATALOG_APPROVE = "catalog.approve"
    CATALOG_REJECT = "catalog.reject"
    CATALOG_REMOVE = "catalog.remove"
    INDEXER_ADD = "indexer.add"
    INDEXER_DELETE = "indexer.delete"
    INDEXER_TEST = "indexer.test"


class AuditEvent(PublicIdMixin, Base):
    __tablename__ = "audit_events"

    created_at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def record_event(
    session: AsyncSession,
    *,
    now: datetime,
    action: AuditAction,
    actor_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "success",
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session (committed with the caller's transaction)."""
    safe_details = dict(redaction_processor(None, "", dict(details or {})))
    event = AuditEvent(
        created_at=now,
        action=action.value,
        outcome=outcome,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        ip=ip[:64] if ip else None,
        user_agent=user_agent[:256] if user_agent else None,
        details=safe_details,
    )
    session.add(event)
    return event


async def delete_events_before(session: AsyncSession, cutoff: datetime) -> int:
    """Retention: delete audit rows older than ``cutoff`` (PostgreSQL lets the app role delete only
    rows older than 30 days: migration 0007); returns how many went."""
    result = await session.execute(
        delete(AuditEvent).where(AuditEvent.created_at < cutoff).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
