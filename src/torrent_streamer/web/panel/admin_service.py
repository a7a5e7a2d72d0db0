"""What an admin does to accounts from the panel: change a role (after re-authentication), disable, revoke.

Each action is audited; disabling or revoking ends the target's API families and panel sessions.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import mfa
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.permissions import Role
from torrent_streamer.core.audit import record_event
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


def _audit(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, action: str,
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
    *, role: Role, password: str, code: str,
) -> User:  # fmt: skip
    """Re-authenticate the admin (password + TOTP, SR-2.9), then change the role; the target signs in again."""
    await mfa.reauthenticate(ctx, session, meta, actor.user, password=password, code=code)
    user = await _target(session, actor, user_id)
    previous = user.role
    if previous == role.value:
        return user
    user.role = role.value
    user.updated_at = ctx.now()
    await _end_sessions(ctx, session, user, "role_change")
    _audit(ctx, session, meta, actor, "admin_role_change", user, previous=previous, role=role.value)
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
    _audit(ctx, session, meta, actor, "admin_user_disable" if disabled else "admin_user_enable", user)
    return user


async def revoke_sessions(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, actor: PanelIdentity, user_id: uuid.UUID
) -> int:
    user = await _target(session, actor, user_id)
    count = await _end_sessions(ctx, session, user, "admin_revoke")
    _audit(ctx, session, meta, actor, "admin_sessions_revoke", user, sessions=count)
    return count
