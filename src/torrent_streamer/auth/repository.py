"""All SQL of the auth domain: keys, sessions, refresh tokens, recovery codes, spent ids, back-off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth.models import (
    AuthSession,
    LoginThrottle,
    RecoveryCode,
    RefreshToken,
    SigningKey,
    UsedTokenId,
)
from torrent_streamer.core import revocation
from torrent_streamer.users.models import User


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """A dialect INSERT that supports ON CONFLICT (PostgreSQL and SQLite both do)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


# --- signing keys ---------------------------------------------------------------------
async def max_key_generation(session: AsyncSession) -> int:
    return int((await session.scalar(select(func.max(SigningKey.generation)))) or 0)


async def active_signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    query = select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.generation.desc())
    return (await session.scalars(query)).all()


async def all_signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    return (await session.scalars(select(SigningKey).order_by(SigningKey.generation.desc()))).all()


# --- sessions (refresh families) ------------------------------------------------------
async def get_session(session: AsyncSession, session_id: uuid.UUID) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


def _active(now: datetime) -> Any:
    return and_(
        AuthSession.revoked_at.is_(None),
        AuthSession.idle_expires_at > now,
        AuthSession.absolute_expires_at > now,
    )


async def session_is_active(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> bool:
    query = select(AuthSession.id).where(AuthSession.id == session_id, _active(now))
    return (await session.scalar(query)) is not None


async def principal_row(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> tuple[str, bool] | None:
    """(role, mfa_enabled) when the session is active and belongs to an enabled user."""
    query = (
        select(User.role, User.mfa_enabled)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id, User.disabled.is_(False), _active(now))
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def active_sessions_of(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> Sequence[AuthSession]:
    query = (
        select(AuthSession)
        .where(AuthSession.user_id == user_id, _active(now))
        .order_by(AuthSession.last_used_at.desc())
        .limit(200)
    )
    return (await session.scalars(query)).all()


async def all_sessions_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[AuthSession]:
    query = select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.created_at.desc())
    return (await session.scalars(query)).all()


async def revoke_sessions(
    session: AsyncSession,
    *,
    now: datetime,
    reason: str,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    except_session_id: uuid.UUID | None = None,
) -> int:
    """Revoke matching live families (all of them when no filter is given); returns how many."""
    conditions: list[Any] = [AuthSession.revoked_at.is_(None)]
    if user_id is not None:
        conditions.append(AuthSession.user_id == user_id)
    if session_id is not None:
        conditions.append(AuthSession.id == session_id)
    if except_session_id is not None:
        conditions.append(AuthSession.id != except_session_id)
    statement = update(AuthSession).where(*conditions).values(revoked_at=now, revoke_reason=reason)
    revoked = await _rowcount(session, statement.execution_options(synchronize_session=False))
    if revoked:
        revocation.bump()  # stream grants of this process check their session again
    return revoked


# --- refresh tokens -------------------------------------------------------------------
async def find_refresh_token(session: AsyncSession, token_hash: bytes) -> tuple[RefreshToken, AuthSession] | None:
    query = (
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def claim_refresh_token(session: AsyncSession, token_id: uuid.UUID, now: datetime, client: str) -> bool:
    """Mark a token used by ``client``, atomically: exactly one concurrent caller wins (row lock on PostgreSQL)."""
    statement = (
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now, used_by=client)
        .execution_options(synchronize_session=False)
    )
    return await _rowcount(session, statement) == 1


async def refresh_token_state(session: AsyncSession, token_id: uuid.UUID) -> tuple[datetime | None, str | None, bool]:
    """Fresh read (not the identity map): (used_at, used_by, whether its successor is still unused)."""
    row = (
        await session.execute(select(RefreshToken.used_at, RefreshToken.used_by).where(RefreshToken.id == token_id))
    ).first()
    child_unused = await session.scalar(
        select(RefreshToken.id).where(RefreshToken.parent_id == token_id, RefreshToken.used_at.is_(None))
    )
    used_at, used_by = (row[0], row[1]) if row else (None, None)
    return used_at, used_by, child_unused is not None


async def delete_dead_refresh_tokens(session: AsyncSession, now: datetime) -> int:
    """Retention: the tokens of revoked or expired families (they can never be used again)."""
    dead = select(AuthSession.id).where(~_active(now))
    statement = (
        delete(RefreshToken).where(RefreshToken.session_id.in_(dead)).execution_options(synchronize_session=False)
    )
    return await _rowcount(session, statement)


# --- recovery codes -------------------------------------------------------------------
async def replace_recovery_codes(session: AsyncSession, user_id: uuid.UUID, hashes: list[bytes], now: datetime) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=h, created_at=now) for h in hashes)
    await session.flush()


async def delete_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


async def use_recovery_code(session: AsyncSession, user_id: uuid.UUID, code_hash: bytes, now: datetime) -> bool:
    statement = (
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == code_hash, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return await _rowcount(session, statement) == 1


async def remaining_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    return int(await session.scalar(query) or 0)


async def advance_totp_step(session: AsyncSession, user_id: uuid.UUID, step: int) -> bool:
    """Accept a TOTP step only if it is newer than the last accepted one (replay guard)."""
    statement = (
        update(User)
        .where(User.id == user_id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return await _rowcount(session, statement) == 1


# --- single-use token ids -------------------------------------------------------------
async def spend_token_id(session: AsyncSession, jti: str, expires_at: datetime, now: datetime) -> bool:
    """Record ``jti`` as spent; False when it already was (a second use)."""
    await session.execute(delete(UsedTokenId).where(UsedTokenId.expires_at < now))
    statement = _insert(session, UsedTokenId).values(jti=jti, expires_at=expires_at).on_conflict_do_nothing()
    return await _rowcount(session, statement) == 1


# --- sign-in back-off -----------------------------------------------------------------
async def get_throttle(session: AsyncSession, account_key: str) -> LoginThrottle | None:
    result = await session.execute(select(LoginThrottle).where(LoginThrottle.account_key == account_key))
    return result.scalar_one_or_none()


async def record_login_failure(session: AsyncSession, account_key: str, now: datetime, reset_before: datetime) -> int:
    """Count one failure atomically (restarting the count after a quiet period); returns the count."""
    table = LoginThrottle.__table__
    await session.execute(  # a quiet day forgets old failures (also bounds the table under spraying)
        delete(LoginThrottle)
        .execution_options(synchronize_session=False)
        .where(
            LoginThrottle.last_failure_at < reset_before,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )
    upsert = (
        _insert(session, LoginThrottle)
        .values(account_key=account_key, failures=1, last_failure_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[table.c.account_key],
            set_={"failures": table.c.failures + 1, "last_failure_at": now},
        )
    )
    await session.execute(upsert)
    count = await session.scalar(
        select(LoginThrottle.failures)
        .where(LoginThrottle.account_key == account_key)
        .execution_options(populate_existing=True)
    )
    return int(count or 0)


async def lock_account_key(session: AsyncSession, account_key: str, until: datetime) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.account_key == account_key)
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )


async def clear_throttle(session: AsyncSession, account_key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.account_key == account_key))
