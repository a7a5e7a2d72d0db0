"""Personal data held by other domains: each one lists its export contributor here (SR-4.5).

Deletion relies on ``ON DELETE CASCADE`` foreign keys to ``users.id``; data that must outlive the
account is anonymised by the domain's entry in ``deletion_hooks``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

ExportContributor = Callable[[AsyncSession, uuid.UUID], Awaitable[list[dict[str, Any]]]]
DeletionHook = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]


def export_contributors() -> dict[str, ExportContributor]:
    """Further domains' data under ``other`` (``{"name": contributor}``); the library, watch
    history and catalog rows have their own typed fields in ``users/service.py``."""
    return {}


def deletion_hooks() -> list[DeletionHook]:
    """Run before the user row is deleted (in the same transaction)."""
    return []
