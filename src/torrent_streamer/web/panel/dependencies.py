"""The panel's access dependency: resolve the session cookie, check the role's permission, check CSRF.

``panel_require(Permission.x)`` mirrors ``auth.dependencies.require`` for cookie sessions (SR-2.10, SR-6.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from torrent_streamer.auth.dependencies import Requirement
from torrent_streamer.auth.permissions import Permission, role_allows
from torrent_streamer.core.audit import record_event
from torrent_streamer.core.deps import ServicesDep, SessionDep, client_ip
from torrent_streamer.core.state import Services
from torrent_streamer.web.panel import service
from torrent_streamer.web.panel.errors import PanelForbidden, PanelLoginRequired, PanelRedirect
from torrent_streamer.web.panel.security import (
    COOKIE_NAME,
    CSRF_FIELD,
    session_csrf_token,
    tokens_match,
)

CSRF_REFUSED = "The form was refused: its security token is missing or wrong. Reload the page and try again."
ENROL_PATH = "/admin/mfa/enrol"


@dataclass(frozen=True)
class PanelPrincipal:
    identity: service.PanelIdentity
    csrf_token: str

    @property
    def can(self) -> dict[str, bool]:
        return {p.value: role_allows(self.identity.role, p) for p in Permission}


def secret_key(services: Services) -> str:
    if services.settings.secret_key is None:  # pragma: no cover - ensure_dev_secrets/production fill it
        raise RuntimeError("secret key is not configured")
    return services.settings.secret_key.get_secret_value()


async def check_csrf(request: Request, expected: str) -> bool:
    form = await request.form()
    return tokens_match(expected, form.get(CSRF_FIELD))


class PanelRequirement(Requirement):
    """Dependency: a live panel session whose role holds ``permission``; every POST carries its CSRF token.

    A ``Requirement`` like the API's (same permission map, seen by the route-permission walk), but the
    credential is the panel cookie instead of a bearer token.
    """

    def __init__(self, permission: Permission, *, state: str = "active") -> None:
        super().__init__(permission)
        self.state = state  # "active", "enrolling" (MFA enrolment pages) or "any" (sign-out)

    def __repr__(self) -> str:
        return f"panel_require({self.permission.value}, {self.state})"

    async def __call__(  # type: ignore[override]  # a cookie, not a bearer token; returns the panel principal
        self, request: Request, services: ServicesDep, session: SessionDep
    ) -> PanelPrincipal:
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            raise PanelLoginRequired(request.url.path)
        identity = await service.resolve(session, cookie, services.clock.now())
        await session.commit()  # the session touch (or its expiry) is its own unit of work
        if identity is None:
            raise PanelLoginRequired(request.url.path, clear_cookie=True)
        enrolling = identity.panel_session.enrolling
        if enrolling and self.state == "active":
            raise PanelRedirect(ENROL_PATH)
        if not enrolling and self.state == "enrolling":
            raise PanelRedirect("/admin")
        if not role_allows(identity.role, self.permission):
            raise PanelForbidden("Your role does not allow this page.")
        token = session_csrf_token(secret_key(services), identity.panel_session.id)
        if request.method not in ("GET", "HEAD") and not await check_csrf(request, token):
            agent = request.headers.get("user-agent")
            record_event(
                session, now=services.clock.now(), action="panel_csrf_refused", outcome="failure",
                actor_id=identity.user.id, target_type="route", target_id=request.url.path[:128],
                ip=client_ip(request), user_agent=agent[:256] if agent else None,
            )  # fmt: skip
            await session.commit()
            raise PanelForbidden(CSRF_REFUSED)
        return PanelPrincipal(identity=identity, csrf_token=token)


def panel_require(permission: Permission) -> Any:
    """``Annotated[PanelPrincipal, panel_require(Permission.x)]``: the panel's counterpart of ``require``."""
    return Depends(PanelRequirement(permission))


def panel_enrolment() -> Any:
    """Only a session still enrolling its second factor (the enrolment pages)."""
    return Depends(PanelRequirement(Permission.profile_own, state="enrolling"))


def panel_session_any() -> Any:
    """Any live panel session, enrolling or not (sign-out)."""
    return Depends(PanelRequirement(Permission.profile_own, state="any"))
