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

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.errors import AccountLocked, InvalidCredentials, InvalidRefreshToken, RefreshSuperseded
from torrent_streamer.auth.models import AuthSession, RefreshToken
from torrent_streamer.auth.passwords import enforce_policy, normalise_email
from torrent_streamer.auth.permissions import Role
from torrent_streamer.auth.tokens import issue_access_token, issue_mfa_token
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import enforce_limit
from torrent_streamer.core.errors import Unprocessable
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User

LOGIN_IP_LIMITS = ("20/minute", "300/hour")
LOGIN_ACCOUNT_LIMITS = ("10/minute", "60/hour")
REGISTER_IP_LIMIT = "10/hour"
REFRESH_IP_LIMIT = "60/minute"
LOCKOUT_THRESHOLD = 5  # consecutive failures before the first lock
LOCKOUT_BASE_SECONDS = 60  # doubles with each further failure …
LOCKOUT_MAX_SECONDS = 3600  # … up to an hour
LOCKOUT_RESET_AFTER = timedelta(hours=24)  # a quiet day forgets old failures
REFRESH_GRACE = timedelta(seconds=10)  # concurrent-refresh window (docs/auth.md)


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


def account_key(ctx: AuthContext, email: str) -> str:
    """Pseudonymous per-account key for limits and back-off (known and unknown e-mails alike)."""
    secret = ctx.settings.secret_key.get_secret_value() if ctx.settings.secret_key else ""
    return hmac.new(secret.encode(), f"login:{email}".encode(), hashlib.sha256).hexdigest()


async def session_is_active(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> bool:
    """True while the family is neither revoked nor idle/absolutely expired (stream URLs die with it)."""
    return await repository.session_is_active(session, session_id, now)


# --- registration ---------------------------------------------------------------------
async def register(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, email: str, password: str, display_name: str | None
) -> str:
    """Create the account, or do nothing if the e-mail is taken: the caller answers identically."""
    await enforce_limit(ctx.services, "register-ip", REGISTER_IP_LIMIT, f"ip:{meta.ip}")
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
async def _check_lockout(ctx: AuthContext, session: AsyncSession, key: str, meta: RequestMeta) -> None:
    now = ctx.now()
    throttle = await repository.get_throttle(session, key)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        ctx.services.metrics.auth_failures.labels("locked").inc()
        record_event(
            session, now=now, action=AuditAction.LOGIN_LOCKED, outcome="failure", ip=meta.ip,
            user_agent=meta.user_agent,
            details={"retry_after": int((throttle.locked_until - now).total_seconds())},
        )  # fmt: skip
        raise AccountLocked((throttle.locked_until - now).total_seconds())


async def _record_failure(
    ctx: AuthContext, session: AsyncSession, key: str, meta: RequestMeta, user: User | None, reason: str
) -> None:
    now = ctx.now()
    failures = await repository.record_login_failure(session, key, now, now - LOCKOUT_RESET_AFTER)
    if failures >= LOCKOUT_THRESHOLD:
        seconds = min(LOCKOUT_BASE_SECONDS * 2 ** (failures - LOCKOUT_THRESHOLD), LOCKOUT_MAX_SECONDS)
        await repository.lock_account_key(session, key, now + timedelta(seconds=seconds))
    ctx.services.metrics.auth_failures.labels(reason).inc()
    record_event(
        session, now=now, action=AuditAction.LOGIN_FAILED, outcome="failure",
        target_type="user" if user else None, target_id=str(user.id) if user else None,
        ip=meta.ip, user_agent=meta.user_agent, details={"reason": reason, "consecutive_failures": failures},
    )  # fmt: skip


async def login(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, email: str, password: str
) -> TokenPair | MfaChallenge:
    for limit in LOGIN_IP_LIMITS:
        await enforce_limit(ctx.services, "login-ip", limit, f"ip:{meta.ip}")
    email = normalise_email(email)
    key = account_key(ctx, email)
    for limit in LOGIN_ACCOUNT_LIMITS:
        await enforce_limit(ctx.services, "login-account", limit, f"acct:{key}")
    await _check_lockout(ctx, session, key, meta)
    user = await users_repository.get_by_email(session, email)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        await _record_failure(ctx, session, key, meta, None, "unknown_account")
        raise InvalidCredentials()
    if not await ctx.passwords.verify(user.password_hash, password):
        await _record_failure(ctx, session, key, meta, user, "bad_password")
        raise InvalidCredentials()
    if user.disabled:
        await _record_failure(ctx, session, key, meta, user, "disabled")
        raise InvalidCredentials()
    await repository.clear_throttle(session, key)
    for limit in LOGIN_ACCOUNT_LIMITS:  # the password is known: the account's attempt window restarts
        await ctx.services.limiter.clear(limit, "login-account", f"acct:{key}")
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
    await enforce_limit(ctx.services, "refresh-ip", REFRESH_IP_LIMIT, f"ip:{meta.ip}")
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
    if not await repository.claim_refresh_token(session, token.id, now):
        used_at, successor_unused = await repository.refresh_token_state(session, token.id)
        if used_at is not None and now - used_at <= REFRESH_GRACE and successor_unused:
            ctx.services.metrics.auth_events.labels("refresh_superseded").inc()
            raise RefreshSuperseded()
        await repository.revoke_sessions(session, now=now, reason="refresh_reuse", session_id=family.id)
        ctx.services.metrics.refresh_reuse.inc()
        ctx.services.metrics.auth_failures.labels("refresh_reuse").inc()
        record_event(
            session, now=now, action=AuditAction.REFRESH_TOKEN_REUSE, outcome="failure", actor_id=user.id,
            target_type="session", target_id=str(family.id), ip=meta.ip, user_agent=meta.user_agent,
        )  # fmt: skip
        raise InvalidRefreshToken()
    new_token = _new_refresh_token(session, family.id, parent_id=token.id, now=now)
    family.last_used_at = now
    family.idle_expires_at = min(
        now + timedelta(seconds=ctx.settings.refresh_idle_ttl_seconds), family.absolute_expires_at
    )
    ctx.services.metrics.auth_events.labels("refresh").inc()
    return await _pair(ctx, user, family.id, new_token, now)


# --- sessions -------------------------------------------------------------------------
async def logout(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, refresh_token: str) -> None:
    """Revoke the family of ``refresh_token``; unknown tokens are ignored (idempotent, no oracle)."""
    await enforce_limit(ctx.services, "refresh-ip", REFRESH_IP_LIMIT, f"ip:{meta.ip}")
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
