"""Panel sign-in and sessions on top of the accounts service: password, then TOTP or enrolment.

A panel session is bound to an accounts refresh family; revoking the family signs the panel out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import mfa
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth import service as auth_service
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.permissions import MFA_REQUIRED_ROLES, Role
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import Forbidden
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User
from torrent_streamer.web.panel import repository
from torrent_streamer.web.panel.models import PanelSession
from torrent_streamer.web.panel.security import ABSOLUTE_TIMEOUT, is_expired, new_token, token_hash


class NotAPanelAccount(Forbidden):
    slug = "panel-not-allowed"
    title = "This account cannot use the admin panel"


@dataclass(frozen=True)
class PanelLogin:
    """The outcome of the password step: a TOTP challenge, or a new session (token for the cookie)."""

    mfa_token: str | None = None
    cookie_token: str | None = None
    enrolling: bool = False


@dataclass(frozen=True)
class PanelIdentity:
    panel_session: PanelSession
    user: User
    role: Role
    mfa_enabled: bool


async def _open_session(
    session: AsyncSession, meta: RequestMeta, user: User, pair: auth_service.TokenPair, now: datetime,
    *, both_factors: bool = False,
) -> str:  # fmt: skip
    cookie_token = new_token()
    session.add(
        PanelSession(
            token_hash=token_hash(cookie_token),
            user_id=user.id,
            auth_session_id=pair.session_id,
            enrolling=not user.mfa_enabled,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            reauthenticated_at=now if both_factors else None,  # password + TOTP just now: a fresh step-up
            ip=meta.ip,
            user_agent=meta.user_agent,
        )
    )
    record_event(
        session, now=now, action=AuditAction.PANEL_LOGIN, actor_id=user.id, target_type="session",
        target_id=str(pair.session_id), ip=meta.ip, user_agent=meta.user_agent,
        details={"enrolling": not user.mfa_enabled},
    )  # fmt: skip
    await repository.delete_expired(session, now)
    return cookie_token


async def _refuse_unless_privileged(session: AsyncSession, pair: auth_service.TokenPair) -> User:
    """Plain users cannot use the panel; the caller rolls back, so no session family survives."""
    user = await users_repository.get_by_id(session, await _user_of(session, pair))
    if user is None or Role(user.role) not in MFA_REQUIRED_ROLES:
        raise NotAPanelAccount("Only administrators and moderators can sign in here.")
    return user


async def _user_of(session: AsyncSession, pair: auth_service.TokenPair) -> uuid.UUID:
    family = await auth_repository.get_session(session, pair.session_id)
    if family is None:  # pragma: no cover - the family was created in this transaction
        raise NotAPanelAccount()
    return family.user_id


async def sign_in_password(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, email: str, password: str
) -> PanelLogin:
    """The password step (accounts throttling, lockout and audit apply)."""
    result = await auth_service.login(ctx, session, meta, email=email, password=password)
    if isinstance(result, auth_service.MfaChallenge):
        return PanelLogin(mfa_token=result.mfa_token)
    user = await _refuse_unless_privileged(session, result)
    return PanelLogin(cookie_token=await _open_session(session, meta, user, result, ctx.now()), enrolling=True)


async def sign_in_code(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, mfa_token: str, code: str) -> str:
    """The TOTP (or recovery code) step; returns the new session's cookie token."""
    pair = await mfa.complete_login(ctx, session, meta, mfa_token=mfa_token, code=code)
    user = await _refuse_unless_privileged(session, pair)
    return await _open_session(session, meta, user, pair, ctx.now(), both_factors=True)


async def resolve(session: AsyncSession, cookie_token: str, now: datetime) -> PanelIdentity | None:
    """The live session behind a cookie, or None (unknown, idle, past its absolute limit, revoked)."""
    panel_session = await repository.get_by_token_hash(session, token_hash(cookie_token))
    if panel_session is None:
        return None
    if is_expired(now, panel_session.last_seen_at, panel_session.expires_at):
        await repository.delete_session(session, panel_session.id)
        return None
    row = await auth_repository.principal_row(session, panel_session.user_id, panel_session.auth_session_id, now)
    user = await users_repository.get_by_id(session, panel_session.user_id) if row is not None else None
    if row is None or user is None or Role(row[0]) not in MFA_REQUIRED_ROLES:
        await repository.delete_session(session, panel_session.id)
        return None
    await repository.touch(session, panel_session.id, now)
    return PanelIdentity(panel_session=panel_session, user=user, role=Role(row[0]), mfa_enabled=bool(row[1]))


async def finish_enrolment(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, identity: PanelIdentity, *, code: str
) -> tuple[str, list[str]]:
    """Enable TOTP with a first code; the session gets a new cookie token (no fixation across privilege)."""
    codes = await mfa.enable_totp(ctx, session, meta, identity.user, code=code)
    panel_session = identity.panel_session
    cookie_token = new_token()
    panel_session.token_hash = token_hash(cookie_token)
    panel_session.enrolling = False
    return cookie_token, codes


async def step_up(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, identity: PanelIdentity, *, password: str, code: str
) -> None:
    """Password + TOTP again (throttled and audited by ``mfa.reauthenticate``); opens the step-up window."""
    await mfa.reauthenticate(ctx, session, meta, identity.user, password=password, code=code)
    await repository.mark_reauthenticated(session, identity.panel_session.id, ctx.now())
    record_event(
        session, now=ctx.now(), action=AuditAction.PANEL_REAUTH, actor_id=identity.user.id, target_type="session",
        target_id=str(identity.panel_session.auth_session_id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip


async def sign_out(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, identity: PanelIdentity) -> None:
    panel_session = identity.panel_session
    await auth_service.revoke_own_session(
        ctx, session, meta, user_id=panel_session.user_id, session_id=panel_session.auth_session_id
    )
    await repository.delete_session(session, panel_session.id)
    record_event(
        session, now=ctx.now(), action=AuditAction.PANEL_LOGOUT, actor_id=panel_session.user_id, target_type="session",
        target_id=str(panel_session.auth_session_id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
