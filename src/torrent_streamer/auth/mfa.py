"""TOTP second factor (RFC 6238) with one-time recovery codes, and re-authentication (SR-2.9, SR-2.11).

Secrets are encrypted at rest (context ``totp:<user id>``); a TOTP step is accepted once only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import repository, throttle
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.errors import InvalidMfaCode, ReauthenticationFailed
from torrent_streamer.auth.service import TokenPair, start_session
from torrent_streamer.auth.tokens import InvalidToken, verify_mfa_token
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import enforce_limit
from torrent_streamer.core.errors import Conflict
from torrent_streamer.users import repository as users_repository
from torrent_streamer.users.models import User

TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # one step either side (clock drift)
RECOVERY_CODE_COUNT = 10
MFA_ATTEMPT_LIMITS = ("5/minute", "30/hour")
REAUTH_LIMITS = ("10/minute", "50/hour")  # a stolen access token cannot brute-force the password
ISSUER = "torrent-streamer"
_TOTP_RE = re.compile(r"^\d{6}$")


def _context(user: User) -> str:
    return f"totp:{user.id}"


def _recovery_hash(code: str) -> bytes:
    return hashlib.sha256(re.sub(r"[\s-]", "", code).upper().encode()).digest()


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def matching_step(secret: str, code: str, now_ts: float) -> int | None:
    """The TOTP time step ``code`` belongs to (within the window), or None."""
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(now_ts) // TOTP_INTERVAL
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_totp_secret() -> str:
    return str(pyotp.random_base32(length=32))  # 160 bits


def provisioning_uri(secret: str, email: str) -> str:
    return str(pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=email, issuer_name=ISSUER))


async def _throttle(ctx: AuthContext, user: User) -> None:
    for limit in MFA_ATTEMPT_LIMITS:
        await enforce_limit(ctx.services, "mfa-attempt", limit, f"user:{user.id}")


async def verify_second_factor(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, code: str
) -> bool:
    """Check a TOTP code (each step once) or spend a recovery code; throttled per user."""
    await _throttle(ctx, user)
    code = code.strip()
    if user.totp_secret_enc is None:
        return False
    if _TOTP_RE.match(code):
        secret = ctx.services.secret_box.decrypt(user.totp_secret_enc, context=_context(user))
        step = matching_step(secret, code, ctx.now().timestamp())
        return step is not None and await repository.advance_totp_step(session, user.id, step)
    if not user.mfa_enabled or len(code) > 32:
        return False
    if await repository.use_recovery_code(session, user.id, _recovery_hash(code), ctx.now()):
        remaining = await repository.remaining_recovery_codes(session, user.id)
        record_event(
            session, now=ctx.now(), action=AuditAction.MFA_RECOVERY_CODE_USED, actor_id=user.id, target_type="user",
            target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent, details={"remaining": remaining},
        )  # fmt: skip
        return True
    return False


def _failed(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, action: AuditAction) -> None:
    ctx.services.metrics.auth_failures.labels(action).inc()
    record_event(
        session, now=ctx.now(), action=action, outcome="failure", actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip


async def reauthenticate(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, *, password: str, code: str | None
) -> None:
    """Sensitive operations: the current password, plus the second factor when enrolled."""
    for limit in REAUTH_LIMITS:
        await enforce_limit(ctx.services, "reauth", limit, f"user:{user.id}")
    if not await ctx.passwords.verify(user.password_hash, password):
        _failed(ctx, session, meta, user, AuditAction.REAUTH_FAILED)
        raise ReauthenticationFailed()
    if user.mfa_enabled:
        if not code:
            _failed(ctx, session, meta, user, AuditAction.REAUTH_FAILED)
            raise ReauthenticationFailed("This operation also needs a code from your authenticator.")
        if not await verify_second_factor(ctx, session, meta, user, code):
            _failed(ctx, session, meta, user, AuditAction.REAUTH_FAILED)
            raise ReauthenticationFailed()


async def complete_login(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, *, mfa_token: str, code: str
) -> TokenPair:
    """Exchange a single-use ``mfa_token`` and a valid code for a token pair."""
    await throttle.enforce_address_limits(ctx, "mfa-ip", throttle.MFA_IP_LIMITS, meta)
    now = ctx.now()
    claims = await verify_mfa_token(ctx.keyring, ctx.settings, mfa_token, now=now)
    user = await users_repository.get_by_id(session, claims.user_id)
    if user is None or user.disabled or not user.mfa_enabled:
        raise InvalidToken("mfa_user")
    if not await verify_second_factor(ctx, session, meta, user, code):
        _failed(ctx, session, meta, user, AuditAction.MFA_FAILED)
        raise InvalidMfaCode()
    expires = now.fromtimestamp(claims.expires_at, tz=now.tzinfo)
    if not await repository.spend_token_id(session, claims.jti, expires, now):
        raise InvalidToken("mfa_token_reused")
    return await start_session(ctx, session, meta, user, method="mfa")


async def setup_totp(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User) -> tuple[str, str]:
    """Start enrolment: a fresh secret (stored encrypted, not yet enabled) and its otpauth URI."""
    if user.mfa_enabled:
        raise Conflict("Multi-factor authentication is already enabled; disable it first.", slug="mfa-already-enabled")
    secret = new_totp_secret()
    user.totp_secret_enc = ctx.services.secret_box.encrypt(secret, context=_context(user))
    user.totp_last_step = None
    user.updated_at = ctx.now()
    record_event(
        session, now=ctx.now(), action=AuditAction.MFA_SETUP, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    return secret, provisioning_uri(secret, user.email)


async def enable_totp(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, *, code: str
) -> list[str]:
    """Confirm enrolment with a valid code; returns the ten recovery codes (shown once)."""
    if user.mfa_enabled:
        raise Conflict("Multi-factor authentication is already enabled.", slug="mfa-already-enabled")
    if user.totp_secret_enc is None:
        raise Conflict("Start the TOTP set-up first.", slug="mfa-setup-required")
    if not await verify_second_factor(ctx, session, meta, user, code):
        _failed(ctx, session, meta, user, AuditAction.MFA_ENABLE_FAILED)
        raise InvalidMfaCode()
    codes = new_recovery_codes()
    await repository.replace_recovery_codes(session, user.id, [_recovery_hash(c) for c in codes], ctx.now())
    user.mfa_enabled = True
    user.updated_at = ctx.now()
    record_event(
        session, now=ctx.now(), action=AuditAction.MFA_ENABLED, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    return codes


async def disable_totp(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User) -> None:
    """Remove the second factor (the caller has re-authenticated with password and code)."""
    if not user.mfa_enabled:
        raise Conflict("Multi-factor authentication is not enabled.", slug="mfa-not-enabled")
    user.mfa_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = None
    user.updated_at = ctx.now()
    await repository.delete_recovery_codes(session, user.id)
    record_event(
        session, now=ctx.now(), action=AuditAction.MFA_DISABLED, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
