"""Sign-in, registration, token rotation, sessions and password change (never commits).

Refresh families: see docs/auth.md for the state machine and the concurrent-refresh decision.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import repository, throttle
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.errors import InvalidCredentials, InvalidRefreshToken, RefreshSuperseded
from torrent_streamer.auth.models import AuthSession, RefreshToken
from torrent_streamer.auth.passwords import enforce_policy, normalise_email
from torrent_streamer.auth.permissions import Role
from torrent_streamer.auth.tokens import issue_access_token, issue_mfa_token
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import Unprocessable
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User

REGISTER_IP_LIMIT = "10/hour"
REFRESH_IP_LIMIT = "60/minute"
REFRESH_GRACE = timedelta(seconds=10)  # concurrent-refresh window, same client only (docs/auth.md)

# Audit actions of refresh replays (the panel's security-event enum should list them too).
REFRESH_REUSE_EVENT = AuditAction.REFRESH_TOKEN_REUSE  # replay that revoked the family
REFRESH_REPLAY_EVENT = AuditAction.REFRESH_TOKEN_REPLAY  # the same client inside the grace: 409, family kept


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def session_is_active(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> bool:
    """True while the family is neither revoked nor idle/absolutely expired (stream URLs die with it)."""
    return await repository.session_is_active(session, session_id, now)


# --- registration ---------------------------------------------------------------------
async def register(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, email: str, password: str, display_name: str | None
) -> str:
    """Create the account, or do nothing if the e-mail is taken: the caller answers identically."""
    await throttle.enforce_address_limits(ctx, "register-ip", (REGISTER_IP_LIMIT,), meta)
    email = normalise_email(email)
    enforce_policy(password, email=email)
    password_hash = await ctx.passwords.hash(password)  # hashed either way: same timing
    now = ctx.now()
    existing = await users_repository.get_by_email(session, email)
    if existing is not None:
        record_event(
            session, now=now, action=AuditAction.REGISTER_DUPLICATE, target_type="user", target_id=str(existing.id),
            ip=meta.ip, user_agent=meta.user_agent,
        )  # fmt: skip
        return email
    user = User(
        email=email,
        password_hash=password_hash,
        role=Role.user.value,
        display_name=display_name,
        created_at=now,
        updated_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    record_event(
        session, now=now, action=AuditAction.REGISTER, actor_id=user.id, target_type="user", target_id=str(user.id),
        ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    return email


# --- sign-in --------------------------------------------------------------------------
async def login(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, email: str, password: str
) -> TokenPair | MfaChallenge:
    email = normalise_email(email)
    await throttle.before_password_check(ctx, session, email, meta)
    user = await users_repository.get_by_email(session, email)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        await throttle.record_failure(ctx, session, email, meta, None, "unknown_account")
        raise InvalidCredentials()
    if not await ctx.passwords.verify(user.password_hash, password):
        await throttle.record_failure(ctx, session, email, meta, user, "bad_password")
        raise InvalidCredentials()
    if user.disabled:
        await throttle.record_failure(ctx, session, email, meta, user, "disabled")
        raise InvalidCredentials()
    await throttle.record_success(ctx, session, email, meta)
    now = ctx.now()
    if ctx.passwords.needs_rehash(user.password_hash):
        user.password_hash = await ctx.passwords.hash(password)
    if user.mfa_enabled:
        ctx.services.metrics.auth_events.labels("mfa_challenge").inc()
        record_event(
            session, now=now, action=AuditAction.LOGIN_MFA_CHALLENGE, actor_id=user.id, target_type="user",
            target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
        )  # fmt: skip
        return MfaChallenge(await issue_mfa_token(ctx.keyring, ctx.settings, now=now, user_id=user.id))
    return await start_session(ctx, session, meta, user, method="password")


async def start_session(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, *, method: str
) -> TokenPair:
    """A new refresh family for a fully authenticated user, and its first token pair."""
    now = ctx.now()
    settings = ctx.settings
    absolute = now + timedelta(seconds=settings.refresh_absolute_ttl_seconds)
    family = AuthSession(
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        idle_expires_at=min(now + timedelta(seconds=settings.refresh_idle_ttl_seconds), absolute),
        absolute_expires_at=absolute,
        device=(meta.user_agent or "")[:128] or None,
        ip=meta.ip,
    )
    session.add(family)
    await session.flush()
    refresh = _new_refresh_token(session, family.id, parent_id=None, now=now)
    ctx.services.metrics.auth_events.labels("login").inc()
    record_event(
        session, now=now, action=AuditAction.LOGIN, actor_id=user.id, target_type="session", target_id=str(family.id),
        ip=meta.ip, user_agent=meta.user_agent, details={"method": method},
    )  # fmt: skip
    return await _pair(ctx, user, family.id, refresh, now)


def _new_refresh_token(
    session: AsyncSession, session_id: uuid.UUID, *, parent_id: uuid.UUID | None, now: datetime
) -> str:
    token = secrets.token_urlsafe(32)  # 256 bits
    session.add(
        RefreshToken(session_id=session_id, token_hash=hash_refresh_token(token), parent_id=parent_id, created_at=now)
    )
    return token


async def _pair(ctx: AuthContext, user: User, session_id: uuid.UUID, refresh: str, now: datetime) -> TokenPair:
    access = await issue_access_token(
        ctx.keyring, ctx.settings, now=now, user_id=user.id, role=Role(user.role), session_id=session_id
    )
    return TokenPair(access, refresh, ctx.settings.access_token_ttl_seconds, session_id)


# --- refresh --------------------------------------------------------------------------
def _family_live(family: AuthSession, now: datetime) -> bool:
    return family.revoked_at is None and family.idle_expires_at > now and family.absolute_expires_at > now


async def refresh(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, refresh_token: str) -> TokenPair:
    await throttle.enforce_address_limits(ctx, "refresh-ip", (REFRESH_IP_LIMIT,), meta)
    now = ctx.now()
    found = await repository.find_refresh_token(session, hash_refresh_token(refresh_token))
    if found is None:
        ctx.services.metrics.auth_failures.labels("refresh_unknown").inc()
        raise InvalidRefreshToken()
    token, family = found
    user = await users_repository.get_by_id(session, family.user_id)
    if not _family_live(family, now) or user is None or user.disabled:
        ctx.services.metrics.auth_failures.labels("refresh_session_inactive").inc()
        raise InvalidRefreshToken()
    client = client_fingerprint(ctx, meta)
    if not await repository.claim_refresh_token(session, token.id, now, client):
        await _replayed(ctx, session, meta, token.id, family.id, user.id, client)
    new_token = _new_refresh_token(session, family.id, parent_id=token.id, now=now)
    family.last_used_at = now
    family.idle_expires_at = min(
        now + timedelta(seconds=ctx.settings.refresh_idle_ttl_seconds), family.absolute_expires_at
    )
    ctx.services.metrics.auth_events.labels("refresh").inc()
    return await _pair(ctx, user, family.id, new_token, now)


def client_fingerprint(ctx: AuthContext, meta: RequestMeta) -> str:
    """Who rotated a token: SHA-256 of the client's address prefix (IPv6 /64) and User-Agent."""
    identity = f"{throttle.address_key(ctx, meta)}|{meta.user_agent or ''}"
    return hashlib.sha256(identity.encode()).hexdigest()


