"""The web client's session transport (``/api/v1/auth/web/…``): the refresh token lives in an HttpOnly cookie.

The browser page never sees the refresh token, so an injected script cannot steal it; the access
token stays in the page's memory. Rotation, reuse detection and revocation are the accounts
service's, unchanged: only the transport differs from ``/auth/refresh``. The cookie is
``__Secure-ts_refresh; Path=/api/v1/auth/web; HttpOnly; Secure; SameSite=Strict``; every route here
also needs the ``X-TS-CSRF: 1`` header (a cross-site form cannot send it, and a cross-origin fetch
with it needs a CORS preflight we refuse) and an ``Origin`` of this service or a configured origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse

from torrent_streamer.auth import mfa, service
from torrent_streamer.auth.dependencies import AuthDep, MetaDep, public_route
from torrent_streamer.auth.errors import commit_recorded_failures
from torrent_streamer.auth.schemas import LoginRequest, MfaChallengeResponse, MfaVerifyRequest, WebTokenResponse
from torrent_streamer.core.deps import SessionDep, SettingsDep
from torrent_streamer.core.errors import AppError, Forbidden, Unauthorized, problem_responses

WEB_AUTH_PATH = "/api/v1/auth/web"
COOKIE = "__Secure-ts_refresh"
CSRF_HEADER = "x-ts-csrf"
MIN_TOKEN, MAX_TOKEN = 16, 256  # the bounds of a refresh token (schemas.OpaqueToken)
ERRORS = problem_responses(401, 403, 409, 422, 429)


class CsrfRefused(Forbidden):
    slug, title = "csrf-refused", "Request refused"


class SignedOut(Unauthorized):
    slug, title = "signed-out", "Signed out"


async def same_origin(request: Request, settings: SettingsDep) -> None:
    """The CSRF guard of every cookie route: the custom header and a trusted ``Origin``."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise CsrfRefused("This request must come from the web app.")
    origin = request.headers.get("origin", "")
    if origin in settings.cors_origins:
        return
    if not origin or urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRefused("This request must come from the web app's own page.")


router = APIRouter(
    prefix="/auth/web", tags=["auth"], dependencies=[public_route(), Depends(same_origin)], responses=ERRORS
)


def cookie_header(token: str, max_age: int) -> str:
    return f"{COOKIE}={token}; Path={WEB_AUTH_PATH}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"


def clear_cookie_header() -> str:
    return cookie_header("", 0)


def with_cookie(pair: service.TokenPair, settings: SettingsDep) -> JSONResponse:
    body = WebTokenResponse(access_token=pair.access_token, expires_in=pair.expires_in)
    response = JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    response.headers["set-cookie"] = cookie_header(pair.refresh_token, settings.refresh_absolute_ttl_seconds)
    return response


@router.post("/login", response_model=WebTokenResponse | MfaChallengeResponse)
async def web_login(
    body: LoginRequest, auth: AuthDep, meta: MetaDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Sign in; the refresh token is set as an HttpOnly cookie (MFA accounts get an ``mfa_token`` first)."""
    async with commit_recorded_failures(session):
        result = await service.login(auth, session, meta, email=body.email, password=body.password)
    await session.commit()
    if isinstance(result, service.MfaChallenge):
        return JSONResponse(MfaChallengeResponse(mfa_token=result.mfa_token).model_dump(mode="json"))
    return with_cookie(result, settings)


@router.post("/mfa/verify", response_model=WebTokenResponse)
async def web_mfa_verify(
    body: MfaVerifyRequest, auth: AuthDep, meta: MetaDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Second step of the web sign-in: the code; the refresh token is set as an HttpOnly cookie."""
    async with commit_recorded_failures(session):
        pair = await mfa.complete_login(auth, session, meta, mfa_token=body.mfa_token, code=body.code)
    await session.commit()
    return with_cookie(pair, settings)


@router.post("/refresh", response_model=WebTokenResponse)
async def web_refresh(
    request: Request, auth: AuthDep, meta: MetaDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """Rotate the cookie's refresh token: a new access token and a new cookie (409: another tab just did)."""
    token = request.cookies.get(COOKIE, "")
    if not MIN_TOKEN <= len(token) <= MAX_TOKEN:
        raise SignedOut("You are signed out.", headers={"set-cookie": clear_cookie_header()})
    try:
        async with commit_recorded_failures(session):
            pair = await service.refresh(auth, session, meta, refresh_token=token)
    except AppError as exc:
        if exc.status == status.HTTP_401_UNAUTHORIZED:  # revoked, expired or reused: forget the cookie
            exc.headers["set-cookie"] = clear_cookie_header()
        raise
    await session.commit()
    return with_cookie(pair, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def web_logout(request: Request, auth: AuthDep, meta: MetaDep, session: SessionDep) -> Response:
    """Revoke the cookie's session (idempotent) and clear the cookie."""
    token = request.cookies.get(COOKIE, "")
    if MIN_TOKEN <= len(token) <= MAX_TOKEN:
        await service.logout(auth, session, meta, refresh_token=token)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"set-cookie": clear_cookie_header()})
