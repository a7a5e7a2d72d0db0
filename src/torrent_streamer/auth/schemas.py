"""Request and response models of ``/api/v1/auth`` (strict, unknown fields refused, bounded)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Email = Annotated[str, StringConstraints(min_length=3, max_length=320)]
PasswordIn = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Code = Annotated[str, StringConstraints(min_length=6, max_length=32)]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
OpaqueToken = Annotated[str, StringConstraints(min_length=16, max_length=256)]
JwtToken = Annotated[str, StringConstraints(min_length=16, max_length=4096)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UserCreate(Strict):
    email: Email
    password: PasswordIn
    display_name: DisplayName | None = None


class RegisterResult(Strict):
    """Identical for a new and an already registered e-mail (no account enumeration)."""

    email: str
    display_name: str | None
    detail: str


class LoginRequest(Strict):
    email: Email
    password: PasswordIn


class TokenResponse(Strict):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type name, not a secret
    expires_in: int
    refresh_token: str


class MfaChallengeResponse(Strict):
    mfa_required: Literal[True] = True
    mfa_token: str


class MfaVerifyRequest(Strict):
    mfa_token: JwtToken
    code: Code


class RefreshRequest(Strict):
    refresh_token: OpaqueToken


class SessionPublic(Strict):
    id: uuid.UUID
    device: str | None
    created_at: datetime
    last_used_at: datetime
    current: bool


class Reauthentication(Strict):
    """Sensitive operations carry the current password, and a code when MFA is enrolled (SR-2.9)."""

    current_password: PasswordIn
    code: Code | None = None


class PasswordChange(Reauthentication):
    new_password: PasswordIn


class TotpSetupResponse(Strict):
    secret: str
    otpauth_uri: str


class TotpEnableRequest(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]


class RecoveryCodesResponse(Strict):
    recovery_codes: list[str] = Field(description="Shown once; each code works once.")


class Jwk(Strict):
    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str


class JwksResponse(Strict):
    keys: list[Jwk]


class WebTokenResponse(Strict):
    """The web client's tokens: the refresh token travels only in the HttpOnly cookie, never in JSON."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type name, not a secret
    expires_in: int
