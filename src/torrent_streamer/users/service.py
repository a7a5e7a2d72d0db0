"""Own-account logic: profile update, personal-data export, account deletion (never commits)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth import mfa
from torrent_streamer.auth import repository as auth_repository
from torrent_streamer.auth.context import AuthContext, RequestMeta
from torrent_streamer.auth.passwords import normalise_email
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.errors import BadRequest
from torrent_streamer.torrents import repository as torrents_repository
from torrent_streamer.torrents import service as torrents_service
from torrent_streamer.users import repository
from torrent_streamer.users.export import deletion_hooks, export_contributors
from torrent_streamer.users.models import User
from torrent_streamer.users.schemas import (
    AuditEventExport,
    CatalogReportExport,
    CatalogSubmissionExport,
    LibraryItemExport,
    MfaStateExport,
    PersonalDataExport,
    SessionExport,
    UserPublic,
    UserUpdate,
    WatchPositionExport,
)

EMAIL_CHANGE_REFUSED = AuditAction.EMAIL_CHANGE_REFUSED


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
                # No 409 and no distinct problem: the answer is the ordinary 200 profile, the
                # address simply stays as it was (docs/auth.md "Enumeration").
                record_event(
                    session, now=now, action=EMAIL_CHANGE_REFUSED, outcome="failure", actor_id=user.id,
                    target_type="user", target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
                )  # fmt: skip
            else:
                record_event(
                    session, now=now, action=AuditAction.EMAIL_CHANGE, actor_id=user.id, target_type="user",
                    target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
                )  # fmt: skip
                user.email = email
    if change.display_name is not None:
        user.display_name = change.display_name
    user.updated_at = now


WATCH_FIELDS = ("file_index", "position_seconds", "duration_seconds", "updated_at")
EXPORT_LIMIT = 100_000  # rows per section: far above any real account, still bounded


async def export_personal_data(
    ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User
) -> PersonalDataExport:
    """Everything kept about ``user``: profile, MFA state (no secrets), sessions, library with
    info-hashes, watch positions, catalog submissions and reports, and the audit entries about them."""
    sessions = await auth_repository.all_sessions_of(session, user.id)
    library = await torrents_repository.list_entries(session, user.id, EXPORT_LIMIT)
    history = await torrents_repository.list_history(session, user.id, EXPORT_LIMIT)
    submissions = await repository.catalog_submissions_of(session, user.id)
    reports = await repository.catalog_reports_of(session, user.id)
    remaining, used = await repository.recovery_code_counts(session, user.id)
    events = await repository.audit_events_about(session, user.id)
    other = {name: await contributor(session, user.id) for name, contributor in export_contributors().items()}
    record_event(
        session, now=ctx.now(), action=AuditAction.ACCOUNT_EXPORT, actor_id=user.id, target_type="user",
        target_id=str(user.id), ip=meta.ip, user_agent=meta.user_agent,
    )  # fmt: skip
    return PersonalDataExport(
        profile=public(user),
        mfa=MfaStateExport(
            enabled=user.mfa_enabled,
            enrolment_pending=user.totp_secret_enc is not None and not user.mfa_enabled,
            recovery_codes_remaining=remaining,
            recovery_codes_used=used,
        ),
        sessions=[SessionExport.model_validate(s, from_attributes=True) for s in sessions],
        library=[
            LibraryItemExport(id=e.id, name=t.name, info_hash=t.info_hash, added_at=e.added_at) for e, t in library
        ],
        watch_history=[
            WatchPositionExport.model_validate(
                {"torrent_id": e.id, "torrent_name": t.name, "info_hash": t.info_hash}
                | {name: getattr(h, name) for name in WATCH_FIELDS}
            )
            for h, e, t in history
        ],
        catalog_submissions=[
            CatalogSubmissionExport(
                id=c.id, title=c.title, info_hash=c.info_hash, status=c.status, created_at=c.created_at
            )
            for c in submissions
        ],
        catalog_reports=[
            CatalogReportExport(entry_id=r.entry_id, reason=r.reason, comment=r.comment, created_at=r.created_at)
            for r in reports
        ],
        security_events=[
            AuditEventExport(
                created_at=e.created_at, action=e.action, outcome=e.outcome, ip=e.ip, user_agent=e.user_agent
            )
            for e in events
        ],
        other=other,
    )


async def delete_account(ctx: AuthContext, session: AsyncSession, meta: RequestMeta, user: User) -> list[str]:
    """Delete the account (re-authentication already done): sessions, codes and profile go; the
    security trail stays without IP and user agent. Returns the info-hashes nobody else holds, for
    the route to drop from the engine after commit (their data is deleted)."""
    now = ctx.now()
    await auth_repository.revoke_sessions(session, now=now, reason="account_deleted", user_id=user.id)
    orphans = await torrents_service.release_library(session, user.id)
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
    return orphans
