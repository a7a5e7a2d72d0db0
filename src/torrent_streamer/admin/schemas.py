"""Models of the admin API: user listing/changes and the audit log (no secrets, no hashes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from torrent_streamer.auth.permissions import Role
from torrent_streamer.auth.schemas import Reauthentication, Strict


class AdminUserPublic(Strict):
    id: uuid.UUID
    email: str
    display_name: str | None
    role: str
    disabled: bool
    mfa_enabled: bool
    created_at: datetime


class UserPage(Strict):
    items: list[AdminUserPublic]
    next_cursor: str | None


class AdminUserUpdate(Reauthentication):
    """Role and/or disabled flag; the acting admin re-authenticates (password + code)."""

    role: Annotated[Role, Field(strict=False)] | None = None  # JSON strings validate into the enum
    disabled: bool | None = None


class AuditEventPublic(Strict):
    id: uuid.UUID
    created_at: datetime
    action: str
    outcome: str
    actor_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditPage(Strict):
    items: list[AuditEventPublic]
    next_cursor: str | None
