"""Sign-in protection (SR-2.6): address limits, per (account, address) lockout, account slow-down.

A stranger's failures must never lock the owner out (docs/auth.md "Sign-in protection"):

* per client address (IPv6 per /64): request limits on every unauthenticated auth route;
* per (account, client address) pair: attempt limits and the back-off lock (429 ``login-locked``);
* per account, across all addresses: a progressive delay before the password is checked, capped
  at ``TS_LOGIN_SLOWDOWN_MAX_SECONDS``, audited as ``login_slowed``; never a lock.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.errors import AccountLocked
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.clientaddr import client_key
from torrent_streamer.core.deps import enforce_limit
from torrent_streamer.users.models import User

LOGIN_IP_LIMITS = ("20/minute", "300/hour")
LOGIN_PAIR_LIMITS = ("10/minute", "60/hour")  # one account from one address
MFA_IP_LIMITS = ("20/minute", "300/hour")  # second-factor attempts from one address, any account
LOCKOUT_THRESHOLD = 5  # consecutive failures of one (account, address) pair before the first lock
LOCKOUT_BASE_SECONDS = 60  # doubles with each further failure …
LOCKOUT_MAX_SECONDS = 3600  # … up to an hour
LOCKOUT_RESET_AFTER = timedelta(hours=24)  # a quiet day forgets old failures
SLOWDOWN_THRESHOLD = 5  # failures of one account (all addresses) before sign-ins to it slow down
SLOWDOWN_BASE_SECONDS = 0.25  # doubles with each further failure, up to the setting's cap

# Audit actions recorded here (the panel's security-event enum should list them too).
LOGIN_FAILED = AuditAction.LOGIN_FAILED
LOGIN_LOCKED = AuditAction.LOGIN_LOCKED
LOGIN_SLOWED = AuditAction.LOGIN_SLOWED


def _hmac(ctx: AuthContext, label: str) -> str:
    secret = ctx.settings.secret_key.get_secret_value() if ctx.settings.secret_key else ""
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).hexdigest()


def address_key(ctx: AuthContext, meta: RequestMeta) -> str:
    """The limiter key of the caller's address (IPv4 /32, IPv6 /64 by default)."""
    return client_key(ctx.settings, meta.ip)


def account_key(ctx: AuthContext, email: str) -> str:
    """Pseudonymous per-account key (known and unknown e-mails alike): the slow-down counter."""
    return _hmac(ctx, f"login:{email}")


def pair_key(ctx: AuthContext, email: str, meta: RequestMeta) -> str:
    """Pseudonymous (account, client address) key: attempt limits and the back-off lock."""
    return _hmac(ctx, f"login-pair:{email}|{address_key(ctx, meta)}")


def slowdown_seconds(failures: int, cap: float) -> float:
    """0 below the threshold, then 0.25 s doubling per failure, never above ``cap``."""
    if failures < SLOWDOWN_THRESHOLD or cap <= 0:
        return 0.0
    return float(min(SLOWDOWN_BASE_SECONDS * 2 ** min(failures - SLOWDOWN_THRESHOLD, 16), cap))


async def enforce_address_limits(ctx: AuthContext, name: str, limits: tuple[str, ...], meta: RequestMeta) -> None:
    for limit in limits:
        await enforce_limit(ctx.services, name, limit, address_key(ctx, meta))


async def before_password_check(ctx: AuthContext, session: AsyncSession, email: str, meta: RequestMeta) -> None:
    """Limits, the pair's lock (429), then the account's slow-down (a delay, audited)."""
    await enforce_address_limits(ctx, "login-ip", LOGIN_IP_LIMITS, meta)
    pair = pair_key(ctx, email, meta)
    for limit in LOGIN_PAIR_LIMITS:
        await enforce_limit(ctx.services, "login-pair", limit, f"pair:{pair}")
    now = ctx.now()
    throttle = await repository.get_throttle(session, pair)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        ctx.services.metrics.auth_failures.labels("locked").inc()
        record_event(
            session, now=now, action=LOGIN_LOCKED, outcome="failure", ip=meta.ip, user_agent=meta.user_agent,
            details={"retry_after": int((throttle.locked_until - now).total_seconds())},
        )  # fmt: skip
        raise AccountLocked((throttle.locked_until - now).total_seconds())
    account = await repository.get_throttle(session, account_key(ctx, email))
    failures = account.failures if account is not None and account.last_failure_at > now - LOCKOUT_RESET_AFTER else 0
    delay = slowdown_seconds(failures, ctx.settings.login_slowdown_max_seconds)
    if delay > 0:
        ctx.services.metrics.auth_events.labels("login_slowed").inc()
        record_event(
            session, now=now, action=LOGIN_SLOWED, outcome="failure", ip=meta.ip, user_agent=meta.user_agent,
            details={"delay_seconds": delay, "account_failures": failures},
        )  # fmt: skip
        await ctx.services.clock.sleep(delay)


async def record_failure(
    ctx: AuthContext, session: AsyncSession, email: str, meta: RequestMeta, user: User | None, reason: str
) -> None:
    """Count the failure for the pair (locking it past the threshold) and for the account."""
    now = ctx.now()
    reset_before = now - LOCKOUT_RESET_AFTER
    pair = pair_key(ctx, email, meta)
    failures = await repository.record_login_failure(session, pair, now, reset_before)
    if failures >= LOCKOUT_THRESHOLD:
        seconds = min(LOCKOUT_BASE_SECONDS * 2 ** (failures - LOCKOUT_THRESHOLD), LOCKOUT_MAX_SECONDS)
        await repository.lock_account_key(session, pair, now + timedelta(seconds=seconds))
    account_failures = await repository.record_login_failure(session, account_key(ctx, email), now, reset_before)
    ctx.services.metrics.auth_failures.labels(reason).inc()
    record_event(
        session, now=now, action=LOGIN_FAILED, outcome="failure",
        target_type="user" if user else None, target_id=str(user.id) if user else None,
        ip=meta.ip, user_agent=meta.user_agent,
        details={"reason": reason, "consecutive_failures": failures, "account_failures": account_failures},
    )  # fmt: skip


async def record_success(ctx: AuthContext, session: AsyncSession, email: str, meta: RequestMeta) -> None:
    """The password is known: the pair's and the account's counters restart."""
    pair = pair_key(ctx, email, meta)
    await repository.clear_throttle(session, pair)
    await repository.clear_throttle(session, account_key(ctx, email))
    for limit in LOGIN_PAIR_LIMITS:
        await ctx.services.limiter.clear(limit, "login-pair", f"pair:{pair}")
