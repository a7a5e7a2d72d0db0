"""Routes of ``/api/v1/me``: own profile, export and deletion (thin, one commit each)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.exc import IntegrityError

from torrent_streamer.auth import mfa
from torrent_streamer.auth.dependencies import AuthDep, MetaDep
from torrent_streamer.auth.errors import commit_recorded_failures
from torrent_streamer.core.deps import ServicesDep, SessionDep
from torrent_streamer.core.errors import problem_responses
from torrent_streamer.torrents import service as torrents_service
from torrent_streamer.users import service
from torrent_streamer.users.dependencies import CurrentUser
from torrent_streamer.users.schemas import AccountDeletion, PersonalDataExport, UserPublic, UserUpdate

router = APIRouter(prefix="/me", tags=["me"])


@router.get("", responses=problem_responses(401, 403))
async def get_me(user: CurrentUser) -> UserPublic:
    """The caller's profile."""
    return service.public(user)


@router.patch("", responses=problem_responses(400, 401, 403, 422, 429))
async def update_me(
    body: UserUpdate, user: CurrentUser, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> UserPublic:
    """Change the display name, or the e-mail address (re-authentication). An address that cannot
    be used is not changed and gets the same answer: it never tells whether the address is taken."""
    async with commit_recorded_failures(session):
        await service.update_profile(auth, session, meta, user, body)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent change took the address first: answer like any taken one
        await session.rollback()
        await session.refresh(user)
    return service.public(user)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 422, 429))
async def delete_me(
    body: AccountDeletion,
    user: CurrentUser,
    auth: AuthDep,
    meta: MetaDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Delete the account and its personal data (re-authentication); every session ends, and torrents
    nobody else holds leave the engine with their data."""
    async with commit_recorded_failures(session):
        await mfa.reauthenticate(auth, session, meta, user, password=body.current_password, code=body.code)
    orphans = await service.delete_account(auth, session, meta, user)
    await session.commit()
    await torrents_service.drop_orphans(services, orphans)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/export", responses=problem_responses(401, 403))
async def export_me(user: CurrentUser, auth: AuthDep, meta: MetaDep, session: SessionDep) -> PersonalDataExport:
    """Every piece of personal data the service holds about the caller, as JSON."""
    export = await service.export_personal_data(auth, session, meta, user)
    await session.commit()
    return export
