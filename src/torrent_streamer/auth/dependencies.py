"""The one access-control mechanism (SR-2.10): ``require(permission)`` and ``public_route()``.

Every route carries exactly one of them; ``tests/integration/test_route_permissions.py`` checks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from torrent_streamer.auth import repository
from torrent_streamer.auth.context import AuthContext, RequestMeta, auth_context
from torrent_streamer.auth.errors import InsufficientPermission, MfaRequired
from torrent_streamer.auth.permissions import MFA_REQUIRED_ROLES, PRIVILEGED_PERMISSIONS, Permission, Role, role_allows
from torrent_streamer.auth.tokens import InvalidToken, verify_access_token
from torrent_streamer.core.deps import ServicesDep, SessionDep, client_ip
from torrent_streamer.core.errors import Unauthorized

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", description="Access token (15 minutes).")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: uuid.UUID
    role: Role
    session_id: uuid.UUID  # the refresh-token family (claim ``sid``)
    mfa_enabled: bool


class Requirement:
    """Dependency: authenticate the bearer token, check the session is live, check ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"require({self.permission.value})"

    async def __call__(
        self,
        services: ServicesDep,
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            services.metrics.auth_failures.labels("missing_token").inc()
            raise Unauthorized("Authentication required.")
        ctx = auth_context(services)
        now = services.clock.now()
        try:
            claims = await verify_access_token(ctx.keyring, ctx.settings, credentials.credentials, now=now)
            row = await repository.principal_row(session, claims.user_id, claims.session_id, now)
            if row is None:
                raise InvalidToken("session_inactive")
        except InvalidToken as exc:
            services.metrics.auth_failures.labels(exc.reason).inc()
            raise
        role, mfa_enabled = Role(row[0]), row[1]
        if not role_allows(role, self.permission):
            raise InsufficientPermission()
        if self.permission in PRIVILEGED_PERMISSIONS and role in MFA_REQUIRED_ROLES and not mfa_enabled:
            raise MfaRequired()
        return Principal(user_id=claims.user_id, role=role, session_id=claims.session_id, mfa_enabled=mfa_enabled)


def require(permission: Permission) -> Any:
    """``Annotated[Principal, require(Permission.x)]`` or ``dependencies=[require(Permission.x)]``."""
    return Depends(Requirement(permission))


async def public_marker() -> None:
    """Marks a route as intentionally anonymous (it authenticates by other means or not at all)."""


def public_route() -> Any:
    return Depends(public_marker)


async def get_auth(services: ServicesDep) -> AuthContext:
    return auth_context(services)


async def get_request_meta(request: Request) -> RequestMeta:
    agent = request.headers.get("user-agent")
    return RequestMeta(ip=client_ip(request), user_agent=agent[:256] if agent else None)


AuthDep = Annotated[AuthContext, Depends(get_auth)]
MetaDep = Annotated[RequestMeta, Depends(get_request_meta)]
