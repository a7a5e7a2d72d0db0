"""``CurrentUser``: the signed-in caller's own ``User`` row (permission ``profile_own``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from torrent_streamer.auth.dependencies import Principal, require
from torrent_streamer.auth.permissions import Permission
from torrent_streamer.auth.tokens import InvalidToken
from torrent_streamer.core.deps import SessionDep
from torrent_streamer.users import repository
from torrent_streamer.users.models import User

OwnPrincipal = Annotated[Principal, require(Permission.profile_own)]


async def get_current_user(principal: OwnPrincipal, session: SessionDep) -> User:
    user = await repository.get_by_id(session, principal.user_id)
    if user is None:  # deleted between the token check and now
        raise InvalidToken("user_gone")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
