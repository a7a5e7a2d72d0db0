"""The panel's access dependency: session cookie, MFA, role permission, cross-site refusal, CSRF, step-up.

``panel_require(Permission.x)`` mirrors ``auth.dependencies.require`` for cookie sessions (SR-2.9, SR-2.10,
SR-6.1); ``panel_require(..., fresh=True)`` also wants password + TOTP within the re-authentication window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.auth.dependencies import Requirement
from torrent_streamer.auth.permissions import Permission, role_allows
from torrent_streamer.core.audit import AuditAction, record_event
from torrent_streamer.core.deps import ServicesDep, SessionDep, client_ip
from torrent_streamer.core.state import Services
from torrent_streamer.web.panel import service
from torrent_streamer.web.panel.errors import PanelForbidden, PanelLoginRequired, PanelRedirect
from torrent_streamer.web.panel.security import (
    COOKIE_NAME,
    CSRF_FIELD,
    DASHBOARD,
    cross_site_reason,
    is_fresh,
    origin_of,
    session_csrf_token,
    tokens_match,
)

CSRF_REFUSED = "The form was refused: its security token is missing or wrong. Reload the page and try again."
CROSS_SITE_REFUSED = "The form was refused: it was sent from another site."
ENROL_PATH = "/admin/mfa/enrol"
REAUTH_PATH = "/admin/reauth"
SAFE_METHODS = ("GET", "HEAD")


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


def cross_site(request: Request, services: Services) -> str | None:
    """Why this state-changing request comes from another site (Origin / Sec-Fetch-Site), or None."""
    candidates = (origin_of(str(request.base_url)), origin_of(services.settings.public_url or ""))
    own = {origin for origin in candidates if origin is not None}
    return cross_site_reason(
        origin=request.headers.get("origin"), fetch_site=request.headers.get("sec-fetch-site"), own_origins=own
    )


def refusal_event(
    session: AsyncSession,
    services: Services,
    request: Request,
    action: AuditAction,
    actor: uuid.UUID,
    **details: object,
) -> None:
    agent = request.headers.get("user-agent")
    record_event(
        session, now=services.clock.now(), action=action, outcome="failure", actor_id=actor,
        target_type="route", target_id=request.url.path[:128], ip=client_ip(request),
        user_agent=agent[:256] if agent else None, details=details or None,
    )  # fmt: skip


class PanelRequirement(Requirement):
    """Dependency: a live panel session whose role holds ``permission``; every POST carries its CSRF token.

    A ``Requirement`` like the API's (same permission map, seen by the route-permission walk), but the
    credential is the panel cookie instead of a bearer token.
    """

    def __init__(
        self, permission: Permission, *, state: str = "active", fresh: bool = False, back: str = DASHBOARD
    ) -> None:
        super().__init__(permission)
        self.state = state  # "active", "enrolling" (MFA enrolment pages) or "any" (sign-out)
        self.fresh = fresh  # destructive: password + TOTP within the re-authentication window (SR-2.9)
        self.back = back  # the page the re-authentication returns to

    def __repr__(self) -> str:
        return f"panel_require({self.permission.value}, {self.state}{', fresh' if self.fresh else ''})"

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
        # A staff account without a second factor reaches only the enrolment pages, whatever the session says.
        enrolling = identity.panel_session.enrolling or not identity.mfa_enabled
        if enrolling and self.state == "active":
            raise PanelRedirect(ENROL_PATH)
        if not enrolling and self.state == "enrolling":
            raise PanelRedirect("/admin")
        if not role_allows(identity.role, self.permission):
            raise PanelForbidden("Your role does not allow this page.")
        token = session_csrf_token(secret_key(services), identity.panel_session.id)
        if request.method not in SAFE_METHODS:
            reason = cross_site(request, services)
            if reason is not None:
                refusal_event(session, services, request, AuditAction.PANEL_ORIGIN_REFUSED, identity.user.id,
                              reason=reason)  # fmt: skip
                await session.commit()
                raise PanelForbidden(CROSS_SITE_REFUSED)
            if not await check_csrf(request, token):
                refusal_event(session, services, request, AuditAction.PANEL_CSRF_REFUSED, identity.user.id)
                await session.commit()
                raise PanelForbidden(CSRF_REFUSED)
        window = timedelta(seconds=services.settings.panel_reauth_window_seconds)
        if self.fresh and not is_fresh(identity.panel_session.reauthenticated_at, services.clock.now(), window):
            raise PanelRedirect(f"{REAUTH_PATH}?{urlencode({'next': self.back})}")
        return PanelPrincipal(identity=identity, csrf_token=token)


def panel_require(permission: Permission, *, fresh: bool = False, back: str = DASHBOARD) -> Any:
    """``Annotated[PanelPrincipal, panel_require(Permission.x)]``: the panel's counterpart of ``require``.

    ``fresh=True`` (destructive actions) sends a session without a recent password + TOTP to ``/admin/reauth``,
    which returns to ``back``.
    """
    return Depends(PanelRequirement(permission, fresh=fresh, back=back))


def panel_enrolment() -> Any:
    """Only a session still enrolling its second factor (the enrolment pages)."""
    return Depends(PanelRequirement(Permission.profile_own, state="enrolling"))


def panel_session_active() -> Any:
    """Any enrolled panel session, whatever its role (the re-authentication page)."""
    return Depends(PanelRequirement(Permission.profile_own))


def panel_session_any() -> Any:
    """Any live panel session, enrolling or not (sign-out)."""
    return Depends(PanelRequirement(Permission.profile_own, state="any"))
