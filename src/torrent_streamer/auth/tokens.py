"""Signed JWTs: 15-minute access tokens and the 5-minute, single-use ``mfa_token`` (SR-2.1).

Verification pins EdDSA, takes the key only from the server's own ring by ``kid``, requires
every claim and checks ``exp``/``iat`` against the app clock (so tests can freeze time).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from torrent_streamer.auth.keyring import ALGORITHM, KeyRing
from torrent_streamer.auth.permissions import Role
from torrent_streamer.core.config import Settings
from torrent_streamer.core.errors import Unauthorized

ACCESS_TYP = "at+jwt"
MFA_TYP = "mfa+jwt"
MFA_TOKEN_TTL_SECONDS = 300
LEEWAY_SECONDS = 10
MAX_TOKEN_LENGTH = 4096
ACCESS_CLAIMS = ("sub", "iat", "exp", "aud", "iss", "jti", "role", "sid")
MFA_CLAIMS = ("sub", "iat", "exp", "aud", "iss", "jti")


class InvalidToken(Unauthorized):
    slug, title = "invalid-token", "Invalid or expired token"

    def __init__(self, reason: str) -> None:
        super().__init__("The token is invalid or expired.")
        self.reason = reason  # for metrics and logs only; the client always sees the same body


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    role: Role
    session_id: uuid.UUID
    jti: str
    expires_at: int


@dataclass(frozen=True)
class MfaClaims:
    user_id: uuid.UUID
    jti: str
    expires_at: int


def mfa_audience(settings: Settings) -> str:
    return f"{settings.jwt_audience}:mfa"


async def _sign(keyring: KeyRing, claims: dict[str, Any], typ: str) -> str:
    key = await keyring.signing_key()
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ})


async def issue_access_token(
    keyring: KeyRing, settings: Settings, *, now: datetime, user_id: uuid.UUID, role: Role, session_id: uuid.UUID
) -> str:
    issued = int(now.timestamp())
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + settings.access_token_ttl_seconds,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "jti": secrets.token_urlsafe(16),
        "role": role.value,
        "sid": str(session_id),
    }
    return await _sign(keyring, claims, ACCESS_TYP)


async def issue_mfa_token(keyring: KeyRing, settings: Settings, *, now: datetime, user_id: uuid.UUID) -> str:
    issued = int(now.timestamp())
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + MFA_TOKEN_TTL_SECONDS,
        "aud": mfa_audience(settings),
        "iss": settings.jwt_issuer,
        "jti": secrets.token_urlsafe(16),
    }
    return await _sign(keyring, claims, MFA_TYP)


async def _verify(
    keyring: KeyRing, token: str, *, typ: str, audience: str, issuer: str, required: tuple[str, ...], now: datetime
) -> dict[str, Any]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("malformed") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("algorithm")
    if header.get("typ") != typ:
        raise InvalidToken("type")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 64:
        raise InvalidToken("kid")
    key = await keyring.verification_key(kid)
    if key is None:
        raise InvalidToken("unknown_kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": list(required), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidAudienceError:
        raise InvalidToken("audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("issuer") from None
    except jwt.MissingRequiredClaimError:
        raise InvalidToken("missing_claim") from None
    except jwt.PyJWTError:
        raise InvalidToken("signature") from None
    exp, iat = claims.get("exp"), claims.get("iat")
    if type(exp) is not int or type(iat) is not int:
        raise InvalidToken("claim_type")
    now_ts = now.timestamp()
    if now_ts >= exp + LEEWAY_SECONDS:
        raise InvalidToken("expired")
    if iat > now_ts + LEEWAY_SECONDS or iat >= exp:
        raise InvalidToken("future_iat")
    if not isinstance(claims.get("jti"), str) or not 8 <= len(claims["jti"]) <= 64:
        raise InvalidToken("claim_type")
    return claims


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise InvalidToken("claim_type")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidToken("claim_type") from None


async def verify_access_token(keyring: KeyRing, settings: Settings, token: str, *, now: datetime) -> AccessClaims:
    claims = await _verify(
        keyring,
        token,
        typ=ACCESS_TYP,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        required=ACCESS_CLAIMS,
        now=now,
    )
    try:
        role = Role(claims["role"])
    except (ValueError, TypeError):
        raise InvalidToken("claim_type") from None
    return AccessClaims(
        user_id=_uuid(claims["sub"]),
        role=role,
        session_id=_uuid(claims["sid"]),
        jti=claims["jti"],
        expires_at=claims["exp"],
    )


async def verify_mfa_token(keyring: KeyRing, settings: Settings, token: str, *, now: datetime) -> MfaClaims:
    claims = await _verify(
        keyring,
        token,
        typ=MFA_TYP,
        audience=mfa_audience(settings),
        issuer=settings.jwt_issuer,
        required=MFA_CLAIMS,
        now=now,
    )
    return MfaClaims(user_id=_uuid(claims["sub"]), jti=claims["jti"], expires_at=claims["exp"])
