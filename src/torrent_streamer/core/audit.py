"""The audit log: security and moderation events (actor, target, action, IP, user agent, time).

Domains call ``record_event`` inside their transaction; details must never hold secrets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from torrent_streamer.core.db import Base, PublicIdMixin
from torrent_streamer.core.logging import redaction_processor


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
    action: str,
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
        action=action,
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
