"""All SQL of the panel: panel sessions, plus the read-only queries behind the dashboard and audit pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.core.audit import AuditAction, AuditEvent
from torrent_streamer.users.models import User
from torrent_streamer.web.panel.models import PanelSession

# The events the dashboard lists: members of the one enum the recording code uses too.
SECURITY_ACTIONS: frozenset[AuditAction] = frozenset(
    {
        AuditAction.LOGIN_FAILED,
        AuditAction.LOGIN_LOCKED,
        AuditAction.MFA_FAILED,
        AuditAction.REAUTH_FAILED,
        AuditAction.REFRESH_TOKEN_REUSE,
        AuditAction.PANEL_CSRF_REFUSED,
        AuditAction.PANEL_ORIGIN_REFUSED,
        AuditAction.ADMIN_ROLE_CHANGE,
        AuditAction.ADMIN_USER_DISABLE,
        AuditAction.ADMIN_SESSIONS_REVOKE,
        AuditAction.ROLE_CHANGE,
        AuditAction.USER_DISABLED,
        AuditAction.SESSIONS_REVOKE_ALL,
        AuditAction.SIGNING_KEY_ROTATE,
        AuditAction.TORRENT_BLOCK,
    }
)


async def get_by_token_hash(session: AsyncSession, token_hash: str) -> PanelSession | None:
    return await session.scalar(select(PanelSession).where(PanelSession.token_hash == token_hash))


async def delete_session(session: AsyncSession, panel_session_id: uuid.UUID) -> None:
    await session.execute(delete(PanelSession).where(PanelSession.id == panel_session_id))


async def delete_sessions_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(PanelSession).where(PanelSession.user_id == user_id))


async def delete_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(PanelSession).where(PanelSession.expires_at <= now))


async def touch(session: AsyncSession, panel_session_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(PanelSession).where(PanelSession.id == panel_session_id).values(last_seen_at=now))


async def mark_reauthenticated(session: AsyncSession, panel_session_id: uuid.UUID, now: datetime) -> None:
    statement = update(PanelSession).where(PanelSession.id == panel_session_id).values(reauthenticated_at=now)
    await session.execute(statement)


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def search_users(session: AsyncSession, query: str | None, *, limit: int, offset: int) -> Sequence[User]:
    statement = select(User).order_by(User.created_at.desc(), User.id).limit(limit).offset(offset)
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        statement = statement.where(
            func.lower(User.email).like(pattern, escape="\\") | func.lower(User.display_name).like(pattern, escape="\\")
        )
    return (await session.scalars(statement)).all()


async def audit_page(
    session: AsyncSession,
    *,
    action: str | None,
    actor_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> Sequence[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id).limit(limit).offset(offset)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor_id:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if since:
        statement = statement.where(AuditEvent.created_at >= since)
    if until:
        statement = statement.where(AuditEvent.created_at < until)
    return (await session.scalars(statement)).all()


async def recent_security_events(session: AsyncSession, limit: int = 10) -> Sequence[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(AuditEvent.action.in_(sorted(a.value for a in SECURITY_ACTIONS)))
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
    return (await session.scalars(statement)).all()
