"""Admin actions on users (role, disable, sessions) and keyset cursors; every action is audited."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.admin.schemas import AdminUserPublic, AdminUserUpdate
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import BadRequest, Conflict, NotFound
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid.", slug="invalid-cursor") from None


def admin_view(user: User) -> AdminUserPublic:
    return AdminUserPublic(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        disabled=user.disabled,
        mfa_enabled=user.mfa_enabled,
        created_at=user.created_at,
    )


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await users_repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def update_user(
    ctx: AuthContext,
    session: AsyncSession,
    meta: RequestMeta,
    *,
    actor: User,
    target_id: uuid.UUID,
    change: AdminUserUpdate,
) -> User:
    """Change role and/or disabled state (the actor has re-authenticated)."""
    target = await get_user(session, target_id)
    now = ctx.now()
    if target.id == actor.id and (change.disabled or (change.role is not None and change.role.value != actor.role)):
        raise Conflict("Administrators cannot demote or disable themselves.", slug="self-modification")
    if change.role is not None and change.role.value != target.role:
        record_event(
            session, now=now, action=AuditAction.ROLE_CHANGE, actor_id=actor.id, target_type="user",
            target_id=str(target.id), ip=meta.ip, user_agent=meta.user_agent,
            details={"from": target.role, "to": change.role.value},
        )  # fmt: skip
        target.role = change.role.value
    if change.disabled is not None and change.disabled != target.disabled:
        target.disabled = change.disabled
        revoked = 0
        if change.disabled:
            revoked = await auth_repository.revoke_sessions(session, now=now, reason="user_disabled", user_id=target.id)
        record_event(
            session, now=now, action=AuditAction.USER_DISABLED if change.disabled else AuditAction.USER_ENABLED,
            actor_id=actor.id,
            target_type="user", target_id=str(target.id), ip=meta.ip, user_agent=meta.user_agent,
            details={"revoked": revoked},
        )  # fmt: skip
    target.updated_at = now
    return target


async def revoke_user_sessions(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, actor_id: uuid.UUID, target_id: uuid.UUID
) -> int:
    target = await get_user(session, target_id)
    now = ctx.now()
    count = await auth_repository.revoke_sessions(session, now=now, reason="admin_revoke", user_id=target.id)
    record_event(
        session, now=now, action=AuditAction.ADMIN_SESSIONS_REVOKE, actor_id=actor_id, target_type="user",
        target_id=str(target.id), ip=meta.ip, user_agent=meta.user_agent, details={"revoked": count},
    )  # fmt: skip
    return count
