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


class MfaStateExport(Strict):
    """The second factor's state; never the TOTP secret or recovery codes themselves."""

    enabled: bool
    enrolment_pending: bool  # a secret was set up but not confirmed yet
    recovery_codes_remaining: int
    recovery_codes_used: int


class LibraryItemExport(Strict):
    id: uuid.UUID
    name: str
    info_hash: str
    added_at: datetime


class WatchPositionExport(Strict):
    torrent_id: uuid.UUID
    torrent_name: str
    info_hash: str
    file_index: int
    position_seconds: float
    duration_seconds: float | None
    updated_at: datetime


class CatalogSubmissionExport(Strict):
    id: uuid.UUID
    title: str
    info_hash: str
    status: str
    created_at: datetime


class CatalogReportExport(Strict):
    entry_id: uuid.UUID
    reason: str
    comment: str | None
    created_at: datetime


class PersonalDataExport(Strict):
    """Everything kept about the caller (SR-4.5)."""

    profile: UserPublic
    mfa: MfaStateExport
    sessions: list[SessionExport]
    library: list[LibraryItemExport]
    watch_history: list[WatchPositionExport]
    catalog_submissions: list[CatalogSubmissionExport]
    catalog_reports: list[CatalogReportExport]
    security_events: list[AuditEventExport]
    other: dict[str, list[dict[str, Any]]]  # contributions of further domains (users/export.py)
