"""Panel pages: dashboard, users (role change, disable, revoke: each after a fresh re-auth) and the audit log.

Thin routes: ``panel_require`` checks the session, the permission, (on POST) the origin and CSRF token, and
(``fresh=True``) a password + TOTP within the re-authentication window.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query
from sqlalchemy.exc import IntegrityError
from starlette.responses import RedirectResponse, Response

from torrent_streamer.auth.dependencies import AuthDep, MetaDep
from torrent_streamer.auth.permissions import Permission, Role
from torrent_streamer.core.deps import ServicesDep, SessionDep
from torrent_streamer.core.errors import AppError
from torrent_streamer.torrents.runtime import ENGINE_KEY
from torrent_streamer.web.dependencies import WebDep
from torrent_streamer.web.panel import admin_service, repository
from torrent_streamer.web.panel.dependencies import PanelPrincipal, panel_require
from torrent_streamer.web.panel.figures import active_count

router = APIRouter(prefix="/admin", include_in_schema=False)
PAGE_SIZE = 50
# Messages shown after a redirect: chosen by a fixed key, never echoed from the query string.
NOTICES = {
    "role-changed": "The role was changed; the user signs in again.",
    "disabled": "The account is disabled and its sessions are ended.",
    "enabled": "The account is enabled.",
    "revoked": "The user's sessions are revoked.",
    "key-rotated": "A new signing key signs from now on; tokens signed by the old one stay valid until it is retired.",
}
ERRORS = {
    "reauthentication-failed": "Re-authentication failed: check your password and code.",
    "own-account": "Use another administrator account to change your own account.",
    "not-found": "No such user.",
    "rate-limited": "Too many attempts; wait a minute.",
}

Moderator = Annotated[PanelPrincipal, panel_require(Permission.catalog_moderate)]
UsersAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_users)]
# Destructive: also password + TOTP within the re-authentication window (SR-2.9).
FreshUsersAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_users, fresh=True, back="/admin/users")]
FreshAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_users, fresh=True, back="/admin")]
AuditAdmin = Annotated[PanelPrincipal, panel_require(Permission.admin_audit)]


def base_context(principal: PanelPrincipal, title: str, section: str) -> dict[str, object]:
    return {"title": title, "section": section, "csrf_token": principal.csrf_token, "me": principal.identity.user,
            "role": principal.identity.role.value, "can": principal.can}  # fmt: skip


def _back_to_users(key: str, *, error: bool = False) -> Response:
    return RedirectResponse(f"/admin/users?{'error' if error else 'notice'}={key}", status_code=303)


@router.get("")
async def panel_dashboard(
    web: WebDep, session: SessionDep, services: ServicesDep, principal: Moderator,
    notice: Annotated[str | None, Query(max_length=64)] = None,
    error: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    if not principal.can[Permission.admin_users]:  # moderators see moderation only
        return RedirectResponse("/admin/moderation", status_code=303)
    context = base_context(principal, "Dashboard", "dashboard")
    context.update(notice=NOTICES.get(notice or ""), error=error and "The key was not rotated; try again.")
    engine = services.extras.get(ENGINE_KEY)
    context["engine"] = engine.stats() if engine is not None else None
    # from the listed torrents, like the Torrents page (stats() skips torrents without a status yet)
    context["active_torrents"] = active_count(engine.list_status()) if engine is not None else 0
    context["users_count"] = await repository.count_users(session)
    context["events"] = await repository.recent_security_events(session)
    return web.render("panel/dashboard.html", context)


@router.get("/users")
async def panel_users(
    web: WebDep, session: SessionDep, principal: UsersAdmin,
    q: Annotated[str | None, Query(max_length=200)] = None, page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    notice: Annotated[str | None, Query(max_length=64)] = None,
    error: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    users = await repository.search_users(session, q, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    context = base_context(principal, "Users", "users")
    context.update(
        users=users[:PAGE_SIZE], q=q or "", page=page, has_next=len(users) > PAGE_SIZE, roles=[r.value for r in Role],
        notice=NOTICES.get(notice or ""), error=ERRORS.get(error or "", "The action failed.") if error else None,
    )  # fmt: skip
    return web.render("panel/users.html", context)


@router.post("/users/{user_id}/role")
async def panel_change_role(
    user_id: uuid.UUID, auth: AuthDep, meta: MetaDep, session: SessionDep, principal: FreshUsersAdmin,
    role: Annotated[Role, Form()],
) -> Response:  # fmt: skip
    try:
        await admin_service.change_role(auth, session, meta, principal.identity, user_id, role=role)
    except AppError as exc:
        await session.rollback()
        return _back_to_users(exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _back_to_users("role-changed")


@router.post("/users/{user_id}/disable")
async def panel_disable_user(
    user_id: uuid.UUID, auth: AuthDep, meta: MetaDep, session: SessionDep, principal: FreshUsersAdmin,
    disabled: Annotated[bool, Form()],
) -> Response:  # fmt: skip
    try:
        await admin_service.set_disabled(auth, session, meta, principal.identity, user_id, disabled=disabled)
    except AppError as exc:
        await session.rollback()
        return _back_to_users(exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _back_to_users("disabled" if disabled else "enabled")


@router.post("/users/{user_id}/revoke")
async def panel_revoke_sessions(
    user_id: uuid.UUID, auth: AuthDep, meta: MetaDep, session: SessionDep, principal: FreshUsersAdmin
) -> Response:
    try:
        await admin_service.revoke_sessions(auth, session, meta, principal.identity, user_id)
    except AppError as exc:
        await session.rollback()
        return _back_to_users(exc.slug_override or exc.slug, error=True)
    await session.commit()
    return _back_to_users("revoked")


@router.post("/keys/rotate")
async def panel_rotate_signing_key(
    auth: AuthDep, meta: MetaDep, session: SessionDep, principal: FreshAdmin
) -> Response:
    """A new JWT signing key, like ``torrent-streamer keys rotate`` (destructive: fresh re-auth)."""
    try:
        await admin_service.rotate_signing_key(auth, session, meta, principal.identity)
        await session.commit()
    except IntegrityError:  # another instance rotated at the same moment: nothing was written here
        await session.rollback()
        return RedirectResponse("/admin?error=key-race", status_code=303)
    await auth.keyring.reload()
    return RedirectResponse("/admin?notice=key-rotated", status_code=303)


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@router.get("/audit")
async def panel_audit(
    web: WebDep, session: SessionDep, principal: AuditAdmin,
    action: Annotated[str | None, Query(max_length=64)] = None, actor: Annotated[uuid.UUID | None, Query()] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:  # fmt: skip
    until_day = _day(until)
    events = await repository.audit_page(
        session, action=action or None, actor_id=actor, since=_day(since),
        until=until_day + timedelta(days=1) if until_day else None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
    )  # fmt: skip
    context = base_context(principal, "Audit log", "audit")
    filters = {"action": action or "", "actor": str(actor) if actor else "", "since": since or "", "until": until or ""}
    context.update(events=events[:PAGE_SIZE], filters=filters, page=page, has_next=len(events) > PAGE_SIZE)
    return web.render("panel/audit.html", context)