async def _replayed(
    ctx: AuthContext,
    session: AsyncSession,
    meta: RequestMeta,
    token_id: uuid.UUID,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    client: str,
) -> NoReturn:
    """A rotated token came back. The rotating client itself, within the grace and before the
    successor was used, gets 409; anyone else, or later, revokes the family. Both are audited."""
    now = ctx.now()
    used_at, used_by, successor_unused = await repository.refresh_token_state(session, token_id)
    in_grace = used_at is not None and now - used_at <= REFRESH_GRACE and successor_unused
    same_client = used_by is not None and hmac.compare_digest(used_by, client)
    if in_grace and same_client:
        ctx.services.metrics.auth_events.labels("refresh_superseded").inc()
        record_event(
            session, now=now, action=REFRESH_REPLAY_EVENT, outcome="failure", actor_id=user_id,
            target_type="session", target_id=str(family_id), ip=meta.ip, user_agent=meta.user_agent,
            details={"result": "superseded"},
        )  # fmt: skip
        raise RefreshSuperseded()
    reason = "other_client" if in_grace else ("after_grace" if successor_unused else "chain_moved_on")
    await repository.revoke_sessions(session, now=now, reason="refresh_reuse", session_id=family_id)
    ctx.services.metrics.refresh_reuse.inc()
    ctx.services.metrics.auth_failures.labels("refresh_reuse").inc()
    record_event(
        session, now=now, action=REFRESH_REUSE_EVENT, outcome="failure", actor_id=user_id,
        target_type="session", target_id=str(family_id), ip=meta.ip, user_agent=meta.user_agent,
        details={"result": "family_revoked", "reason": reason},
    )  # fmt: skip
    raise InvalidRefreshToken()


