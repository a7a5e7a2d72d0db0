"""Request and response models of ``/api/v1/me``: exactly the fields a client needs (SR-5.5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from torrent_streamer.auth.schemas import Code, DisplayName, Email, PasswordIn, Reauthentication, Strict


class UserPublic(Strict):
    id: uuid.UUID
    email: str
    display_name: str | None
    role: str
    mfa_enabled: bool
    created_at: datetime


class UserUpdate(Strict):
    """``display_name`` alone needs nothing more; changing ``email`` needs re-authentication."""

    display_name: DisplayName | None = None
    email: Email | None = None
    current_password: PasswordIn | None = None
    code: Code | None = None


class AccountDeletion(Reauthentication):
    pass


class SessionExport(Strict):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    revoked_at: datetime | None
    device: str | None
    ip: str | None


class AuditEventExport(Strict):
    created_at: datetime
    action: str
    outcome: str
    ip: str | None
    user_agent: str | None


class PersonalDataExport(Strict):
    profile: UserPublic
    sessions: list[SessionExport]
    security_events: list[AuditEventExport]
    other: dict[str, list[dict[str, Any]]]
