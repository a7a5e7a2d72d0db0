"""Routes of ``/api/v1/auth`` and ``/.well-known/jwks.json``: thin, one commit each."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy.exc import IntegrityError

from torrent_streamer.auth import mfa, repository, service
from torrent_streamer.auth.dependencies import AuthDep, MetaDep, public_route
from torrent_streamer.auth.errors import commit_recorded_failures
from torrent_streamer.auth.passwords import normalise_email
from torrent_streamer.auth.schemas import (
    JwksResponse,
    LoginRequest,
    MfaChallengeResponse,
    MfaVerifyRequest,
    PasswordChange,
    Reauthentication,
    RecoveryCodesResponse,
    RefreshRequest,
    RegisterResult,
    SessionPublic,
    TokenResponse,
    TotpEnableRequest,
    TotpSetupResponse,
    UserCreate,
)
from torrent_streamer.core.deps import SessionDep
from torrent_streamer.core.errors import NotFound, problem_responses
from torrent_streamer.users.dependencies import CurrentUser, OwnPrincipal

router = APIRouter(prefix="/auth", tags=["auth"])
jwks_router = APIRouter(tags=["auth"])

REGISTER_DETAIL = "If this address was not registered yet, the account is ready: sign in with it."
PUBLIC_ERRORS = problem_responses(401, 422, 429, 503)  # 503: the password-hashing queue is full
OWN_ERRORS = problem_responses(401, 403, 422, 429)


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[public_route()],
    responses=problem_responses(422, 429, 503),
)
async def register(body: UserCreate, auth: AuthDep, meta: MetaDep, session: SessionDep) -> RegisterResult:
    """Create an account. The answer is the same whether or not the e-mail was already registered."""
    try:
        email = await service.register(
            auth, session, meta, email=body.email, password=body.password, display_name=body.display_name
        )
        await session.commit()
    except IntegrityError:  # a concurrent registration of the same e-mail won: answer identically
        await session.rollback()
        email = normalise_email(body.email)
    return RegisterResult(email=email, display_name=body.display_name, detail=REGISTER_DETAIL)


@router.post("/login", dependencies=[public_route()], responses=PUBLIC_ERRORS)
async def login(
    body: LoginRequest, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> TokenResponse | MfaChallengeResponse:
    """Sign in with e-mail and password; MFA accounts get an ``mfa_token`` for ``/auth/mfa/verify``."""
    async with commit_recorded_failures(session):
        result = await service.login(auth, session, meta, email=body.email, password=body.password)
    await session.commit()
    if isinstance(result, service.MfaChallenge):
        return MfaChallengeResponse(mfa_token=result.mfa_token)
    return _tokens(result)


@router.post("/mfa/verify", dependencies=[public_route()], responses=PUBLIC_ERRORS)
async def mfa_verify(body: MfaVerifyRequest, auth: AuthDep, meta: MetaDep, session: SessionDep) -> TokenResponse:
    """Exchange the single-use ``mfa_token`` and a TOTP or recovery code for tokens."""
    async with commit_recorded_failures(session):
        pair = await mfa.complete_login(auth, session, meta, mfa_token=body.mfa_token, code=body.code)
    await session.commit()
    return _tokens(pair)


@router.post("/refresh", dependencies=[public_route()], responses=problem_responses(401, 409, 422, 429))
async def refresh(body: RefreshRequest, auth: AuthDep, meta: MetaDep, session: SessionDep) -> TokenResponse:
    """Rotate: a new pair, the presented token dies; reuse of a rotated token revokes the session."""
    async with commit_recorded_failures(session):
        pair = await service.refresh(auth, session, meta, refresh_token=body.refresh_token)
    await session.commit()
    return _tokens(pair)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[public_route()],
    responses=problem_responses(422, 429),
)
async def logout(body: RefreshRequest, auth: AuthDep, meta: MetaDep, session: SessionDep) -> Response:
    """Revoke the session of this refresh token (idempotent)."""
    await service.logout(auth, session, meta, refresh_token=body.refresh_token)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=OWN_ERRORS)
async def logout_all(principal: OwnPrincipal, auth: AuthDep, meta: MetaDep, session: SessionDep) -> Response:
    """Revoke every session of the caller, this one included."""
    await service.logout_all(auth, session, meta, user_id=principal.user_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sessions", responses=OWN_ERRORS)
async def list_sessions(principal: OwnPrincipal, auth: AuthDep, session: SessionDep) -> list[SessionPublic]:
    """The caller's live sessions (devices)."""
    rows = await repository.active_sessions_of(session, principal.user_id, auth.now())
    return [
        SessionPublic(
            id=row.id,
            device=row.device,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            current=row.id == principal.session_id,
        )
        for row in rows
    ]


@router.delete(
    "/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422)
)
async def revoke_session(
    session_id: uuid.UUID, principal: OwnPrincipal, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> Response:
    """Revoke one of the caller's sessions."""
    if not await service.revoke_own_session(auth, session, meta, user_id=principal.user_id, session_id=session_id):
        raise NotFound("No such active session.")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses=OWN_ERRORS)
async def change_password(
    body: PasswordChange, user: CurrentUser, principal: OwnPrincipal, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> Response:
    """Change the password (re-authentication); every other session is revoked."""
    async with commit_recorded_failures(session):
        await mfa.reauthenticate(auth, session, meta, user, password=body.current_password, code=body.code)
    await service.change_password(
        auth, session, meta, user=user, new_password=body.new_password, keep_session_id=principal.session_id
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/mfa/totp/setup", responses=problem_responses(401, 403, 409, 422, 429))
async def totp_setup(
    body: Reauthentication, user: CurrentUser, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> TotpSetupResponse:
    """Start TOTP enrolment (re-authentication): the secret and its ``otpauth://`` URI."""
    async with commit_recorded_failures(session):
        await mfa.reauthenticate(auth, session, meta, user, password=body.current_password, code=body.code)
    secret, uri = await mfa.setup_totp(auth, session, meta, user)
    await session.commit()
    return TotpSetupResponse(secret=secret, otpauth_uri=uri)


@router.post("/mfa/totp/enable", responses=problem_responses(401, 403, 409, 422, 429))
async def totp_enable(
    body: TotpEnableRequest, user: CurrentUser, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> RecoveryCodesResponse:
    """Confirm enrolment with a current code; returns ten one-time recovery codes (shown once)."""
    async with commit_recorded_failures(session):
        codes = await mfa.enable_totp(auth, session, meta, user, code=body.code)
    await session.commit()
    return RecoveryCodesResponse(recovery_codes=codes)


@router.post(
    "/mfa/totp/disable", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 409, 422, 429)
)
async def totp_disable(
    body: Reauthentication, user: CurrentUser, auth: AuthDep, meta: MetaDep, session: SessionDep
) -> Response:
    """Turn TOTP off (password and code)."""
    async with commit_recorded_failures(session):
        await mfa.reauthenticate(auth, session, meta, user, password=body.current_password, code=body.code)
    await mfa.disable_totp(auth, session, meta, user)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@jwks_router.get("/.well-known/jwks.json", dependencies=[public_route()], responses=problem_responses(429))
async def jwks(auth: AuthDep, response: Response) -> JwksResponse:
    """The public keys that verify access tokens (one per ``kid``)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return JwksResponse.model_validate(await auth.keyring.jwks())
