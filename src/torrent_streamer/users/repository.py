"""All SQL about users: look-ups, keyset listing, and the personal-data rows of export/deletion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth.models import RecoveryCode
from torrent_streamer.catalog.models import CatalogEntry, CatalogReport
from torrent_streamer.core.audit import AuditEvent
from torrent_streamer.users.models import User


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(User.id).where(User.email == email))) is not None


async def list_users(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    email_contains: str | None,
    role: str | None,
) -> Sequence[User]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(User)
    if email_contains:
        escaped = email_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(User.email.like(f"%{escaped}%", escape="\\"))
    if role:
        query = query.where(User.role == role)
    if after is not None:
        created, last_id = after
        query = query.where(or_(User.created_at < created, (User.created_at == created) & (User.id < last_id)))
    query = query.order_by(User.created_at.desc(), User.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def audit_events_about(session: AsyncSession, user_id: uuid.UUID, limit: int = 10_000) -> Sequence[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(or_(AuditEvent.actor_id == user_id, AuditEvent.target_id == str(user_id)))
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def anonymise_audit_events(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Keep the security trail (action, time, ids) but drop the personal data in it (IP, user agent)."""
    await session.execute(
        update(AuditEvent)
        .where(or_(AuditEvent.actor_id == user_id, AuditEvent.target_id == str(user_id)))
        .values(ip=None, user_agent=None)
        .execution_options(synchronize_session=False)
    )


# --- personal-data export rows held by lower domains (SR-4.5; library and history: torrents) ---
async def catalog_submissions_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[CatalogEntry]:
    query = select(CatalogEntry).where(CatalogEntry.uploader_id == user_id).order_by(CatalogEntry.created_at.desc())
    return (await session.scalars(query)).all()


async def catalog_reports_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[CatalogReport]:
    query = select(CatalogReport).where(CatalogReport.reporter_id == user_id).order_by(CatalogReport.created_at.desc())
    return (await session.scalars(query)).all()


async def recovery_code_counts(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    """(remaining, used) one-time recovery codes."""
    query = select(RecoveryCode.used_at.is_(None), func.count()).where(RecoveryCode.user_id == user_id)
    rows = (await session.execute(query.group_by(RecoveryCode.used_at.is_(None)))).all()
    counts = {bool(unused): int(n) for unused, n in rows}
    return counts.get(True, 0), counts.get(False, 0)
