"""Routes of ``/api/v1/admin/users`` and ``/api/v1/admin/audit`` (admin role, MFA enabled)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime

from torrent_streamer.admin import repository, service
from torrent_streamer.admin.schemas import AdminUserPublic, AdminUserUpdate, AuditEventPublic, AuditPage, UserPage
from torrent_streamer.auth import mfa
from torrent_streamer.auth.dependencies import AuthDep, MetaDep, Principal, require
from torrent_streamer.auth.errors import commit_recorded_failures
from torrent_streamer.auth.permissions import Permission, Role
from torrent_streamer.core.deps import SessionDep
from torrent_streamer.core.errors import problem_responses
from torrent_streamer.users import repository as users_repository

router = APIRouter(prefix="/admin", tags=["admin"])

UsersAdmin = Annotated[Principal, require(Permission.admin_users)]
AuditAdmin = Annotated[Principal, require(Permission.admin_audit)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
ERRORS = problem_responses(400, 401, 403, 422)


@router.get("/users", responses=ERRORS)
async def admin_list_users(
    _: UsersAdmin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(min_length=1, max_length=320)] = None,
    role: Role | None = None,
) -> UserPage:
    """Users, newest first; ``q`` searches e-mail addresses; keyset pagination by ``cursor``."""
    rows = await users_repository.list_users(
        session,
        limit=limit + 1,
        after=service.decode_cursor(cursor),
        email_contains=q.lower() if q else None,
        role=role.value if role else None,
    )
    page = rows[:limit]
    next_cursor = service.encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return UserPage(items=[service.admin_view(user) for user in page], next_cursor=next_cursor)


@router.get("/users/{user_id}", responses=problem_responses(401, 403, 404, 422))
async def admin_get_user(user_id: uuid.UUID, _: UsersAdmin, session: SessionDep) -> AdminUserPublic:
    """One user."""
    return service.admin_view(await service.get_user(session, user_id))


@router.patch("/users/{user_id}", responses=problem_responses(401, 403, 404, 409, 422, 429))
async def admin_update_user(
    user_id: uuid.UUID, body: AdminUserUpdate, principal: UsersAdmin, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> AdminUserPublic:
    """Change a user's role or disable/enable them (disabling revokes their sessions); re-authentication."""
    actor = await service.get_user(session, principal.user_id)
    async with commit_recorded_failures(session):
        await mfa.reauthenticate(auth, session, meta, actor, password=body.current_password, code=body.code)
    target = await service.update_user(auth, session, meta, actor=actor, target_id=user_id, change=body)
    await session.commit()
    return service.admin_view(target)


@router.delete(
    "/users/{user_id}/sessions", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422)
)
async def admin_revoke_user_sessions(
    user_id: uuid.UUID, principal: UsersAdmin, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> Response:
    """Revoke every session of a user (they must sign in again)."""
    await service.revoke_user_sessions(auth, session, meta, actor_id=principal.user_id, target_id=user_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", responses=ERRORS)
async def admin_list_audit(
    _: AuditAdmin,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    actor_id: uuid.UUID | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> AuditPage:
    """Security and moderation events, newest first, filtered by action, actor and time."""
    rows = await repository.list_audit_events(
        session,
        limit=limit + 1,
        after=service.decode_cursor(cursor),
        action=action,
        actor_id=actor_id,
        since=since,
        until=until,
    )
    page = rows[:limit]
    next_cursor = service.encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    items = [
        AuditEventPublic(
            id=e.id,
            created_at=e.created_at,
            action=e.action,
            outcome=e.outcome,
            actor_id=e.actor_id,
            target_type=e.target_type,
            target_id=e.target_id,
            ip=e.ip,
            user_agent=e.user_agent,
            details=e.details,
        )
        for e in page
    ]
    return AuditPage(items=items, next_cursor=next_cursor)
