"""Errors of the auth domain (problem types under ``urn:torrent-streamer:problem:``).

``RecordedFailure`` errors leave an audit trail or a counter: the route commits before raising.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from torrent_streamer.core.errors import Conflict, Forbidden, RateLimited, Unauthorized, wait_phrase


class RecordedFailure(Exception):
    """Mixin: the failure wrote audit/back-off rows that must be committed despite the error."""


@asynccontextmanager
async def commit_recorded_failures(session: AsyncSession) -> AsyncIterator[None]:
    """Routes wrap their service call: a ``RecordedFailure`` commits its audit trail, then propagates."""
    try:
        yield
    except RecordedFailure:
        await session.commit()
        raise


class InvalidCredentials(RecordedFailure, Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("Invalid e-mail or password.")


class AccountLocked(RecordedFailure, RateLimited):
    slug, title = "login-locked", "Too many failed sign-ins"

    def __init__(self, retry_after: float) -> None:
        wait = wait_phrase(retry_after)
        super().__init__(retry_after, f"Too many failed sign-ins. Wait {wait}, then try again.")


class InvalidRefreshToken(RecordedFailure, Unauthorized):
    slug, title = "invalid-refresh-token", "Invalid refresh token"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid, expired or revoked.")


class RefreshSuperseded(RecordedFailure, Conflict):
    slug, title = "refresh-superseded", "Refresh token already rotated"

    def __init__(self) -> None:
        super().__init__(
            "This refresh token was rotated a moment ago by a concurrent request; use the tokens that request "
            "returned. The session is still valid."
        )


class InvalidMfaCode(RecordedFailure, Unauthorized):
    slug, title = "invalid-mfa-code", "Invalid authentication code"

    def __init__(self) -> None:
        super().__init__("The authentication code is invalid or was already used.")


class MfaRequired(Forbidden):
    slug, title = "mfa-required", "Multi-factor authentication required"

    def __init__(self) -> None:
        super().__init__("Enable multi-factor authentication (TOTP) before using privileged features.")


class ReauthenticationFailed(RecordedFailure, Forbidden):
    slug, title = "reauthentication-failed", "Re-authentication failed"

    def __init__(self, detail: str = "The current password or authentication code is wrong.") -> None:
        super().__init__(detail)


class InsufficientPermission(Forbidden):
    slug, title = "forbidden", "Forbidden"

    def __init__(self) -> None:
        super().__init__("You do not have permission for this action.")
