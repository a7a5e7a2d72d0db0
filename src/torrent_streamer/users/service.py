"""Own-account logic: profile update, personal-data export, account deletion (never commits)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import mfa
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.passwords import normalise_email
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import BadRequest, Conflict
from torrent_streamer.users import repository
from torrent_streamer.users.export import deletion_hooks, export_contributors
from torrent_streamer.users.models import User
from torrent_streamer.users.schemas import (
    AuditEventExport,
    PersonalDataExport,
    SessionExport,
    UserPublic,
    UserUpdate,
)


def public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        mfa_enabled=user.mfa_enabled,
        created_at=user.created_at,
    )


async def update_profile(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User, change: UserUpdate
) -> None:
    now = ctx.now()
    if change.email is not None:
        email = normalise_email(change.email)
        if email != user.email:
            if change.current_password is None:
                raise BadRequest(
                    "Changing the e-mail address needs current_password.", slug="reauthentication-required"
                )
            await mfa.reauthenticate(ctx, session, meta, user, password=change.current_password, code=change.code)
            if await repository.email_taken(session, email):
                raise Conflict("That e-mail address cannot be used.", slug="email-unavailable")
            record_event(
                session, now=now, action=AuditAction.EMAIL_CHANGE, actor_id=user.id, target_type="user",
                target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
            )  # fmt: skip
            user.email = email
    if change.display_name is not None:
        user.display_name = change.display_name
    user.updated_at = now


async def export_personal_data(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User
) -> PersonalDataExport:
    sessions = await auth_repository.all_sessions_of(session, user.id)
    events = await repository.audit_events_about(session, user.id)
    other = {name: await contributor(session, user.id) for name, contributor in export_contributors().items()}
    record_event(
        session, now=ctx.now(), action=AuditAction.ACCOUNT_EXPORT, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    return PersonalDataExport(
        profile=public(user),
        sessions=[
            SessionExport(
                id=s.id,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                revoked_at=s.revoked_at,
                device=s.device,
                ip=s.ip,
            )
            for s in sessions
        ],
        security_events=[
            AuditEventExport(
                created_at=e.created_at, action=e.action, outcome=e.outcome, ip=e.ip, user_agent=e.user_agent
            )
            for e in events
        ],
        other=other,
    )


async def delete_account(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User) -> None:
    """Delete the account (re-authentication already done): sessions, codes and profile go; the
    security trail stays without IP and user agent."""
    now = ctx.now()
    await auth_repository.revoke_sessions(session, now=now, reason="account_deleted", user_id=user.id)
    for hook in deletion_hooks():
        await hook(session, user.id)
    await repository.anonymise_audit_events(session, user.id)
    record_event(
        session,
        now=now,
        action=AuditAction.ACCOUNT_DELETED,
        actor_id=user.id,
        target_type="user",
        target_id=str(user.id),
    )
    await session.delete(user)
    await session.flush()