# --- sessions -------------------------------------------------------------------------
async def logout(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, refresh_token: str) -> None:
    """Revoke the family of ``refresh_token``; unknown tokens are ignored (idempotent, no oracle)."""
    await throttle.enforce_address_limits(ctx, "refresh-ip", (REFRESH_IP_LIMIT,), meta)
    found = await repository.find_refresh_token(session, hash_refresh_token(refresh_token))
    if found is None:
        return
    _, family = found
    now = ctx.now()
    if await repository.revoke_sessions(session, now=now, reason="logout", session_id=family.id):
        ctx.services.metrics.auth_events.labels("logout").inc()
        record_event(
            session, now=now, action=AuditAction.LOGOUT, actor_id=family.user_id, target_type="session",
            target_id=str(family.id), ip=meta.ip, user_agent=meta.user_agent,
        )  # fmt: skip


async def logout_all(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, user_id: uuid.UUID) -> int:
    now = ctx.now()
    count = await repository.revoke_sessions(session, now=now, reason="logout_all", user_id=user_id)
    record_event(
        session, now=now, action=AuditAction.LOGOUT_ALL, actor_id=user_id, target_type="user", target_id=str(user_id),
        ip=meta.ip, user_agent=meta.user_agent, details={"revoked": count},
    )  # fmt: skip
    return count


async def revoke_own_session(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, user_id: uuid.UUID, session_id: uuid.UUID
) -> bool:
    now = ctx.now()
    count = await repository.revoke_sessions(
        session, now=now, reason="revoked_by_user", user_id=user_id, session_id=session_id
    )
    if count:
        record_event(
            session, now=now, action=AuditAction.SESSION_REVOKE, actor_id=user_id, target_type="session",
            target_id=str(session_id), ip=meta.ip, user_agent=meta.user_agent,
        )  # fmt: skip
    return count > 0


async def change_password(
    ctx: AuthContext,
    session: AsyncSession,
    meta: RequestMeta,
    *,
    user: User,
    new_password: str,
    keep_session_id: uuid.UUID,
) -> None:
    """Set a new password (re-authentication already done) and revoke every other session."""
    enforce_policy(new_password, email=user.email, field="new_password")
    if await ctx.passwords.verify(user.password_hash, new_password):
        raise Unprocessable(
            "The new password must differ from the current one.",
            slug="weak-password",
            extra={"invalid_params": [{"name": "new_password", "reason": "differs from the current password"}]},
        )
    now = ctx.now()
    user.password_hash = await ctx.passwords.hash(new_password)
    user.password_changed_at = now
    user.updated_at = now
    revoked = await repository.revoke_sessions(
        session, now=now, reason="password_change", user_id=user.id, except_session_id=keep_session_id
    )
    record_event(
        session, now=now, action=AuditAction.PASSWORD_CHANGE, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent, details={"revoked": revoked},
    )  # fmt: skip
