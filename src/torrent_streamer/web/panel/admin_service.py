"""What an admin does from the panel: change a role, disable, revoke, rotate the signing key (routes demand a
fresh re-auth).

Each action is audited; disabling or revoking ends the target's API families and panel sessions.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import keyring
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.permissions import Role
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import Conflict, NotFound
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User
from torrent_streamer.web.panel import repository
from torrent_streamer.web.panel.service import PanelIdentity


async def _target(session: AsyncSession, actor: PanelIdentity, user_id: uuid.UUID) -> User:
    user = await users_repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.id == actor.user.id:
        raise Conflict("Use another administrator account to change your own account.", slug="own-account")
    return user


def _audit(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, action: AuditAction,
           target: User, **details: object) -> None:  # fmt: skip
    record_event(
        session, now=ctx.now(), action=action, actor_id=actor.user.id, target_type="user", target_id=str(target.id),
        ip=meta.ip, user_agent=meta.user_agent, details={"via": "panel", **details},
    )  # fmt: skip


async def _end_sessions(ctx: AuthContext, session: AsyncSession, user: User, reason: str) -> int:
    count = await auth_repository.revoke_sessions(session, now=ctx.now(), reason=reason, user_id=user.id)
    await repository.delete_sessions_of(session, user.id)
    return count


async def change_role(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, user_id: uuid.UUID,
    *, role: Role,
) -> User:  # fmt: skip
    """Change the role (the route demanded password + TOTP within the window, SR-2.9); the target signs in again."""
    user = await _target(session, actor, user_id)
    previous = user.role
    if previous == role.value:
        return user
    user.role = role.value
    user.updated_at = ctx.now()
    await _end_sessions(ctx, session, user, "role_change")
    _audit(ctx, session, meta, actor, AuditAction.ADMIN_ROLE_CHANGE, user, previous=previous, role=role.value)
    return user


async def set_disabled(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, user_id: uuid.UUID,
    *, disabled: bool,
) -> User:  # fmt: skip
    user = await _target(session, actor, user_id)
    user.disabled = disabled
    user.updated_at = ctx.now()
    if disabled:
        await _end_sessions(ctx, session, user, "admin_disable")
    _audit(
        ctx, session, meta, actor, AuditAction.ADMIN_USER_DISABLE if disabled else AuditAction.ADMIN_USER_ENABLE, user
    )
    return user


async def revoke_sessions(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, user_id: uuid.UUID
) -> int:
    user = await _target(session, actor, user_id)
    count = await _end_sessions(ctx, session, user, "admin_revoke")
    _audit(ctx, session, meta, actor, AuditAction.ADMIN_SESSIONS_REVOKE, user, sessions=count)
    return count


async def rotate_signing_key(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity) -> str:
    """A new current JWT signing key (as ``torrent-streamer keys rotate``); the caller commits, then reloads."""
    key = await keyring.rotate(session, ctx.services.secret_box, ctx.now())
    record_event(
        session, now=ctx.now(), action=AuditAction.SIGNING_KEY_ROTATE, actor_id=actor.user.id,
        target_type="signing_key", target_id=key.kid, ip=meta.ip, user_agent=meta.user_agent,
        details={"via": "panel"},
    )  # fmt: skip
    return key.kid
