"""Panel sign-in (password, then TOTP or enrolment) and sign-out: thin routes over ``panel.service``.

The sign-in forms carry a CSRF token bound to a short-lived pre-session cookie (SR-6.1).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from torrent_streamer.auth import mfa
from torrent_streamer.auth.dependencies import AuthDep, MetaDep, public_route
from torrent_streamer.auth.errors import commit_recorded_failures
from torrent_streamer.core.deps import ServicesDep, SessionDep
from torrent_streamer.core.errors import AppError
from torrent_streamer.web.dependencies import WebDep
from torrent_streamer.web.panel import service
from torrent_streamer.web.panel.dependencies import (
    CROSS_SITE_REFUSED,
    PanelPrincipal,
    cross_site,
    panel_enrolment,
    panel_session_active,
    panel_session_any,
    secret_key,
)
from torrent_streamer.web.panel.errors import PanelForbidden
from torrent_streamer.web.panel.security import (
    ABSOLUTE_TIMEOUT,
    COOKIE_NAME,
    CSRF_FIELD,
    LOGIN_COOKIE_NAME,
    LOGIN_COOKIE_SECONDS,
    clear_cookie_header,
    cookie_header,
    login_csrf_token,
    new_token,
    safe_next,
    tokens_match,
)

router = APIRouter(prefix="/admin", include_in_schema=False)
Text = Annotated[str, Form(max_length=1024)]
CsrfField = Annotated[str, Form(alias=CSRF_FIELD, max_length=128)]
NextField = Annotated[str, Form(alias="next", max_length=256)]


def _login_nonce(request: Request) -> tuple[str, bool]:
    nonce = request.cookies.get(LOGIN_COOKIE_NAME)
    if nonce and 20 <= len(nonce) <= 64:
        return nonce, False
    return new_token(), True


def _check_login_csrf(request: Request, services: ServicesDep, presented: str) -> None:
    if cross_site(request, services) is not None:
        raise PanelForbidden(CROSS_SITE_REFUSED)
    nonce = request.cookies.get(LOGIN_COOKIE_NAME)
    if not nonce or not tokens_match(login_csrf_token(secret_key(services), nonce), presented):
        raise PanelForbidden("The sign-in form expired or was tampered with. Reload the page and try again.")


def _login_page(
    request: Request, web: WebDep, services: ServicesDep, *, next_path: str, error: str | None = None,
    status_code: int = 200, mfa_token: str | None = None,
) -> Response:  # fmt: skip
    nonce, fresh = _login_nonce(request)
    template = "panel/login_code.html" if mfa_token else "panel/login.html"
    response = web.render(
        template,
        {
            "title": "Sign in",
            "csrf_token": login_csrf_token(secret_key(services), nonce),
            "next": safe_next(next_path),
            "error": error,
            "mfa_token": mfa_token,
        },
        status_code=status_code,
    )
    if fresh:
        response.headers.append("set-cookie", cookie_header(LOGIN_COOKIE_NAME, nonce, LOGIN_COOKIE_SECONDS))
    return response


def _signed_in(cookie_token: str, location: str) -> Response:
    response = RedirectResponse(location, status_code=303)
    response.headers.append(
        "set-cookie", cookie_header(COOKIE_NAME, cookie_token, int(ABSOLUTE_TIMEOUT.total_seconds()))
    )
    response.headers.append("set-cookie", clear_cookie_header(LOGIN_COOKIE_NAME))
    return response


@router.get("/login", dependencies=[public_route()])
async def panel_login_form(request: Request, web: WebDep, services: ServicesDep, next: str = "/admin") -> Response:
    return _login_page(request, web, services, next_path=next)


@router.post("/login", dependencies=[public_route()])
async def panel_login(
    request: Request, web: WebDep, services: ServicesDep, auth: AuthDep, meta: MetaDep, session: SessionDep,
    email: Annotated[str, Form(max_length=320)], password: Text, csrf: CsrfField, next_path: NextField = "/admin",
) -> Response:  # fmt: skip
    _check_login_csrf(request, services, csrf)
    try:
        async with commit_recorded_failures(session):
            result = await service.sign_in_password(auth, session, meta, email=email, password=password)
    except AppError as exc:
        await session.rollback()
        return _login_page(request, web, services, next_path=next_path, error=exc.detail or exc.title,
                           status_code=exc.status)  # fmt: skip
    await session.commit()
    if result.mfa_token is not None:
        return _login_page(request, web, services, next_path=next_path, mfa_token=result.mfa_token)
    if result.cookie_token is None:  # pragma: no cover - the service returns one or the other
        raise PanelForbidden("Sign-in failed.")
    return _signed_in(result.cookie_token, "/admin/mfa/enrol")


@router.post("/login/code", dependencies=[public_route()])
async def panel_login_code(
    request: Request, web: WebDep, services: ServicesDep, auth: AuthDep, meta: MetaDep, session: SessionDep,
    mfa_token: Annotated[str, Form(max_length=4096)], code: Annotated[str, Form(max_length=64)], csrf: CsrfField,
    next_path: NextField = "/admin",
) -> Response:  # fmt: skip
    _check_login_csrf(request, services, csrf)
    try:
        async with commit_recorded_failures(session):
            cookie_token = await service.sign_in_code(auth, session, meta, mfa_token=mfa_token, code=code)
    except AppError as exc:
        await session.rollback()
        return _login_page(request, web, services, next_path="/admin", error=exc.detail or exc.title,
                           status_code=exc.status)  # fmt: skip
    await session.commit()
    return _signed_in(cookie_token, safe_next(next_path))


@router.get("/mfa/enrol")
async def panel_enrol_form(
    web: WebDep,
    auth: AuthDep,
    meta: MetaDep,
    session: SessionDep,
    principal: Annotated[PanelPrincipal, panel_enrolment()],
) -> Response:
    secret, uri = await mfa.setup_totp(auth, session, meta, principal.identity.user)
    await session.commit()
    context = {"title": "Set up two-factor sign-in", "csrf_token": principal.csrf_token, "totp_key": secret, "uri": uri,
               "error": None}  # fmt: skip
    return web.render("panel/enrol.html", context)


@router.post("/mfa/enrol")
async def panel_enrol(
    web: WebDep, auth: AuthDep, meta: MetaDep, session: SessionDep,
    principal: Annotated[PanelPrincipal, panel_enrolment()], code: Annotated[str, Form(max_length=64)],
) -> Response:  # fmt: skip
    try:
        async with commit_recorded_failures(session):
            cookie_token, codes = await service.finish_enrolment(auth, session, meta, principal.identity, code=code)
    except AppError as exc:
        await session.rollback()
        context = {"title": "Set up two-factor sign-in", "csrf_token": principal.csrf_token, "totp_key": None,
                   "uri": None, "error": exc.detail or exc.title}  # fmt: skip
        return web.render("panel/enrol.html", context, status_code=exc.status)
    await session.commit()
    response = web.render("panel/recovery_codes.html", {"title": "Recovery codes", "codes": codes})
    response.headers.append(
        "set-cookie", cookie_header(COOKIE_NAME, cookie_token, int(ABSOLUTE_TIMEOUT.total_seconds()))
    )
    return response


@router.get("/reauth")
async def panel_reauth_form(
    web: WebDep, principal: Annotated[PanelPrincipal, panel_session_active()], next: str = "/admin"
) -> Response:
    return _reauth_page(web, principal, next_path=next)


@router.post("/reauth")
async def panel_reauth(
    web: WebDep, auth: AuthDep, meta: MetaDep, session: SessionDep,
    principal: Annotated[PanelPrincipal, panel_session_active()], password: Text,
    code: Annotated[str, Form(max_length=64)], next_path: NextField = "/admin",
) -> Response:  # fmt: skip
    """Password + TOTP again: destructive actions are allowed for the re-authentication window (SR-2.9)."""
    try:
        async with commit_recorded_failures(session):
            await service.step_up(auth, session, meta, principal.identity, password=password, code=code)
    except AppError as exc:
        await session.rollback()
        return _reauth_page(web, principal, next_path=next_path, error=exc.detail or exc.title, status_code=exc.status)
    await session.commit()
    return RedirectResponse(safe_next(next_path), status_code=303)


def _reauth_page(
    web: WebDep, principal: PanelPrincipal, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    context = {"title": "Confirm it is you", "csrf_token": principal.csrf_token, "next": safe_next(next_path),
               "error": error}  # fmt: skip
    return web.render("panel/reauth.html", context, status_code=status_code)


@router.post("/logout")
async def panel_logout(
    auth: AuthDep, meta: MetaDep, session: SessionDep, principal: Annotated[PanelPrincipal, panel_session_any()]
) -> Response:
    await service.sign_out(auth, session, meta, principal.identity)
    await session.commit()
    response = RedirectResponse("/admin/login", status_code=303)
    response.headers.append("set-cookie", clear_cookie_header(COOKIE_NAME))
    return response
